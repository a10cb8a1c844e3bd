//! `GET /openapi.json`: the document covers the whole contract, and live responses match the
//! schemas it documents.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::app::{spawn_app, Backend, TestApp, Wallet, ADMIN};

/// Every route of the contract (API.md).
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/auth/nonce"),
    ("post", "/auth/verify"),
    ("get", "/auth/session"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
    ("post", "/auth/logout-all"),
    ("get", "/auth/sessions"),
    ("delete", "/auth/sessions/{sessionId}"),
    ("get", "/api/me"),
    ("get", "/api/public/hello"),
    ("get", "/api/preferences"),
    ("put", "/api/preferences"),
    ("post", "/auth/user/login"),
    ("post", "/auth/user/logout"),
    ("get", "/api/user/me"),
    ("post", "/auth/token"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("get", "/admin/sessions/stats"),
    ("get", "/admin/audit"),
    ("post", "/admin/wallets/{chain}/{address}/logout-all"),
    ("put", "/admin/accounts/{accountId}/roles"),
    ("get", "/auth/account"),
    ("post", "/auth/link/nonce"),
    ("post", "/auth/link"),
    ("post", "/auth/link/password"),
    ("delete", "/auth/identities/{chain}/{address}"),
    ("get", "/openapi.json"),
];

/// Every error code of the contract, with its status.
const CODES: &[(&str, u16)] = &[
    ("reauthentication_required", 403),
    ("identity_in_use", 409),
    ("last_identity", 409),
    ("bad_request", 400),
    ("invalid_message", 400),
    ("payload_too_large", 413),
    ("unsupported_media_type", 415),
    ("invalid_signature", 401),
    ("domain_mismatch", 401),
    ("chain_not_allowed", 401),
    ("nonce_invalid", 401),
    ("message_expired", 401),
    ("message_not_yet_valid", 401),
    ("unauthenticated", 401),
    ("session_binding_mismatch", 401),
    ("csrf_failed", 403),
    ("forbidden", 403),
    ("not_found", 404),
    ("method_not_allowed", 405),
    ("request_timeout", 408),
    ("rate_limited", 429),
    ("store_unavailable", 503),
    ("verifier_unavailable", 503),
    ("session_layer_missing", 500),
    ("internal", 500),
];

async fn fetch_doc(app: &TestApp) -> Value {
    let res = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/json"), "{ct}");
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).expect("the document is JSON")
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            let target = &doc["components"]["schemas"][name];
            assert!(!target.is_null(), "dangling $ref {r}");
            resolve(doc, target)
        }
        None => schema,
    }
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => true,
    }
}

