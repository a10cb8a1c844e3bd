//! How one variable's text becomes a value and back: durations, counts, flags, keyword enums,
//! lists, secrets. Every value is trimmed before it gets here (an empty value is unset); keywords
//! (flags and enum names) are matched without regard to case; everything else — URLs, domains,
//! tokens, keys — is taken as written.
//!
//! [`Value::show`] is the inverse of [`Value::parse`] on the value's canonical text, so
//! `config check` prints what the parser would read back, and the table can re-check a
//! configuration built in code by parsing what it shows.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// A configurable value: parsed from a variable's text and shown in the same form.
pub(crate) trait Value: Sized {
    /// The value of `text` (trimmed, non-empty).
    fn parse(text: &str) -> Result<Self, String>;
    /// The canonical text of the value; `None` when the value stands for "unset".
    fn show(&self) -> Option<String>;
}

impl<T: Value> Value for Option<T> {
    fn parse(text: &str) -> Result<Self, String> {
        T::parse(text).map(Some)
    }
    fn show(&self) -> Option<String> {
        self.as_ref().and_then(T::show)
    }
}

/// The longest duration any variable accepts: beyond it, time arithmetic would leave the
/// range of dates and millisecond counters.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Parses `90s`, `30m`, `2h`, `7d` (and `500ms`; a bare number is seconds).
///
/// # Errors
/// A human reason when the text is not such a duration, or longer than [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 30m, 2h or 7d"))?;
    let d = match unit {
        "ms" => Some(Duration::from_millis(n)),
        "" | "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        "d" => n.checked_mul(86_400).map(Duration::from_secs),
        _ => return Err(format!("{s:?} has an unknown unit (use ms, s, m, h or d)")),
    };
    d.filter(|d| *d <= MAX_DURATION)
        .ok_or_else(|| format!("{s:?} is too large (at most 3650d)"))
}

/// A duration in the largest unit that shows it exactly (`500ms`, `90s`, `2h`, `365d`).
#[must_use]
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    if ms % 1000 != 0 {
        format!("{ms}ms")
    } else if s != 0 && s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s != 0 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s != 0 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

impl Value for Duration {
    fn parse(text: &str) -> Result<Self, String> {
        parse_duration(text)
    }
    fn show(&self) -> Option<String> {
        Some(show_duration(*self))
    }
}

macro_rules! integer_value {
    ($($t:ty),*) => {$(
        impl Value for $t {
            fn parse(text: &str) -> Result<Self, String> {
                text.parse::<$t>()
                    .map_err(|_| format!("{text:?} is not an integer from 0 to {}", <$t>::MAX))
            }
            fn show(&self) -> Option<String> {
                Some(self.to_string())
            }
        }
    )*};
}
integer_value!(u8, u32, usize);

impl Value for SocketAddr {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("{text:?} is not a socket address like 127.0.0.1:8080"))
    }
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl Value for String {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
    fn show(&self) -> Option<String> {
        Some(self.clone())
    }
}

/// A comma-separated list, each entry trimmed, empty entries dropped.
pub(crate) fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Value for Vec<String> {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(list(text))
    }
    fn show(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.join(","))
    }
}

/// An enum configured by name. The names are written once, in [`Keyword::NAMES`]: parsing
/// (case-insensitive), printing (the first name of a value) and the error message all read them.
pub trait Keyword: Copy + PartialEq + 'static {
    /// Every accepted name with its value; the first name of a value is the one printed.
    const NAMES: &'static [(&'static str, Self)];

    /// The printed name of the value.
    #[must_use]
    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(n, _)| n)
    }
}

/// The value named `text`, matched without regard to case.
pub(crate) fn parse_keyword<K: Keyword>(text: &str) -> Result<K, String> {
    K::NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(text))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = K::NAMES.iter().map(|(n, _)| *n).collect();
            match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => {
                    format!("{text:?} is not {} or {last}", rest.join(", "))
                }
                _ => format!("{text:?} is not {}", names.join("")),
            }
        })
}

impl Keyword for bool {
    const NAMES: &'static [(&'static str, bool)] = &[
        ("true", true),
        ("false", false),
        ("1", true),
        ("0", false),
        ("yes", true),
        ("no", false),
        ("on", true),
        ("off", false),
    ];
}

/// Implements [`Value`] for [`Keyword`] enums.
macro_rules! keyword_value {
    ($($t:ty),*) => {$(
        impl $crate::config::values::Value for $t {
            fn parse(text: &str) -> Result<Self, String> {
                $crate::config::values::parse_keyword(text)
            }
            fn show(&self) -> Option<String> {
                Some($crate::config::values::Keyword::name(*self).to_owned())
            }
        }
    )*};
}
pub(crate) use keyword_value;
keyword_value!(bool);

/// A secret string: never printed by `Debug`, masked by `config check`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself: call only where it is compared or used.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl Value for Secret {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(Secret::new(text))
    }
    fn show(&self) -> Option<String> {
        Some(self.0.clone())
    }
}

/// The scheme of an absolute URI (`https` of `https://app.example.com/login`), when it has
/// one followed by `://`.
#[must_use]
pub fn uri_scheme(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok && !rest.is_empty()).then_some(scheme)
}

/// Hides the password part of `redis://user:password@host` URLs (each of a comma list).
#[must_use]
pub fn mask_url(url: &str) -> String {
    url.split(',')
        .map(|u| {
            let u = u.trim();
            match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s + 3 => {
                    let userinfo = &u[s + 3..at];
                    let user = userinfo.split(':').next().unwrap_or("");
                    if userinfo.contains(':') {
                        format!("{}{}:****{}", &u[..s + 3], user, &u[at..])
                    } else {
                        format!("{}****{}", &u[..s + 3], &u[at..])
                    }
                }
                _ => u.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Hides the passwords of a `postgres://` URL: the userinfo's, and a `password=` parameter.
#[must_use]
pub fn mask_db_url(url: &str) -> String {
    let masked = mask_url(url);
    match masked.split_once('?') {
        None => masked,
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=****"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
    }
}

/// A JSON-RPC node URL as it may be shown: scheme, host and port only (no user info, path or
/// query, where providers put API keys).
#[must_use]
pub fn mask_rpc_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "****".to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let hidden = authority.len() != host.len() || !rest[end..].trim_matches('/').is_empty();
    format!("{scheme}://{host}{}", if hidden { "/****" } else { "" })
}
