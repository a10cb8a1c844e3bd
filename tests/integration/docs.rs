//! docs/API.md against the generated OpenAPI document: every operation of the document is
//! described in the reference, every route the reference describes exists, and every error code
//! the server can answer with is in the reference's table with its status; the README's
//! configuration table against the server's table of variables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_json::Value;

fn reference() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md")).unwrap()
}

fn document() -> Value {
    serde_json::from_str(wallet_auth::http::openapi_document()).unwrap()
}

/// `METHOD /path` of every operation in the OpenAPI document.
fn operations(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.insert(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
    }
    out
}

/// `METHOD /path` written in backquotes in the reference (the query string left out).
fn documented_routes(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for chunk in text.split('`').skip(1).step_by(2) {
        let Some((method, rest)) = chunk.split_once(' ') else {
            continue;
        };
        if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) || !rest.starts_with('/') {
            continue;
        }
        let path = rest.split(['?', ' ']).next().unwrap();
        out.insert(format!("{method} {path}"));
    }
    out
}

#[test]
fn every_operation_is_documented_and_every_documented_route_exists() {
    let ops = operations(&document());
    let documented = documented_routes(&reference());
    assert!(ops.len() >= 20, "{ops:?}");
    let undocumented: Vec<_> = ops.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "missing from docs/API.md: {undocumented:?}"
    );
    let stale: Vec<_> = documented.difference(&ops).collect();
    assert!(stale.is_empty(), "in docs/API.md but not served: {stale:?}");
}

#[test]
fn every_error_code_is_in_the_table_with_its_status() {
    let text = reference();
    let table: Vec<(String, u16)> = text
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let status = cells.get(2)?.parse().ok()?;
            Some((code.to_owned(), status))
        })
        .collect();
    assert!(table.len() >= 15, "{table:?}");
    let codes = wallet_auth::http::ErrorCode::ALL;
    for code in codes {
        let row = table.iter().find(|(c, _)| c == code.as_str());
        assert_eq!(
            row.map(|(_, s)| *s),
            Some(code.status().as_u16()),
            "{}: docs/API.md's table against the server's status",
            code.as_str()
        );
    }
    // And the table lists nothing the server cannot answer with, as the document says.
    let doc = document();
    let listed: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("the ErrorCode schema enumerates the codes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for (code, _) in &table {
        assert!(
            listed.contains(code.as_str()),
            "{code} is documented but not in the OpenAPI document"
        );
    }
}

/// The README's configuration table and the configuration's table of variables agree on
/// names and defaults.
#[test]
fn the_readme_configuration_table_is_the_servers() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a Configuration section");
    let mut documented = Vec::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(name) = cells
            .get(1)
            .and_then(|c| c.strip_prefix('`'))
            .and_then(|c| c.strip_suffix('`'))
        else {
            continue;
        };
        let var = wallet_auth::config::var(name)
            .unwrap_or_else(|| panic!("README lists {name}, the table does not"));
        if let wallet_auth::config::Fallback::Text(text) = var.fallback {
            assert_eq!(
                cells.get(2).copied(),
                Some(format!("`{text}`").as_str()),
                "{name}"
            );
        }
        documented.push(name);
    }
    for var in wallet_auth::config::vars() {
        assert!(
            documented.contains(&var.name),
            "{} is missing from the README's table",
            var.name
        );
    }
}

/// The document is a valid OpenAPI document, as an independent validator judges it
/// (`scripts/openapi-validate.sh`: openapi-spec-validator, installed into a venv under the
/// target directory on first use).
#[test]
fn the_document_passes_an_openapi_validator() {
    let dir = std::env::temp_dir().join(format!("wallet-auth-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("openapi.json");
    std::fs::write(&file, wallet_auth::http::openapi_document()).unwrap();
    let out = std::process::Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/openapi-validate.sh"
    ))
    .arg(&file)
    .output()
    .expect("scripts/openapi-validate.sh runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "the OpenAPI document is not valid:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every operation has an id of its own (the validator refuses a document that repeats one).
#[test]
fn operation_ids_are_unique() {
    let doc = document();
    let mut seen = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if let Some(id) = op["operationId"].as_str() {
                assert!(seen.insert(id.to_owned()), "{method} {path}: {id} twice");
            }
        }
    }
    assert!(seen.len() >= 20, "{seen:?}");
}
