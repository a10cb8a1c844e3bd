//! The crate's layers, checked from the source: every `crate::<module>` path in a file of
//! `src/<module>/` (or `src/<module>.rs`) names a module that layer may use. Comments (doc links
//! included) are not dependencies and are skipped. The rule, top to bottom:
//!
//! ```text
//! cli, cli_verify          anything
//! http                     session, store, verify, contract_wallets, config, clock
//! session                  store, verify, contract_wallets, config, clock
//! contract_wallets         verify, config, clock
//! store                    config, clock
//! verify                   config
//! config, clock            nothing
//! ```
//!
//! Since every arrow points down this table, the modules have no circle between them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What each layer may import from the crate.
fn allowed(layer: &str) -> Option<&'static [&'static str]> {
    Some(match layer {
        "cli" | "cli_verify" | "lib" | "main" => return None,
        "http" => &[
            "session",
            "store",
            "verify",
            "contract_wallets",
            "config",
            "clock",
        ],
        "session" => &["store", "verify", "contract_wallets", "config", "clock"],
        "contract_wallets" => &["verify", "config", "clock"],
        "store" => &["config", "clock"],
        "verify" => &["config"],
        "config" | "clock" => &[],
        other => panic!("src/{other} is a layer this test does not know: add it to the table"),
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate modules a file's code (not its comments) names with `crate::<module>`, also
/// inside grouped imports such as `use crate::{config::Config, store::Store}`.
fn crate_modules(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let before = rest[..at].chars().next_back();
        // `wallet_auth::` or `other_crate::` are not `crate::`.
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            if let Some(group) = after.strip_prefix('{') {
                // The top-level items of the group (nested groups belong to their item).
                let (mut depth, mut start) = (0usize, 0usize);
                let mut items = Vec::new();
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            items.push(&group[start..i]);
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            items.push(&group[start..i]);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                for item in items {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.insert(name);
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
        rest = after;
    }
    found
}

#[test]
fn every_import_points_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let layer = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        let Some(allowed) = allowed(&layer) else {
            continue;
        };
        let source = std::fs::read_to_string(file).unwrap();
        for module in crate_modules(&source) {
            if module != layer && !allowed.contains(&module.as_str()) {
                wrong.push(format!("src/{} uses crate::{module}", relative.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_reader_finds_every_form_of_crate_path() {
    let found = crate_modules(
        "use crate::config::Config;\n\
         use crate::{store::{Store, StoreError}, clock::Clock};\n\
         /// [`crate::http::router`] is a doc link, not an import\n\
         fn f() { crate::verify::parse_message(\"\"); wallet_auth::http::router; }\n",
    );
    let found: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found, ["clock", "config", "store", "verify"]);
}
