//! Placeholder entry point exposing `wallet-auth verify` until the full command line lands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wallet_auth::cli_verify::{self, VerifyArgs};

#[derive(Parser, Debug)]
#[command(name = "wallet-auth", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a signed sign-in message offline.
    Verify(VerifyArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Verify(args) => cli_verify::run(args),
    }
}
