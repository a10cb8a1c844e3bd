//! The `wallet-auth` binary: see [`wallet_auth::cli`]. The one place that loads a `.env` file
//! into the process environment (variables already set win); the library reads neither.

fn main() -> std::process::ExitCode {
    // A missing `.env` is the normal case.
    let _ = dotenvy::dotenv();
    wallet_auth::cli::main()
}
