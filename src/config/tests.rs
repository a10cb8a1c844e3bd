#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Duration;

use super::*;

fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
}

#[test]
fn durations() {
    assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
    assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
    assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
    assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    assert!(parse_duration("2 weeks").is_err());
    assert!(parse_duration("h").is_err());
    assert!(parse_duration("99999999999999999999d").is_err());
}

#[test]
fn defaults_match_the_contract() {
    let c = Config::default();
    assert_eq!(c.http.bind_addr.to_string(), "127.0.0.1:8080");
    assert_eq!(c.signin.domains, vec!["localhost:8080"]);
    assert_eq!(c.signin.eth_chain_ids, EthChainIds::Any);
    assert_eq!(
        c.signin.solana_chain_ids,
        vec!["mainnet", "devnet", "testnet"]
    );
    assert_eq!(c.store.backend, StoreConfig::Memory);
    assert!(c.store.encryption_keys.is_empty());
    assert_eq!(c.sessions.ttl, Duration::from_secs(7200));
    assert_eq!(c.sessions.refresh_window, Duration::from_secs(1800));
    assert_eq!(c.sessions.max_lifetime, Duration::from_secs(7 * 86400));
    assert_eq!(c.sessions.max_per_wallet, 5);
    assert_eq!(c.signin.nonce_ttl, Duration::from_secs(300));
    assert_eq!(c.signin.clock_skew, Duration::from_secs(300));
    assert_eq!(c.sessions.binding, Binding::Device);
    assert!(!c.http.trust_proxy);
    assert!(c.cookies.secure);
    assert_eq!(c.cookies.same_site, SameSite::Lax);
    assert_eq!(c.limits.rate_limit_per_min, 60);
    assert!(c.ops.admin_token.is_none());
    assert_eq!(c.log.format, LogFormat::Pretty);
    c.validate().unwrap();
}

/// Every default of the table parses, and what a variable prints is what it reads back.
#[test]
fn the_table_reads_back_what_it_prints() {
    let default = Config::default();
    let from_nothing = with(&[]).unwrap();
    assert_eq!(
        default.masked_lines(),
        from_nothing.masked_lines(),
        "Config::default is the environment reader's result for an empty environment"
    );
    for var in vars() {
        if let Fallback::Text(text) = var.fallback {
            let mut c = Config::default();
            var.set(&mut c, text)
                .unwrap_or_else(|e| panic!("{}: its default {text:?}: {e}", var.name));
        }
        let key = "ab".repeat(32);
        let c = with(&[("SESSION_ENCRYPTION_KEY", &key)]).unwrap();
        if let Some(shown) = var.show(&c) {
            let mut again = c.clone();
            var.set(&mut again, &shown).unwrap();
            assert_eq!(var.show(&again), Some(shown), "{}", var.name);
        }
    }
    let names: Vec<&str> = vars().iter().map(|v| v.name).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "a variable is listed twice");
}

#[test]
fn bad_values_name_their_variable() {
    for (var, val) in [
        ("BIND_ADDR", "nowhere"),
        ("WALLET_SESSION_TTL", "2 hours"),
        ("NONCE_TTL", "0s"),
        ("ETH_CHAIN_IDS", "one"),
        ("SOLANA_CHAIN_IDS", "mainnet,solana:localnet"),
        ("SOLANA_CHAIN_IDS", "mainnet-beta"),
        ("SESSION_BINDING", "maybe"),
        ("COOKIE_SECURE", "perhaps"),
        ("COOKIE_SAMESITE", "loose"),
        ("RATE_LIMIT_PER_MIN", "-1"),
        ("PASSWORD_CHECKS_MAX", "0"),
        ("PASSWORD_CHECKS_MAX", "100000"),
        ("LOG_FORMAT", "xml"),
        ("MAX_SESSIONS_PER_WALLET", "0"),
        ("SESSION_ENCRYPTION_KEY", "abcd"),
        ("REDIS_URL", "http://x"),
        ("CORS_ORIGINS", "app.example.com"),
        ("CORS_ORIGINS", "https://app.example.com/"),
        ("CSRF_TRUSTED_ORIGINS", "app.example.com"),
        (
            "CSRF_TRUSTED_ORIGINS",
            "https://ok.example,https://app.example.com/",
        ),
        ("ADMIN_TOKEN", "short"),
        ("METRICS_TOKEN", "sixteen characters"),
        ("TOKEN_ISSUER", "a\u{7}b"),
        ("AUTH_DOMAINS", " , "),
    ] {
        let e = with(&[(var, val)]).unwrap_err();
        assert_eq!(e.var, var, "{var}={val}: {e}");
        assert!(e.to_string().starts_with(&format!("{var}: ")), "{e}");
    }
    let e = with(&[("REDIS_URL", "redis://127.0.0.1:6379")]).unwrap_err();
    assert_eq!(e.var, "SESSION_ENCRYPTION_KEY");
    let k = "33".repeat(32);
    let e = with(&[("SESSION_ENCRYPTION_KEY", &format!("{k},{k}"))]).unwrap_err();
    assert_eq!(e.var, "SESSION_ENCRYPTION_KEY");
}

