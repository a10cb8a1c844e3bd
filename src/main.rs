//! The `wallet-auth` binary: see [`wallet_auth::cli`]. The one place that loads a `.env` file
//! into the process environment (variables already set win); the library reads neither.

/// The allocator: mimalloc (per-thread heaps) unless built without the `mimalloc` feature.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // A missing `.env` is the normal case.
    let _ = dotenvy::dotenv();
    wallet_auth::cli::main()
}
