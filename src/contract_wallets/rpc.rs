//! A small Ethereum JSON-RPC client over HTTP(S): `eth_chainId` and `eth_call`, nothing else.
//!
//! Every call is bounded: the whole exchange (connect, send, answer) by the timeout, the
//! answer by [`MAX_ANSWER_BYTES`]. No redirects are followed. Errors never carry the node's URL,
//! which often holds an API key.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

/// The largest JSON-RPC answer read; a longer one is garbage.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why a call gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The EVM execution failed: a revert, out of gas, an invalid opcode. A verdict about the
    /// code that ran, not about the node.
    #[error("execution failed: {0}")]
    Execution(String),
    /// The node cannot be reached, timed out, or answered something that is not a JSON-RPC
    /// result (including JSON-RPC errors other than an execution failure).
    #[error("{0}")]
    Unavailable(String),
}

/// A JSON-RPC client for one node.
#[derive(Clone)]
pub struct RpcClient {
    http: Option<reqwest::Client>,
    url: String,
    timeout: Duration,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("url", &crate::config::mask_rpc_url(&self.url))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Answer {
    jsonrpc: Option<String>,
    id: Option<Value>,
    result: Option<Value>,
    error: Option<ErrorObject>,
}

#[derive(Deserialize)]
struct ErrorObject {
    code: i64,
    #[serde(default)]
    message: String,
}

/// The first `n` characters of a node's text, for a log line.
fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Whether a JSON-RPC error reports a failed EVM execution. Geth and anvil answer a revert
/// with code 3 (with revert data) or -32000 "execution reverted"; running out of the call's
/// gas is -32000 "out of gas" (geth) or -32603 "EVM error OutOfGas" (anvil).
fn is_execution_failure(e: &ErrorObject) -> bool {
    let m = e.message.to_ascii_lowercase();
    e.code == 3
        || m.contains("revert")
        || m.contains("out of gas")
        || m.contains("outofgas")
        || m.contains("invalid opcode")
        || m.contains("invalidfeopcode")
}

fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = what.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    clip(&text, 300)
}

/// Parses a `0x` hex quantity or data string.
fn hex_bytes(v: &Value) -> Option<Vec<u8>> {
    let digits = v.as_str()?.strip_prefix("0x")?;
    if digits.len() % 2 == 1 {
        hex::decode(format!("0{digits}")).ok()
    } else {
        hex::decode(digits).ok()
    }
}

impl RpcClient {
    /// A client for the node at `url` (`http://` or `https://`), every call bounded by
    /// `timeout`.
    #[must_use]
    pub fn new(url: &str, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wallet-auth/", env!("CARGO_PKG_VERSION")))
            .build();
        if let Err(e) = &http {
            tracing::error!(error = %describe(e), "cannot build the HTTP client for a JSON-RPC node");
        }
        RpcClient {
            http: http.ok(),
            url: url.to_owned(),
            timeout,
        }
    }

    /// The timeout of one call.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Calls `method` with `params` and returns its `result`.
    ///
    /// # Errors
    /// See [`RpcError`].
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let Some(http) = &self.http else {
            return Err(RpcError::Unavailable("no HTTP client".into()));
        };
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let exchange = async {
            let mut res = http
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send()
                .await
                .map_err(|e| RpcError::Unavailable(describe(&e)))?;
            let status = res.status();
            if res
                .content_length()
                .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
            {
                return Err(RpcError::Unavailable(format!(
                    "HTTP {status}: an answer longer than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = res
                .chunk()
                .await
                .map_err(|e| RpcError::Unavailable(describe(&e)))?
            {
                if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(RpcError::Unavailable(format!(
                        "HTTP {status}: an answer longer than {MAX_ANSWER_BYTES} bytes"
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                RpcError::Unavailable(format!("timed out after {} ms", self.timeout.as_millis()))
            })??;
        let answer: Option<Answer> = serde_json::from_slice(&bytes).ok();
        let Some(answer) = answer.filter(|a| {
            a.jsonrpc.as_deref() == Some("2.0") && a.id.as_ref() == Some(&Value::from(1))
        }) else {
            return Err(RpcError::Unavailable(format!(
                "HTTP {status}: not a JSON-RPC answer"
            )));
        };
        match (answer.result, answer.error) {
            (_, Some(e)) if is_execution_failure(&e) => {
                Err(RpcError::Execution(clip(&e.message, 200)))
            }
            (_, Some(e)) => Err(RpcError::Unavailable(format!(
                "JSON-RPC error {}: {}",
                e.code,
                clip(&e.message, 200)
            ))),
            (Some(result), None) if status.is_success() => Ok(result),
            _ => Err(RpcError::Unavailable(format!(
                "HTTP {status}: a JSON-RPC answer without a result"
            ))),
        }
    }

    /// `eth_chainId`.
    ///
    /// # Errors
    /// See [`RpcError`]; an answer that is not a quantity is [`RpcError::Unavailable`].
    pub async fn chain_id(&self) -> Result<u64, RpcError> {
        let result = self.call("eth_chainId", json!([])).await?;
        result
            .as_str()
            .and_then(|s| s.strip_prefix("0x"))
            .and_then(|digits| u64::from_str_radix(digits, 16).ok())
            .ok_or_else(|| RpcError::Unavailable("eth_chainId: not a quantity".into()))
    }

    /// `eth_call` at the latest block of a call with no `to` (contract creation code in
    /// `data`) and `gas`; the bytes returned.
    ///
    /// # Errors
    /// See [`RpcError`]; an answer that is not hex data is [`RpcError::Unavailable`].
    pub async fn call_creation(&self, data: &[u8], gas: u64) -> Result<Vec<u8>, RpcError> {
        let tx = json!({
            "data": format!("0x{}", hex::encode(data)),
            "gas": format!("0x{gas:x}"),
        });
        let result = self.call("eth_call", json!([tx, "latest"])).await?;
        hex_bytes(&result).ok_or_else(|| RpcError::Unavailable("eth_call: not hex data".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i64, message: &str) -> ErrorObject {
        ErrorObject {
            code,
            message: message.into(),
        }
    }

    #[test]
    fn execution_failures_are_told_apart() {
        assert!(is_execution_failure(&err(3, "execution reverted")));
        assert!(is_execution_failure(&err(-32000, "execution reverted")));
        assert!(is_execution_failure(&err(-32000, "out of gas")));
        assert!(is_execution_failure(&err(-32603, "EVM error OutOfGas")));
        assert!(!is_execution_failure(&err(-32601, "method not found")));
        assert!(!is_execution_failure(&err(-32005, "rate limit exceeded")));
        assert!(!is_execution_failure(&err(-32603, "internal error")));
    }

    #[test]
    fn hex_data() {
        assert_eq!(hex_bytes(&json!("0x01")), Some(vec![1]));
        assert_eq!(hex_bytes(&json!("0x")), Some(vec![]));
        assert_eq!(hex_bytes(&json!("0x1")), Some(vec![1]));
        assert_eq!(hex_bytes(&json!("01")), None);
        assert_eq!(hex_bytes(&json!(1)), None);
        assert_eq!(hex_bytes(&json!("0xzz")), None);
    }

    #[test]
    fn debug_hides_the_url_path() {
        let c = RpcClient::new(
            "https://user:pw@node.example/v3/secret-key",
            Duration::from_secs(1),
        );
        let text = format!("{c:?}");
        assert!(
            !text.contains("secret-key") && !text.contains("pw"),
            "{text}"
        );
    }
}
