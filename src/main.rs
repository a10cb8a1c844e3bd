//! The `wallet-auth` binary: see [`wallet_auth::cli`].

fn main() -> std::process::ExitCode {
    wallet_auth::cli::main()
}
