//! The command line: `serve` (the default), `verify`, `user add|remove`, `config check`.

use std::io::Read as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat, StoreConfig};
use crate::http::{shutdown_signal, AuthState, Server};
use crate::session::user::UserAccounts;
use crate::store::{MemoryStore, RedisStore, Store};

/// wallet-auth: wallet-signature authentication server (EIP-4361 and Sign In With Solana).
#[derive(Debug, Parser)]
#[command(name = "wallet-auth", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Check a signed sign-in message offline, without a store.
    Verify(crate::cli_verify::VerifyArgs),
    /// Manage legacy username/password users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
enum UserAction {
    /// Add (or replace) a user; the password is read from standard input.
    Add { name: String },
    /// Remove a user.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Validate the configuration and print it with secrets masked.
    Check,
}

/// Entry point of the binary.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Verify(args) => crate::cli_verify::run(args),
        Command::Config {
            action: ConfigAction::Check,
        } => match Config::from_env() {
            Ok(c) => {
                for line in c.masked_lines() {
                    println!("{line}");
                }
                println!("configuration ok");
                ExitCode::SUCCESS
            }
            Err(e) => config_error(&e),
        },
        Command::Serve => with_runtime(serve),
        Command::User { action } => with_runtime(|| user(action)),
    }
}

fn config_error(e: &crate::config::ConfigError) -> ExitCode {
    eprintln!("wallet-auth: configuration error: {e}");
    ExitCode::from(2)
}

fn with_runtime<F, Fut>(f: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ExitCode>,
{
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f()),
        Err(e) => {
            eprintln!("wallet-auth: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Opens the configured store.
///
/// # Errors
/// The Redis store cannot be reached.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, crate::store::StoreError> {
    match &config.store {
        StoreConfig::Memory => Ok(Arc::new(MemoryStore::new())),
        StoreConfig::Redis(url) => Ok(Arc::new(
            RedisStore::connect(url, &config.redis_prefix, config.store_timeout).await?,
        )),
    }
}

async fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    init_logging(config.log_format);
    if config.store == StoreConfig::Memory {
        tracing::warn!("REDIS_URL is unset: using the in-memory store; sessions are lost when the process stops and are not shared between instances");
    }
    if config.keys_generated {
        tracing::warn!("SESSION_ENCRYPTION_KEY is unset: using a random key for this process");
    }
    if !config.cookie_secure {
        tracing::warn!(
            "COOKIE_SECURE=false: cookies are sent over plain HTTP; use only for local development"
        );
    }
    let store = match open_store(&config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the session store");
            return ExitCode::FAILURE;
        }
    };
    let kind = store.kind();
    let state = AuthState::new(config, store);
    if let Err(code) = check_nodes(&state).await {
        return code;
    }
    let server = match Server::bind(state).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot bind the listen address");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(addr) = server.addr() {
        tracing::info!(%addr, store = kind, "wallet-auth listening");
    }
    match server.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Start-up check of the contract-wallet nodes: each must serve the chain it is listed under
/// (otherwise exit 2); one that is down is a warning (EOA sign-in does not need it, and
/// `/ready` reports it).
async fn check_nodes(state: &AuthState) -> Result<(), ExitCode> {
    use crate::contract_wallets::Probe;
    for (chain_id, probe) in state.contract_wallets().probe().await {
        match probe {
            Probe::Up => tracing::info!(chain_id, "contract-wallet node is up"),
            Probe::Down(reason) => tracing::warn!(
                chain_id,
                %reason,
                "contract-wallet node is down: contract-wallet sign-in on this chain answers 503 verifier_unavailable until it answers"
            ),
            Probe::WrongChain(actual) => {
                eprintln!(
                    "wallet-auth: configuration error: ETH_RPC_URLS: the node listed for chain {chain_id} serves chain {actual}"
                );
                return Err(ExitCode::from(2));
            }
        }
    }
    Ok(())
}

async fn user(action: UserAction) -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    if config.store == StoreConfig::Memory {
        eprintln!("wallet-auth: users are kept in the store; set REDIS_URL (the in-memory store forgets them when this command ends)");
        return ExitCode::from(2);
    }
    let store = match open_store(&config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wallet-auth: cannot open the session store: {e}");
            return ExitCode::FAILURE;
        }
    };
    let users = UserAccounts::new(store);
    match action {
        UserAction::Add { name } => {
            let mut password = String::new();
            if std::io::stdin().read_to_string(&mut password).is_err() {
                eprintln!("wallet-auth: cannot read the password from standard input");
                return ExitCode::from(2);
            }
            let password = password.trim_end_matches(['\r', '\n']);
            match users.add(&name, password).await {
                Ok(()) => {
                    println!("user {name} saved");
                    ExitCode::SUCCESS
                }
                Err(crate::session::user::AccountError::Store(e)) => {
                    eprintln!("wallet-auth: {e}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("wallet-auth: {e}");
                    ExitCode::from(2)
                }
            }
        }
        UserAction::Remove { name } => match users.remove(&name).await {
            Ok(true) => {
                println!("user {name} removed");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("wallet-auth: no user {name}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("wallet-auth: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
