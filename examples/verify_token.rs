//! How a downstream service verifies a wallet-auth token offline, with the `jsonwebtoken`
//! crate (`features = ["rust_crypto"]`): fetch the JWKS, pick the key named by the token's
//! `kid`, check the ES256 signature, `iss`, `aud` and `exp`.
//!
//! ```text
//! cargo run --example verify_token -- https://auth.example.com https://auth.example.com < token.txt
//! ```
//! (arguments: the server's base URL, then the expected issuer; an optional third argument is the
//! audience, default the issuer). The test suite runs [`verify`] on real tokens.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The claims of a wallet-auth token.
#[derive(Debug, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// `eip155:1:0xAbC…`, `solana:5eykt4…:<base58>` or `user:<name>`.
    pub sub: String,
    /// The session the token was minted for.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub roles: Vec<String>,
    /// CAIP-10 account id, for a wallet session.
    pub wallet: Option<String>,
}

/// Verifies `token` against the JWKS document `jwks` (the body of
/// `GET /.well-known/jwks.json`): ES256 only, the key named by `kid`, issuer, audience and
/// expiry (no leeway).
///
/// # Errors
/// Any failure: unknown `kid`, bad signature, wrong issuer or audience, expired.
pub fn verify(
    token: &str,
    jwks: &str,
    issuer: &str,
    audience: &str,
) -> Result<Claims, jsonwebtoken::errors::Error> {
    let set: JwkSet = serde_json::from_str(jwks)?;
    let kid = decode_header(token)?
        .kid
        .ok_or(jsonwebtoken::errors::ErrorKind::InvalidToken)?;
    let jwk = set
        .find(&kid)
        .ok_or(jsonwebtoken::errors::ErrorKind::InvalidToken)?;
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 0;
    Ok(decode::<Claims>(token, &key, &validation)?.claims)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .ok_or("usage: verify_token BASE_URL ISSUER [AUDIENCE] < token")?;
    let issuer = args
        .next()
        .ok_or("usage: verify_token BASE_URL ISSUER [AUDIENCE] < token")?;
    let audience = args.next().unwrap_or_else(|| issuer.clone());
    let mut token = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut token)?;
    // A real service caches the JWKS (it is served with `Cache-Control: max-age=300`) and
    // fetches it again when a token names a `kid` it does not know.
    let jwks = reqwest::get(format!("{base}/.well-known/jwks.json"))
        .await?
        .error_for_status()?
        .text()
        .await?;
    let claims = verify(token.trim(), &jwks, &issuer, &audience)?;
    println!("valid: {claims:?}");
    Ok(())
}
