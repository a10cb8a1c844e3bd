//! Rebuilds the crate when the embedded PostgreSQL migrations change (`sqlx::migrate!` reads
//! the `migrations/` directory at compile time).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