/// `CORS_ORIGINS` and `CSRF_TRUSTED_ORIGINS` are two lists: an origin trusted for CSRF only
/// is not allowed CORS, and each list's errors name its own variable.
#[test]
fn cors_and_csrf_origins_stay_apart() {
    let c = with(&[
        ("CORS_ORIGINS", "https://app.example"),
        ("CSRF_TRUSTED_ORIGINS", "https://forms.example"),
    ])
    .unwrap();
    assert_eq!(c.origins.cors, vec!["https://app.example"]);
    assert_eq!(c.origins.csrf_trusted, vec!["https://forms.example"]);
    assert!(c.origins.csrf_trusts("https://app.example"));
    assert!(c.origins.csrf_trusts("https://forms.example"));
    assert!(!c.origins.csrf_trusts("https://evil.example"));
    let lines = c.masked_lines();
    assert!(
        lines.contains(&"CORS_ORIGINS=https://app.example".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"CSRF_TRUSTED_ORIGINS=https://forms.example".to_owned()),
        "{lines:?}"
    );
    let e = with(&[
        ("CORS_ORIGINS", "https://app.example"),
        ("CSRF_TRUSTED_ORIGINS", "forms.example"),
    ])
    .unwrap_err();
    assert_eq!(e.var, "CSRF_TRUSTED_ORIGINS", "{e}");
}

/// Keywords are matched without regard to case, every value is trimmed, names are exact.
#[test]
fn one_rule_for_text() {
    let c = with(&[
        ("SESSION_BINDING", " Strict "),
        ("LOG_FORMAT", "JSON"),
        ("COOKIE_SAMESITE", "NONE"),
        ("COOKIE_SECURE", "On"),
        ("TRUST_PROXY", "YES"),
        ("REDIS_PREFIX", " app: "),
        ("ADMIN_TOKEN", "  an-admin-token-of-some-length  "),
    ])
    .unwrap();
    assert_eq!(c.sessions.binding, Binding::Strict);
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.cookies.same_site, SameSite::None);
    assert!(c.http.trust_proxy);
    assert_eq!(c.store.redis_prefix, "app:");
    assert_eq!(
        c.ops.admin_token.as_ref().map(Secret::expose),
        Some("an-admin-token-of-some-length")
    );
    // Printed by their first name, lower case.
    assert!(c
        .masked_lines()
        .contains(&"SESSION_BINDING=strict".to_owned()));
    assert!(c.masked_lines().contains(&"TRUST_PROXY=true".to_owned()));
    // A name in another case is another variable.
    assert_eq!(
        with(&[("session_binding", "off")])
            .unwrap()
            .sessions
            .binding,
        Binding::Device
    );
}

/// A configuration built in code is checked like one read from the environment.
#[test]
fn validate_checks_a_configuration_built_in_code() {
    let mut c = Config::default();
    c.origins.csrf_trusted = vec!["forms.example".into()];
    assert_eq!(c.validate().unwrap_err().var, "CSRF_TRUSTED_ORIGINS");
    let mut c = Config::default();
    c.sessions.ttl = Duration::from_secs(400 * 86_400);
    assert_eq!(c.validate().unwrap_err().var, "WALLET_SESSION_TTL");
    let mut c = Config::default();
    c.ops.metrics_token = Some(Secret::new("has a space in it, sixteen+"));
    assert_eq!(c.validate().unwrap_err().var, "METRICS_TOKEN");
    let mut c = Config::default();
    c.store.backend = StoreConfig::Postgres("postgres://h/db".into());
    assert_eq!(c.validate().unwrap_err().var, "SESSION_ENCRYPTION_KEY");
    c.store.encryption_keys = EncryptionKeys::new(vec![[7; ENCRYPTION_KEY_LEN]]);
    c.validate().unwrap();
}

