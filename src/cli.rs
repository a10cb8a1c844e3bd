//! The command line: `serve` (the default), `verify`, `user add|remove`, `keys rotate`,
//! `config check`, `health`, `migrate`.

use std::io::Read as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::session::accounts::AccountError;

use crate::config::{Config, LogFormat, StoreConfig};
use crate::http::{shutdown_signal, AuthState, Server};

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
    /// The signing keys of the tokens for other services.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Ask a running server's `GET /health` (for container health checks, where no HTTP client
    /// is installed): exit 0 when it answers 200, 1 otherwise.
    Health {
        /// `host:port` of the server; default: `BIND_ADDR`, with a wildcard address replaced
        /// by loopback.
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
    },
    /// Apply the PostgreSQL schema migrations of `DATABASE_URL` and exit (the server also
    /// applies them at start-up).
    Migrate,
    /// Accounts.
    Account {
        #[command(subcommand)]
        action: AccountAction,
    },
}

#[derive(Debug, Subcommand)]
enum AccountAction {
    /// Show or change an account's roles (live sessions get them within 60 s); prints the
    /// account id and its stored roles.
    Roles {
        /// An account id, or `chain:address` of one of its wallets (`ethereum:0x…`,
        /// `solana:<base58>`).
        account: String,
        /// A role to add (repeatable).
        #[arg(long = "add")]
        add: Vec<String>,
        /// A role to take off (repeatable).
        #[arg(long = "remove")]
        remove: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum UserAction {
    /// Add a user, or replace an existing user's password (which ends that user's sessions);
    /// the password is read from standard input.
    Add { name: String },
    /// Remove a user and end that user's sessions.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Rotate: the next key (already published in the JWKS) signs from now on, the current key
    /// is retired (published until every token it signed has expired), a new next key is
    /// published. Running servers switch within `TOKEN_KEYS_CACHE` (at most 60 s). Refused
    /// while the next key has been published for less than 6 minutes, unless `--force`.
    Rotate {
        /// Rotate even if the next key was published only just now (verifiers holding an
        /// older JWKS must fetch it again before they accept the new key's tokens).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Validate the configuration and print it with secrets masked.
    Check {
        /// Also connect to the store and to every node of `ETH_RPC_URLS`, and say which
        /// answered; exit 1 when the store does not answer or a node serves another chain.
        #[arg(long)]
        probe: bool,
    },
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
            action: ConfigAction::Check { probe },
        } => match config_from_env() {
            Ok(c) => {
                for line in c.masked_lines() {
                    println!("{line}");
                }
                println!("configuration ok");
                if probe {
                    with_runtime(|| probe_services(c))
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => config_error(&e),
        },
        Command::Health { addr } => health(addr),
        Command::Serve => with_runtime(serve),
        Command::User { action } => with_runtime(|| user(action)),
        Command::Keys {
            action: KeysAction::Rotate { force },
        } => with_runtime(|| rotate_keys(force)),
        Command::Migrate => with_runtime(migrate),
        Command::Account {
            action:
                AccountAction::Roles {
                    account,
                    add,
                    remove,
                },
        } => with_runtime(|| account_roles(account, add, remove)),
    }
}

/// `GET /health` over a plain socket, bounded to two seconds in all.
fn health(addr: Option<std::net::SocketAddr>) -> ExitCode {
    use std::io::Write as _;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpStream};
    use std::time::Duration;
    let mut addr = match addr {
        Some(a) => a,
        None => match config_from_env() {
            Ok(c) => c.http.bind_addr,
            Err(e) => return config_error(&e),
        },
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let limit = Duration::from_secs(2);
    let answer = (|| -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&addr, limit)?;
        stream.set_read_timeout(Some(limit))?;
        stream.set_write_timeout(Some(limit))?;
        write!(
            stream,
            "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut head = [0u8; 64];
        let n = stream.read(&mut head)?;
        Ok(String::from_utf8_lossy(&head[..n]).into_owned())
    })();
    match answer {
        Ok(line) if line.starts_with("HTTP/1.1 200 ") => {
            println!("healthy");
            ExitCode::SUCCESS
        }
        Ok(line) => {
            let status = line.lines().next().unwrap_or("");
            eprintln!("wallet-auth: unhealthy: {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("wallet-auth: unhealthy: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration of the process environment (the binary's `main` has loaded `.env` into
/// it); the library itself never reads the environment.
fn config_from_env() -> Result<Config, crate::config::ConfigError> {
    Config::from_lookup(|k| std::env::var(k).ok())
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

/// Logs to standard output at `RUST_LOG` (default `info`): JSON lines with every field at the
/// top level (`LOG_FORMAT=json`), or text, coloured only when standard output is a terminal.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
    };
}

/// The store kind a configuration names, as `/ready` reports it.
fn kind_of(store: &StoreConfig) -> &'static str {
    match store {
        StoreConfig::Memory => "memory",
        StoreConfig::Redis(_) => "redis",
        StoreConfig::Postgres(_) => "postgres",
    }
}

/// `wallet-auth migrate`: applies the PostgreSQL migrations and exits.
async fn migrate() -> ExitCode {
    let config = match config_from_env() {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    let StoreConfig::Postgres(url) = &config.store.backend else {
        eprintln!("wallet-auth: configuration error: DATABASE_URL: required by `migrate`");
        return ExitCode::from(2);
    };
    match crate::store::postgres::migrate(
        url,
        config.store.timeout.max(std::time::Duration::from_secs(5)),
    )
    .await
    {
        Ok(()) => {
            println!("database schema is up to date");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wallet-auth: cannot migrate the database: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    let config = match config_from_env() {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    init_logging(config.log.format);
    if config.store.backend == StoreConfig::Memory {
        tracing::warn!("REDIS_URL and DATABASE_URL are unset: using the in-memory store; sessions are lost when the process stops and are not shared between instances");
    }
    if config.store.encryption_keys.is_empty() {
        tracing::warn!("SESSION_ENCRYPTION_KEY is unset: using a random key for this process");
    }
    if !config.cookies.secure {
        tracing::warn!(
            "COOKIE_SECURE=false: cookies are sent over plain HTTP; use only for local development"
        );
    }
    let store = match crate::store::open(&config).await {
        Ok(s) => s,
        Err(e) if matches!(config.store.backend, StoreConfig::Postgres(_)) => {
            tracing::error!(error = %e, "cannot open the PostgreSQL store");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            // Keep serving: /ready answers 503 and store-backed routes 503 store_unavailable
            // until the store answers (readiness probes expect exactly this).
            tracing::error!(
                error = %e,
                "cannot reach the session store: serving anyway, /ready answers 503 until it answers; retrying in the background"
            );
            Arc::new(crate::store::open_in_background(&config))
        }
    };
    let kind = store.kind();
    let (uri, domains) = (config.signin.uri.clone(), config.signin.domains.clone());
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
        let url = browser_url(&uri, &domains);
        tracing::info!(
            %addr,
            %url,
            store = kind,
            "wallet-auth listening on {addr}: open {url} in a browser"
        );
    }
    match server.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// `config check --probe`: connects to the store and to every node, one line each. Each
/// attempt is bounded by `STORE_TIMEOUT` / `ETH_RPC_TIMEOUT`.
async fn probe_services(config: Config) -> ExitCode {
    use crate::contract_wallets::{ContractWallets, Probe};
    let mut ok = true;
    match &config.store.backend {
        StoreConfig::Memory => println!("store memory: in this process, nothing to reach"),
        StoreConfig::Redis(_) | StoreConfig::Postgres(_) => {
            let kind = kind_of(&config.store.backend);
            let answered = match crate::store::open(&config).await {
                Ok(store) => store.ping().await,
                Err(e) => Err(e),
            };
            match answered {
                Ok(()) => println!("store {kind}: answered"),
                Err(e) => {
                    println!("store {kind}: did not answer: {e}");
                    ok = false;
                }
            }
        }
    }
    let nodes = ContractWallets::from_config(&config.contract_wallets, None);
    for (chain_id, probe) in nodes.probe().await {
        match probe {
            Probe::Up => println!("node of chain {chain_id}: answered"),
            Probe::Down(reason) => println!("node of chain {chain_id}: did not answer: {reason}"),
            Probe::WrongChain(actual) => {
                println!("node of chain {chain_id}: answered, but serves chain {actual}");
                ok = false;
            }
        }
    }
    if ok {
        println!("probe ok");
        ExitCode::SUCCESS
    } else {
        println!("probe failed");
        ExitCode::FAILURE
    }
}

/// The address a browser should open: `AUTH_URI`'s scheme with the first of `AUTH_DOMAINS`
/// (the domain signed messages must name), so that sign-in works from the page opened.
#[must_use]
pub fn browser_url(uri: &str, domains: &[String]) -> String {
    let scheme = uri.split_once("://").map_or("http", |(s, _)| s);
    match domains.first() {
        Some(d) => format!("{scheme}://{d}/"),
        None => format!("{uri}/"),
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

/// The configuration and the shared store (Redis or PostgreSQL) that a command writes `what`
/// into: the in-memory store would forget it when the command ends. On failure, the exit code
/// (2 for a configuration that names no shared store or is invalid, 1 for a store that cannot
/// be opened) after saying why.
async fn shared_store(what: &str) -> Result<(Config, Arc<dyn crate::store::Store>), ExitCode> {
    let config = config_from_env().map_err(|e| config_error(&e))?;
    if config.store.backend == StoreConfig::Memory {
        eprintln!(
            "wallet-auth: {what} in the store; set REDIS_URL or DATABASE_URL (the in-memory store forgets them when this command ends)"
        );
        return Err(ExitCode::from(2));
    }
    match crate::store::open(&config).await {
        Ok(store) => Ok((config, store)),
        Err(e) => {
            eprintln!("wallet-auth: cannot open the session store: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// The accounts over the shared store (`what` says why a shared store is needed).
async fn accounts(what: &str) -> Result<crate::session::accounts::Accounts, ExitCode> {
    let (config, store) = shared_store(what).await?;
    Ok(crate::http::state::AuthState::new(config, store)
        .accounts()
        .clone())
}

async fn user(action: UserAction) -> ExitCode {
    let accounts = match accounts("users are kept").await {
        Ok(a) => a,
        Err(code) => return code,
    };
    match action {
        UserAction::Add { name } => {
            let mut password = String::new();
            if std::io::stdin().read_to_string(&mut password).is_err() {
                eprintln!("wallet-auth: cannot read the password from standard input");
                return ExitCode::from(2);
            }
            let password = password.trim_end_matches(['\r', '\n']);
            match accounts.set_password(&name, password).await {
                Ok(()) => {
                    println!("user {name} saved; any earlier sessions of {name} are ended");
                    ExitCode::SUCCESS
                }
                Err(AccountError::Store(e)) => {
                    eprintln!("wallet-auth: {e}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("wallet-auth: {e}");
                    ExitCode::from(2)
                }
            }
        }
        UserAction::Remove { name } => match accounts.remove_user(&name).await {
            Ok(true) => {
                println!("user {name} removed; their sessions are ended");
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

async fn account_roles(account: String, add: Vec<String>, remove: Vec<String>) -> ExitCode {
    let accounts = match accounts("accounts are kept").await {
        Ok(a) => a,
        Err(code) => return code,
    };
    let id = match accounts.find(&account).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            eprintln!("wallet-auth: no account {account}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("wallet-auth: {e}");
            return ExitCode::FAILURE;
        }
    };
    match accounts.change_roles(&id, None, &add, &remove).await {
        Ok(roles) => {
            println!(
                "{}",
                serde_json::json!({"accountId": id.as_str(), "roles": roles})
            );
            ExitCode::SUCCESS
        }
        Err(AccountError::Store(e)) => {
            eprintln!("wallet-auth: {e}");
            ExitCode::FAILURE
        }
        Err(AccountError::NotFound(why)) => {
            eprintln!("wallet-auth: {why}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("wallet-auth: {e}");
            ExitCode::from(2)
        }
    }
}

async fn rotate_keys(force: bool) -> ExitCode {
    use crate::session::tokens::TokenKeys;
    let (config, store) = match shared_store("the signing keys are kept").await {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let keys = TokenKeys::new(
        store,
        crate::session::crypto::KeyRing::from_config(&config.store.encryption_keys),
        Arc::new(crate::session::SystemClock),
        config.tokens.keys_cache,
        config.tokens.ttl,
    );
    match keys.rotate(force).await {
        Ok(r) => {
            println!(
                "{}",
                serde_json::json!({
                    "current": r.current,
                    "next": r.next,
                    "retired": r.retired,
                    "generated": r.generated,
                })
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wallet-auth: {e}");
            ExitCode::FAILURE
        }
    }
}
