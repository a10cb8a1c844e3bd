//! The committed bytecode in `contracts/out/` is what `contracts/` sources compile to with the
//! pinned compiler: `node contracts/build.js --check` recompiles and compares.
#![allow(clippy::expect_used)]

use std::process::Command;

#[test]
fn committed_bytecode_matches_the_sources() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    assert!(
        dir.join("node_modules/solc/package.json").is_file(),
        "the pinned Solidity compiler is not installed; run `scripts/ensure-contracts.sh`"
    );
    let out = Command::new("node")
        .arg("build.js")
        .arg("--check")
        .current_dir(&dir)
        .output()
        .expect("run node (Node.js is needed to compile the contracts)");
    assert!(
        out.status.success(),
        "contracts/build.js --check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_server_embeds_the_committed_validator() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts/out");
    let committed = std::fs::read_to_string(dir.join("SignatureCheck.hex")).expect("hex file");
    assert_eq!(
        hex::encode(wallet_auth::contract_wallets::validator::creation_code()),
        committed.trim()
    );
    let compiler = std::fs::read_to_string(dir.join("compiler.json")).expect("compiler.json");
    let pinned = std::fs::read_to_string(dir.join("../package.json")).expect("package.json");
    let version = compiler
        .split("\"solc\": \"")
        .nth(1)
        .and_then(|r| r.split('+').next())
        .expect("solc version");
    assert!(
        pinned.contains(&format!("\"solc\": \"{version}\"")),
        "compiler.json's solc {version} is the one package.json pins"
    );
}