#[test]
fn database_url_selects_postgres() {
    let key = "ab".repeat(32);
    let url = "postgres://wa:hunter2@127.0.0.1:5432/wa?sslmode=disable&password=swordfish";
    let c = with(&[("DATABASE_URL", url), ("SESSION_ENCRYPTION_KEY", &key)]).unwrap();
    assert_eq!(c.store.backend, StoreConfig::Postgres(url.to_owned()));
    assert_eq!(c.store.prune_interval, Duration::from_secs(300));
    let shown = format!("{:?} {}", c.store.backend, c.masked_lines().join(" "));
    assert!(
        !shown.contains("hunter2") && !shown.contains("swordfish"),
        "{shown}"
    );
    assert!(
        shown.contains("DATABASE_URL=postgres://wa:****@127.0.0.1:5432/wa"),
        "{shown}"
    );
    // The key is required, as with Redis.
    let e = with(&[("DATABASE_URL", url)]).unwrap_err();
    assert_eq!(e.var, "SESSION_ENCRYPTION_KEY");
    // Not a PostgreSQL URL.
    let e = with(&[
        ("DATABASE_URL", "mysql://x"),
        ("SESSION_ENCRYPTION_KEY", &key),
    ])
    .unwrap_err();
    assert_eq!(e.var, "DATABASE_URL");
    // Both stores at once is a configuration error.
    let e = with(&[
        ("DATABASE_URL", url),
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("SESSION_ENCRYPTION_KEY", &key),
    ])
    .unwrap_err();
    assert_eq!(e.var, "DATABASE_URL");
    assert!(e
        .to_string()
        .contains("at most one of REDIS_URL and DATABASE_URL"));
    // The pruning interval is bounded.
    for bad in ["0s", "2d", "soon"] {
        let e = with(&[
            ("DATABASE_URL", url),
            ("SESSION_ENCRYPTION_KEY", &key),
            ("STORE_PRUNE_INTERVAL", bad),
        ])
        .unwrap_err();
        assert_eq!(e.var, "STORE_PRUNE_INTERVAL", "{bad}");
    }
}

/// Every variable with a duration range.
fn duration_vars() -> Vec<(&'static str, Duration, Duration)> {
    vars()
        .iter()
        .filter_map(|v| {
            let (min, max) = v.bounds.as_ref()?;
            // A count's bounds are bare integers; a duration's carry their unit.
            if max.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((v.name, parse_duration(min).ok()?, parse_duration(max).ok()?))
        })
        .collect()
}

