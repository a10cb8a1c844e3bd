//! `wallet-auth verify` as a user runs it: every vector through the built binary, plus the
//! usage errors (exit 2).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a panic is a failure

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde::Deserialize;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_wallet-auth");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    now: String,
    domain: String,
    clock_skew_tolerance_seconds: u32,
    /// `clock_skew_tolerance_seconds` as an argument.
    #[serde(skip)]
    skew: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vector {
    id: String,
    chain: String,
    message: String,
    signature: String,
    public_key: Option<String>,
    address: String,
    expect: String,
    nonce: String,
}

fn load() -> File {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/wallet-vectors.json"
    ))
    .expect("fixtures/wallet-vectors.json");
    let mut file: File = serde_json::from_str(&text).expect("vector file parses");
    file.skew = file.clock_skew_tolerance_seconds.to_string();
    file
}

/// Runs the binary with `args`, writing `stdin` to it.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wallet-auth");
    // The binary may exit before reading (usage errors): a broken pipe is fine.
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    child.wait_with_output().expect("wait")
}

fn json(output: &Output, id: &str) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{id}: stdout is not JSON ({e}): {:?} / stderr {:?}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn vector_args<'a>(file: &'a File, v: &'a Vector) -> Vec<&'a str> {
    let mut args = vec![
        "verify",
        "--chain",
        &v.chain,
        "--domain",
        &file.domain,
        "--now",
        &file.now,
        "--skew",
        &file.skew,
        "--nonce",
        &v.nonce,
        "--signature",
        &v.signature,
    ];
    if let Some(pk) = &v.public_key {
        args.extend(["--public-key", pk]);
    }
    args
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).expect("write temp file");
    path
}

#[test]
fn every_vector_through_stdin() {
    let file = load();
    for v in &file.vectors {
        let output = run(&vector_args(&file, v), v.message.as_bytes());
        check(&output, v);
    }
}

#[test]
fn every_vector_through_a_message_file() {
    let file = load();
    for v in &file.vectors {
        let path = temp_file(&format!("cli-vector-{}.txt", v.id), v.message.as_bytes());
        let mut args = vector_args(&file, v);
        let path_text = path.to_string_lossy().into_owned();
        args.extend(["--message-file", &path_text]);
        let output = run(&args, b"this is not the message");
        check(&output, v);
    }
}

fn check(output: &Output, v: &Vector) {
    let body = json(output, &v.id);
    match v.expect.as_str() {
        "valid" => {
            assert_eq!(output.status.code(), Some(0), "{}: {body}", v.id);
            assert_eq!(body["valid"], true, "{}", v.id);
            assert_eq!(body["chain"], v.chain.as_str(), "{}", v.id);
            assert_eq!(body["address"], v.address.as_str(), "{}", v.id);
            assert_eq!(body["nonce"], v.nonce.as_str(), "{}", v.id);
            assert!(body.get("chainId").is_some(), "{}: chainId key", v.id);
        }
        _ => {
            assert_eq!(output.status.code(), Some(1), "{}: {body}", v.id);
            assert_eq!(body["valid"], false, "{}", v.id);
            let code = body["code"].as_str().unwrap_or_default();
            assert!(
                [
                    "invalid_message",
                    "invalid_signature",
                    "domain_mismatch",
                    "chain_not_allowed",
                    "nonce_invalid",
                    "message_expired",
                    "message_not_yet_valid",
                ]
                .contains(&code),
                "{}: code {code}",
                v.id
            );
            assert!(
                !body["message"].as_str().unwrap_or_default().is_empty(),
                "{}: message",
                v.id
            );
        }
    }
}

fn basic(file: &File) -> &Vector {
    file.vectors
        .iter()
        .find(|v| v.id == "eth-viem-basic")
        .expect("eth-viem-basic")
}

#[test]
fn specific_codes_and_chain_id() {
    let file = load();
    let v = basic(&file);
    let output = run(&vector_args(&file, v), v.message.as_bytes());
    assert_eq!(json(&output, &v.id)["chainId"], "1");

    let mut args = vector_args(&file, v);
    args.extend(["--chain-id", "137"]);
    let output = run(&args, v.message.as_bytes());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json(&output, &v.id)["code"], "chain_not_allowed");

    let mut args = vector_args(&file, v);
    args.extend(["--chain-id", "137", "--chain-id", "1"]);
    assert_eq!(run(&args, v.message.as_bytes()).status.code(), Some(0));

    let mut args = vector_args(&file, v);
    args[10] = "someOtherNonce123";
    let output = run(&args, v.message.as_bytes());
    assert_eq!(json(&output, &v.id)["code"], "nonce_invalid");

    let mut args = vector_args(&file, v);
    args[4] = "other.example.com";
    args.extend(["--domain", "APP.example.com"]);
    assert_eq!(run(&args, v.message.as_bytes()).status.code(), Some(0));
}

#[test]
fn without_nonce_any_nonce_is_returned() {
    let file = load();
    let v = basic(&file);
    let mut args = vector_args(&file, v);
    args.drain(9..11);
    let output = run(&args, v.message.as_bytes());
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(json(&output, &v.id)["nonce"], v.nonce.as_str());
}

