//! Describing bad input without quoting it. A `400` names the field or position at fault and
//! what was expected there, never the value that was sent: serde's own messages quote it
//! (`invalid type: integer `123`, expected a string`), and a quoted value reflects whatever a
//! client sent (a password typed in the wrong field, markup, kilobytes of text) into responses
//! and logs.
//!
//! Here too, once for every handler, the rejections of axum's extractors (JSON body, path,
//! query) become the contract's errors: the extractors of `super::extract` name [`ApiError`] as
//! their rejection, and the conversions below do the rest.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::{
    BytesRejection, FailedToDeserializePathParams, JsonRejection, PathRejection, QueryRejection,
};
use axum::http::StatusCode;
use serde_path_to_error::Segment;

use super::error::ApiError;

/// The longest field name shown in a message.
const MAX_NAME: usize = 64;

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(r) => r.into(),
            // The parser's own error, found under the rejection: described by field and
            // expectation only.
            r => ApiError::BadRequest(describe_rejection(&r)),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BodyTooLarge
        } else {
            ApiError::BadRequest("the request body could not be read".into())
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        // The key is the route template's own parameter name, never the client's text.
        let key = match &r {
            PathRejection::FailedToDeserializePathParams(e) => path_key(e),
            _ => None,
        };
        ApiError::BadRequest(match key {
            Some(key) => format!("the path parameter `{key}` is not valid"),
            None => "a path parameter is not valid".to_owned(),
        })
    }
}

fn path_key(e: &FailedToDeserializePathParams) -> Option<&str> {
    match e.kind() {
        ErrorKind::ParseErrorAtKey { key, .. }
        | ErrorKind::InvalidUtf8InPathParam { key }
        | ErrorKind::DeserializeError { key, .. } => Some(key.as_str()),
        _ => None,
    }
}

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        ApiError::BadRequest("the query string is not valid".into())
    }
}

/// The message of a JSON body that did not parse: from the `serde_json` error (with its path)
/// that the rejection carries.
fn describe_rejection(r: &JsonRejection) -> String {
    let mut source = std::error::Error::source(r);
    while let Some(e) = source {
        if let Some(e) = e.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>() {
            return describe(e);
        }
        if let Some(e) = e.downcast_ref::<serde_json::Error>() {
            return describe_json_error(None, e);
        }
        source = e.source();
    }
    "the request body has the wrong shape".to_owned()
}

/// The message of a JSON error at a path: the field and the expectation, never the value.
fn describe(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let mut segments: Vec<&Segment> = e.path().iter().collect();
    if is_unknown_field(e.inner()) {
        // The last segment is the unknown key itself: the client's text.
        segments.pop();
    }
    let path = describe_path(&segments);
    describe_json_error(path.as_deref(), e.inner())
}

/// The path to a field as `a.b[0]`, or `None` at the top level. A segment that is not a plain
/// short name (a map key the client chose) shows as `?`.
fn describe_path(segments: &[&Segment]) -> Option<String> {
    let mut out = String::new();
    for seg in segments {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => push_name(&mut out, key),
            Segment::Enum { variant } => push_name(&mut out, variant),
            Segment::Unknown => push_name(&mut out, "?"),
        }
    }
    (!out.is_empty()).then_some(out)
}

fn is_unknown_field(e: &serde_json::Error) -> bool {
    e.classify() == serde_json::error::Category::Data && e.to_string().starts_with("unknown field ")
}

fn push_name(out: &mut String, name: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    let plain = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    out.push_str(if plain { name } else { "?" });
}

/// A message for a JSON error at `path`, from the parts of serde's message that come from the
/// expected type (never from the input).
fn describe_json_error(path: Option<&str>, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => return "the request body is incomplete JSON".into(),
        Category::Syntax | Category::Io => return "the request body is not valid JSON".into(),
        Category::Data => {}
    }
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or("");
    // What the type expected: after the last ", expected " (a quoted value comes before it).
    let expected = text
        .rfind(", expected ")
        .map(|i| &text[i + ", expected ".len()..])
        .map(|x| {
            if x.starts_with("struct ") || x == "a map" {
                "a JSON object"
            } else {
                x
            }
        });
    let at = path.map_or_else(|| "the request body".to_owned(), |p| format!("`{p}`"));
    let shape = "the request body has the wrong shape";
    if let Some(field) = text
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        // The name is the type's own field name.
        return match path {
            Some(p) => format!("{shape}: `{p}` lacks the field `{field}`"),
            None => format!("{shape}: missing field `{field}`"),
        };
    }
    if let Some(field) = text
        .strip_prefix("duplicate field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return format!("{shape}: the field `{field}` appears twice");
    }
    if text.starts_with("unknown field ") {
        let within = path.map_or_else(String::new, |p| format!(" in `{p}`"));
        return match expected {
            Some(x) => format!("{shape}: an unknown field{within} (expected {x})"),
            None => format!("{shape}: an unknown field{within}"),
        };
    }
    let problem = if text.starts_with("invalid type: ") {
        "has the wrong type"
    } else if text.starts_with("invalid length ") {
        "has the wrong length"
    } else if text.starts_with("unknown variant ") {
        "is not one of the accepted values"
    } else {
        "is not valid"
    };
    match expected {
        Some(x) => format!("{shape}: {at} {problem}: expected {x}"),
        None => format!("{shape}: {at} {problem}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        password: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        chain: Option<String>,
        items: Option<Vec<u32>>,
        kind: Option<Kind>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Alpha,
        Beta,
    }

    fn msg<T: serde::de::DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
        let rejection = axum::Json::<T>::from_bytes(body.as_bytes()).unwrap_err();
        ApiError::from(rejection).to_string()
    }

    #[test]
    fn messages_name_the_field_and_never_the_value() {
        let secret = "hunter2-SECRET-do-not-echo";
        for (body, want) in [
            (
                r#"{"username":"a","password":9876543210123}"#.to_owned(),
                "`password` has the wrong type: expected a string",
            ),
            (
                format!(r#"{{"username":["{secret}"],"password":"x"}}"#),
                "`username` has the wrong type",
            ),
            (
                format!(r#"{{"username":{{"{secret}":1}},"password":"x"}}"#),
                "`username` has the wrong type",
            ),
            (r#"{"username":"a"}"#.to_owned(), "missing field `password`"),
            (secret.to_owned(), "the request body is not valid JSON"),
            (
                format!(r#""{secret}""#),
                "the request body has the wrong type: expected a JSON object",
            ),
        ] {
            let m = msg::<Login>(&body);
            assert!(m.contains(want), "{body}: {m}");
            assert!(!m.contains(secret) && !m.contains("9876543210123"), "{m}");
        }
        for (body, want) in [
            (
                format!(r#"{{"{secret}":1}}"#),
                "an unknown field (expected one of `chain`, `items`, `kind`)",
            ),
            (
                format!(r#"{{"chain":"x","{secret}, expected nothing":1}}"#),
                "an unknown field",
            ),
            (
                format!(r#"{{"items":[1,"{secret}"]}}"#),
                "`items[1]` has the wrong type: expected u32",
            ),
            (r#"{"items":[1,-5]}"#.to_owned(), "`items[1]` is not valid"),
            (
                format!(r#"{{"kind":"{secret}, expected one of x"}}"#),
                "`kind` is not one of the accepted values: expected `alpha` or `beta`",
            ),
            (r#"{"chain":"a","chain":"b"}"#.to_owned(), "appears twice"),
        ] {
            let m = msg::<Strict>(&body);
            assert!(m.contains(want), "{body}: {m}");
            assert!(!m.contains(secret) && !m.contains("-5"), "{m}");
        }
    }
}