#[test]
fn extreme_durations_are_config_errors() {
    let vars = duration_vars();
    assert_eq!(vars.len(), 15, "{vars:?}");
    for (var, min, max) in vars {
        for val in [
            "1000000000d",
            "18446744073709551615",
            "18446744073709551615ms",
            "99999999999999999999d",
            "3651d",
            "106751991167300d",
            "9223372036854775807s",
        ] {
            let e = with(&[(var, val)]).expect_err(&format!("{var}={val} accepted"));
            assert_eq!(e.var, var, "{var}={val}: {e}");
            assert!(!e.to_string().contains('\n'), "one line: {e}");
        }
        // The largest value each accepts is accepted (with its companions made to fit), and
        // one millisecond more is refused.
        let max_ms = format!("{}ms", max.as_millis());
        let over_ms = format!("{}ms", max.as_millis() + 1);
        let mut pairs = vec![(var, max_ms.clone())];
        match var {
            "WALLET_SESSION_TTL" => pairs.push(("WALLET_SESSION_MAX_LIFETIME", max_ms.clone())),
            "WALLET_SESSION_REFRESH_WINDOW" => {
                pairs.push(("WALLET_SESSION_TTL", max_ms.clone()));
                pairs.push(("WALLET_SESSION_MAX_LIFETIME", max_ms.clone()));
            }
            _ => {}
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        with(&pairs).unwrap_or_else(|e| panic!("{var}={max_ms} refused: {e}"));
        let e = with(&[(var, &over_ms)]).expect_err(&format!("{var}={over_ms} accepted"));
        assert_eq!(e.var, var);
        if !min.is_zero() {
            let under = format!("{}ms", min.as_millis() - 1);
            let e = with(&[(var, &under)]).expect_err(&format!("{var}={under} accepted"));
            assert_eq!(e.var, var);
        }
    }
}

#[test]
fn extreme_counts_are_config_errors() {
    for (var, val) in [
        ("MAX_SESSIONS_PER_WALLET", "1001"),
        ("MAX_SESSIONS_PER_WALLET", "18446744073709551616"),
        ("RATE_LIMIT_PER_MIN", "1000001"),
        ("RATE_LIMIT_PER_MIN", "4294967296"),
        ("MAX_BODY_BYTES", "1048577"),
        ("MAX_BODY_BYTES", "18446744073709551615"),
        ("MAX_CONNECTIONS", "0"),
        ("MAX_CONNECTIONS", "1000001"),
        ("MAX_CONNECTIONS_PER_IP", "0"),
        ("MAX_CONNECTIONS_PER_IP", "1025"),
    ] {
        let e = with(&[(var, val)]).expect_err(&format!("{var}={val} accepted"));
        assert_eq!(e.var, var, "{var}={val}: {e}");
    }
    let c = with(&[("MAX_CONNECTIONS", "10")]).unwrap();
    assert_eq!(
        (c.http.max_connections, c.http.max_connections_per_ip),
        (10, 10)
    );
    let c = Config::default();
    assert_eq!(
        (c.http.max_connections, c.http.max_connections_per_ip),
        (1024, 64)
    );
    assert_eq!(c.http.header_timeout, Duration::from_secs(10));
    assert_eq!(c.http.idle_timeout, Duration::from_secs(60));
    assert_eq!(c.http.request_timeout, Duration::from_secs(30));
    assert_eq!(c.http.shutdown_timeout, Duration::from_secs(10));
}

#[test]
fn clamping_a_configuration_built_in_code() {
    let mut c = Config::default();
    c.sessions.ttl = Duration::from_secs(400 * 86_400);
    c.http.max_connections = 10;
    c.limits.rate_limit_per_min = u32::MAX;
    let mut changed = c.clamp_to_bounds();
    changed.sort_unstable();
    assert_eq!(
        changed,
        vec![
            "MAX_CONNECTIONS_PER_IP",
            "RATE_LIMIT_PER_MIN",
            "WALLET_SESSION_TTL"
        ]
    );
    assert_eq!(c.sessions.ttl, Duration::from_secs(365 * 86_400));
    assert_eq!(c.http.max_connections_per_ip, 10);
    assert!(Config::default().clamp_to_bounds().is_empty());
}

#[test]
fn proxy_hops_and_uri_scheme() {
    for (var, val) in [
        ("TRUST_PROXY_HOPS", "0"),
        ("TRUST_PROXY_HOPS", "17"),
        ("TRUST_PROXY_HOPS", "-1"),
        ("TRUST_PROXY_HOPS", "one"),
        ("AUTH_URI", "localhost:8080"),
        ("AUTH_URI", "://app.example.com"),
        ("AUTH_URI", "1http://app.example.com"),
        ("AUTH_URI", "https://"),
        ("AUTH_STRICT_URI", "sometimes"),
    ] {
        let e = with(&[(var, val)]).unwrap_err();
        assert_eq!(e.var, var, "{var}={val}");
    }
    let c = with(&[
        ("TRUST_PROXY_HOPS", "2"),
        ("AUTH_URI", "https://a.example/x"),
    ])
    .unwrap();
    assert_eq!(c.http.trust_proxy_hops, 2);
    assert_eq!(c.signin.scheme(), "https");
    assert!(
        c.signin.strict_uri,
        "the URI origin is checked unless turned off"
    );
    assert_eq!(Config::default().http.trust_proxy_hops, 1);
    assert!(
        !with(&[("AUTH_STRICT_URI", "false")])
            .unwrap()
            .signin
            .strict_uri
    );
}

#[test]
fn secrets_are_masked() {
    let key = "11".repeat(32);
    let c = with(&[
        ("REDIS_URL", "redis://user:hunter2@127.0.0.1:6379"),
        ("SESSION_ENCRYPTION_KEY", &key),
        ("ADMIN_TOKEN", "super-secret-admin-token"),
        ("METRICS_TOKEN", "super-secret-metrics-token"),
    ])
    .unwrap();
    let text = c.masked_lines().join("\n") + &format!("{c:?}");
    assert!(!text.contains("super-secret-metrics-token"), "{text}");
    assert!(text.contains("METRICS_TOKEN=****"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains(&key));
    assert!(
        text.contains("SESSION_ENCRYPTION_KEY=**** (1 key(s))"),
        "{text}"
    );
    assert!(!text.contains("super-secret-admin-token"));
    assert!(text.contains("redis://user:****@127.0.0.1:6379"));
    // Every secret of the table: what it prints never holds what it shows unmasked.
    let secrets: Vec<&str> = vars()
        .iter()
        .filter(|v| v.is_secret())
        .map(|v| v.name)
        .collect();
    assert_eq!(
        secrets,
        [
            "REDIS_URL",
            "DATABASE_URL",
            "SESSION_ENCRYPTION_KEY",
            "ADMIN_TOKEN",
            "METRICS_TOKEN",
            "ETH_RPC_URLS"
        ]
    );
}

#[test]
fn rpc_nodes() {
    let c = with(&[
        ("ETH_CHAIN_IDS", "1,137"),
        (
            "ETH_RPC_URLS",
            "137=https://polygon.node.example/v1/KEY123, 1=http://127.0.0.1:8545",
        ),
    ])
    .unwrap();
    let ids: Vec<u64> = c
        .contract_wallets
        .rpc_urls
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ids, vec![1, 137]);
    assert_eq!(c.contract_wallets.rpc_timeout, Duration::from_secs(3));
    let text = c.masked_lines().join("\n") + &format!("{c:?}");
    assert!(!text.contains("KEY123"), "{text}");
    assert!(
        text.contains("ETH_RPC_URLS=1=http://127.0.0.1:8545,137=https://polygon.node.example/****")
    );
    assert!(Config::default().contract_wallets.rpc_urls.is_empty());
    for bad_value in [
        "1",
        "x=http://a",
        "0=http://a",
        "1=ftp://a",
        "1=http://",
        "1=https:///path",
        "1=http://a,1=http://b",
    ] {
        let e = with(&[("ETH_CHAIN_IDS", "*"), ("ETH_RPC_URLS", bad_value)]).unwrap_err();
        assert_eq!(e.var, "ETH_RPC_URLS", "{bad_value}");
    }
    let e = with(&[("ETH_CHAIN_IDS", "1"), ("ETH_RPC_URLS", "10=http://a")]).unwrap_err();
    assert_eq!(e.var, "ETH_RPC_URLS");
    assert!(e.to_string().contains("chain 10"), "{e}");
    for (value, ok) in [
        ("50ms", false),
        ("100ms", true),
        ("30s", true),
        ("31s", false),
        ("0s", false),
    ] {
        assert_eq!(with(&[("ETH_RPC_TIMEOUT", value)]).is_ok(), ok, "{value}");
    }
    assert_eq!(
        mask_rpc_url("https://u:p@h.example:8545/"),
        "https://h.example:8545/****"
    );
    assert_eq!(mask_rpc_url("http://h:1/"), "http://h:1");
    assert_eq!(mask_rpc_url("http://h?key=1"), "http://h/****");
    assert_eq!(mask_rpc_url("nonsense"), "****");
}

#[test]
fn wildcard_chain_ids() {
    assert_eq!(
        with(&[("ETH_CHAIN_IDS", "*")])
            .unwrap()
            .signin
            .eth_chain_ids,
        EthChainIds::Any
    );
    assert_eq!(
        with(&[("ETH_CHAIN_IDS", "1, 137")])
            .unwrap()
            .signin
            .eth_chain_ids,
        EthChainIds::Only(vec![1, 137])
    );
    assert_eq!(
        with(&[("SOLANA_CHAIN_IDS", "solana:devnet, localnet")])
            .unwrap()
            .signin
            .solana_chain_ids,
        vec!["devnet", "localnet"]
    );
}

#[test]
fn admin_wallets_are_checked_and_normalized() {
    let key = "11".repeat(32);
    let c = with(&[
        ("SESSION_ENCRYPTION_KEY", &key),
        (
            "ADMIN_WALLETS",
            "ethereum:0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f, Solana:9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
        ),
    ])
    .unwrap();
    assert_eq!(
        c.ops.admin_wallets,
        vec![
            "ethereum:0x2e43d3c652f5abe5294517195c989ba0b4b67a5f".to_owned(),
            "solana:9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM".to_owned(),
        ]
    );
    assert_eq!(c.sessions.reauth_max_age, Duration::from_secs(600));
    for bad in [
        "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f",
        "ethereum:0x2E43",
        "ethereum:2E43D3C652F5ABE5294517195C989BA0b4B67A5f",
        "solana:notbase58!",
        "solana:9WzDX",
        "bitcoin:1abc",
    ] {
        let e = with(&[("ADMIN_WALLETS", bad)]).unwrap_err();
        assert_eq!(e.var, "ADMIN_WALLETS", "{bad}");
        assert!(!e.to_string().contains('\n'), "one line: {e}");
    }
}