/// A small JSON Schema check: `$ref`, `type`, `required`, `properties`, `items`, `enum`,
/// `oneOf` / `anyOf`. Returns the first mismatch.
fn check(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let s = resolve(doc, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = s.get(key).and_then(Value::as_array) {
            if !alts.iter().any(|a| check(doc, a, v, at).is_ok()) {
                return Err(format!("{at}: {v} matches no alternative of {key}"));
            }
        }
    }
    match s.get("type") {
        Some(Value::String(t)) if !type_ok(t, v) => {
            return Err(format!("{at}: {v} is not {t}"));
        }
        Some(Value::Array(ts)) if !ts.iter().any(|t| type_ok(t.as_str().unwrap_or(""), v)) => {
            return Err(format!("{at}: {v} is none of {ts:?}"));
        }
        _ => {}
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            return Err(format!("{at}: {v} not in enum {e:?}"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap();
            if !obj.contains_key(r) {
                return Err(format!("{at}: required field {r} missing in {v}"));
            }
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (k, sub) in props {
                if let Some(val) = obj.get(k) {
                    check(doc, sub, val, &format!("{at}.{k}"))?;
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// Asserts that a live response matches what the document says for `method path` and its status.
#[track_caller]
fn conforms(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is documented");
    let resp = &op["responses"][status.to_string()];
    assert!(resp.is_object(), "{method} {path} documents {status}");
    let schema = &resp["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status} has a JSON schema"
    );
    if let Err(e) = check(doc, schema, body, "$") {
        panic!("{method} {path} {status}: {e}");
    }
}

#[tokio::test]
async fn document_covers_the_contract() {
    let app = spawn_app(Backend::Memory).await;
    let doc = fetch_doc(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["title"], "wallet-auth");
    for (method, path) in CONTRACT {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path}: no success response"
        );
        assert!(
            responses.contains_key("500"),
            "{method} {path}: no 500 response"
        );
        for (status, r) in responses {
            if !status.starts_with('2') {
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{method} {path} {status}"
                );
            }
        }
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            ["get", "post", "put", "delete", "patch"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .count()
        })
        .sum();
    assert_eq!(documented, CONTRACT.len(), "no undocumented extras");
}

#[tokio::test]
async fn error_schema_lists_every_code() {
    let app = spawn_app(Backend::Memory).await;
    let doc = fetch_doc(&app).await;
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], json!(["error"]));
    let detail = resolve(&doc, &error["properties"]["error"]);
    let mut required: Vec<&str> = detail["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["code", "message"]);
    let codes = resolve(&doc, &detail["properties"]["code"]);
    let listed: Vec<&str> = codes["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut contract: Vec<&str> = CODES.iter().map(|(c, _)| *c).collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    contract.sort_unstable();
    assert_eq!(sorted, contract);
    // Each code appears as an error response of its status somewhere.
    for (code, status) in CODES {
        if *code == "method_not_allowed" || *code == "session_layer_missing" {
            // The answer to a method a path does not have, and a misconfigured route of an
            // embedding app: no operation to document them on (tests/api/errors.rs checks the
            // first on every path, tests/embed.rs the second).
            continue;
        }
        let found = doc["paths"].as_object().unwrap().values().any(|item| {
            item.as_object().unwrap().values().any(|op| {
                op["responses"][status.to_string()]["description"]
                    .as_str()
                    .is_some_and(|d| d.contains(&format!("`{code}`")))
            })
        });
        assert!(found, "{code} is documented under {status}");
    }
}

#[tokio::test]
async fn security_and_headers_are_documented() {
    let app = spawn_app(Backend::Memory).await;
    let doc = fetch_doc(&app).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["walletBearer"]["scheme"], "bearer");
    assert_eq!(schemes["walletCookie"]["in"], "cookie");
    assert_eq!(schemes["walletCookie"]["name"], "wallet_session");
    assert_eq!(schemes["userCookie"]["name"], "sid");
    assert_eq!(schemes["adminBearer"]["scheme"], "bearer");
    let me = &doc["paths"]["/api/me"]["get"];
    assert_eq!(
        me["security"],
        json!([{"walletBearer": []}, {"walletCookie": []}])
    );
    assert!(me["responses"]["200"]["headers"]["X-Session-Expires-At"].is_object());
    assert!(me["responses"]["200"]["headers"]["X-Session-Refreshed"].is_object());
    assert!(
        doc["paths"]["/auth/nonce"]["post"]["responses"]["429"]["headers"]["Retry-After"]
            .is_object()
    );
    assert!(
        doc["paths"]["/ready"]["get"]["responses"]["503"]["headers"]["Retry-After"].is_object()
    );
    assert_eq!(
        doc["paths"]["/admin/audit"]["get"]["security"],
        json!([{"adminBearer": []}])
    );
    let csrf = doc["paths"]["/api/preferences"]["put"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "X-CSRF-Token" && p["in"] == "header");
    assert!(csrf, "PUT /api/preferences documents X-CSRF-Token");
}

#[tokio::test]
async fn live_responses_match_the_document() {
    let app = spawn_app(Backend::Memory).await;
    let doc = fetch_doc(&app).await;

    for w in [Wallet::ethereum(), Wallet::solana()] {
        let n = app
            .post(
                "/auth/nonce",
                None,
                Some(json!({"chain": w.chain.as_str(), "address": w.address})),
            )
            .await;
        conforms(&doc, "post", "/auth/nonce", 200, &n.body);

        let v = app.sign_in(&w).await;
        conforms(&doc, "post", "/auth/verify", 200, &v.body);
        let token = v.body["token"].as_str().unwrap().to_owned();
        let t = Some(token.as_str());

        for path in [
            "/auth/session",
            "/auth/sessions",
            "/api/me",
            "/api/public/hello",
            "/api/preferences",
        ] {
            let r = app.get(path, t).await;
            conforms(&doc, "get", path, r.status.as_u16(), &r.body);
            assert!(r.header("x-session-expires-at").is_some(), "{path}");
        }
        let r = app
            .call(
                reqwest::Method::PUT,
                "/api/preferences",
                t,
                Some(json!({"theme": "dark"})),
            )
            .await;
        conforms(&doc, "put", "/api/preferences", 200, &r.body);
        let r = app.post("/auth/refresh", t, None).await;
        conforms(&doc, "post", "/auth/refresh", 200, &r.body);
        let token = r.body["token"].as_str().unwrap().to_owned();
        let r = app.post("/auth/logout-all", Some(&token), None).await;
        conforms(&doc, "post", "/auth/logout-all", 200, &r.body);
    }

    let r = app.get("/api/public/hello", None).await;
    conforms(&doc, "get", "/api/public/hello", 200, &r.body);
    let r = app.get("/api/me", None).await;
    conforms(&doc, "get", "/api/me", 401, &r.body);
    let r = app
        .post("/auth/verify", None, Some(json!({"chain": 1})))
        .await;
    conforms(&doc, "post", "/auth/verify", 400, &r.body);
    for path in ["/health", "/ready"] {
        let r = app.get(path, None).await;
        conforms(&doc, "get", path, 200, &r.body);
    }
    for path in ["/admin/sessions/stats", "/admin/audit?limit=5"] {
        let r = app.get(path, Some(ADMIN)).await;
        let doc_path = path.split('?').next().unwrap();
        conforms(&doc, "get", doc_path, 200, &r.body);
        assert!(!r.body.as_object().unwrap().is_empty());
    }
    let audit = app.get("/admin/audit", Some(ADMIN)).await;
    assert!(audit.body["events"].as_array().unwrap().len() >= 4);
    let r = app
        .post(
            &format!(
                "/admin/wallets/ethereum/{}/logout-all",
                Wallet::ethereum().address
            ),
            Some(ADMIN),
            None,
        )
        .await;
    conforms(
        &doc,
        "post",
        "/admin/wallets/{chain}/{address}/logout-all",
        200,
        &r.body,
    );
    let r = app
        .get("/admin/sessions/stats", Some("not-the-admin-token"))
        .await;
    conforms(&doc, "get", "/admin/sessions/stats", 403, &r.body);
}

#[tokio::test]
async fn malformed_query_and_path_get_json_errors() {
    let app = spawn_app(Backend::Memory).await;
    let r = app.get("/admin/audit?limit=x", Some(ADMIN)).await;
    r.assert_error(400, "bad_request");
    let r = app
        .post("/admin/wallets/ethereum/%FF/logout-all", Some(ADMIN), None)
        .await;
    r.assert_error(400, "bad_request");
    let token = app.token(&Wallet::ethereum()).await;
    let r = app
        .call(
            reqwest::Method::DELETE,
            "/auth/sessions/%FF",
            Some(&token),
            None,
        )
        .await;
    r.assert_error(400, "bad_request");
}