#[test]
fn stdin_is_not_trimmed() {
    let file = load();
    let v = basic(&file);
    let output = run(
        &vector_args(&file, v),
        format!("{}\n", v.message).as_bytes(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json(&output, &v.id)["code"], "invalid_message");
}

#[test]
fn default_now_is_the_clock() {
    // The vectors are dated 2026-11-22; without --now the real clock decides, and the result
    // is still one of the two documented outcomes with a JSON body.
    let file = load();
    let v = basic(&file);
    let mut args = vector_args(&file, v);
    args.drain(5..7);
    let output = run(&args, v.message.as_bytes());
    assert!(matches!(output.status.code(), Some(0 | 1)));
    json(&output, &v.id);
}

#[test]
fn oversized_and_non_utf8_messages_are_invalid_messages() {
    let file = load();
    let v = basic(&file);
    let output = run(&vector_args(&file, v), &vec![b'a'; 17 * 1024]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json(&output, &v.id)["code"], "invalid_message");
    let output = run(&vector_args(&file, v), &[0xff, 0xfe, b'a']);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json(&output, &v.id)["code"], "invalid_message");
}

#[test]
fn usage_errors_exit_2() {
    let file = load();
    let v = basic(&file);
    let message = v.message.as_bytes();

    let mut bad_now = vector_args(&file, v);
    bad_now[6] = "yesterday";
    let missing_file = {
        let mut args = vector_args(&file, v);
        args.extend(["--message-file", "/nonexistent/wallet-auth/message.txt"]);
        args
    };
    let no_domain: Vec<&str> = {
        let mut args = vector_args(&file, v);
        args.drain(3..5);
        args
    };
    let no_signature: Vec<&str> = {
        let mut args = vector_args(&file, v);
        args.drain(11..13);
        args
    };
    let mut bad_chain = vector_args(&file, v);
    bad_chain[2] = "bitcoin";
    let mut bad_skew = vector_args(&file, v);
    bad_skew[8] = "-5";
    let mut empty_domain = vector_args(&file, v);
    empty_domain[4] = "";

    for (name, args) in [
        ("bad --now", bad_now),
        ("missing file", missing_file),
        ("no --domain", no_domain),
        ("no --signature", no_signature),
        ("bad --chain", bad_chain),
        ("bad --skew", bad_skew),
        ("empty --domain", empty_domain),
    ] {
        let output = run(&args, message);
        assert_eq!(output.status.code(), Some(2), "{name}: {output:?}");
        assert!(!output.stderr.is_empty(), "{name}: says why on stderr");
    }
}

/// `verify` of eth-viem-basic (Issued At 2026-11-22T12:00:00Z) at `now`, with `extra` arguments
/// and no `--skew`: the exit code and the error code (`None` when valid).
fn basic_at(now: &str, extra: &[&str]) -> (Option<i32>, Option<String>) {
    let file = load();
    let v = basic(&file);
    let mut args = vec![
        "verify",
        "--chain",
        "ethereum",
        "--domain",
        &file.domain,
        "--now",
        now,
        "--signature",
        &v.signature,
    ];
    args.extend_from_slice(extra);
    let output = run(&args, v.message.as_bytes());
    if output.status.code() == Some(2) {
        return (Some(2), None);
    }
    let body = json(&output, &v.id);
    (
        output.status.code(),
        body["code"].as_str().map(str::to_owned),
    )
}

#[test]
fn default_skew_is_five_minutes_into_the_future() {
    // Issued At 12:00:00: a verifier clock up to 300 s behind the signer's accepts it.
    assert_eq!(basic_at("2026-11-22T11:55:00Z", &[]), (Some(0), None));
    assert_eq!(
        basic_at("2026-11-22T11:54:59Z", &[]),
        (Some(1), Some("message_not_yet_valid".to_owned()))
    );
    assert_eq!(
        basic_at("2026-11-22T11:59:00Z", &["--skew", "59"]),
        (Some(1), Some("message_not_yet_valid".to_owned()))
    );
    // No lower bound without --max-age.
    assert_eq!(basic_at("2030-01-01T00:00:00Z", &[]), (Some(0), None));
}

#[test]
fn max_age_refuses_an_old_issued_at() {
    assert_eq!(
        basic_at("2026-11-22T12:10:00Z", &["--max-age", "600"]),
        (Some(0), None)
    );
    assert_eq!(
        basic_at("2026-11-22T12:10:00.001Z", &["--max-age", "600"]),
        (Some(1), Some("message_expired".to_owned()))
    );
    assert_eq!(
        basic_at("2026-11-22T12:10:00Z", &["--max-age", "0"]),
        (Some(1), Some("message_expired".to_owned()))
    );
    for bad in ["-1", "ten", ""] {
        assert_eq!(
            basic_at("2026-11-22T12:00:00Z", &["--max-age", bad]).0,
            Some(2),
            "--max-age {bad:?}"
        );
    }
}

#[test]
fn a_lowercase_address_answers_in_eip55() {
    let file = load();
    let v = file
        .vectors
        .iter()
        .find(|v| v.id == "eth-lowercase-address")
        .expect("eth-lowercase-address");
    let output = run(&vector_args(&file, v), v.message.as_bytes());
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        json(&output, &v.id)["address"],
        "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f"
    );
}
