//! Wallet sign-in, from nonce to session: issuing a nonce, and turning a signed message into a
//! wallet session. This is where the sign-in rules live — which nonce a message may use, the
//! verification policy, when a contract wallet's signature goes to its chain's node, when a taken
//! nonce is put back, what the audit trail records — so that the HTTP layer (or a library
//! caller) only translates requests into [`SignIns::issue_nonce`] / [`SignIns::sign_in`] and their
//! results into responses.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::audit::{Audit, AuditEvent, AuditKind};
use super::crypto::random_alphanumeric;
use super::wallet::{wallet_tag, RequestContext, SessionInfo, WalletSessions};
use crate::clock::{from_unix_ms, unix_ms, Clock};
use crate::config::EthChainIds;
use crate::contract_wallets::{ContractWallets, Unavailable};
use crate::store::{AccountId, Store, StoreError};
use crate::verify::{
    self, Chain, ChainIdPolicy, MessageParams, NoncePolicy, ParsedMessage, Policy, Verified,
    VerifyError, WalletType,
};

/// Nonce length: 24 alphanumeric characters ≈ 142 bits.
pub const NONCE_LEN: usize = 24;

/// A nonce taken by a sign-in that then failed on the store is put back for the retry; when the
/// store is still failing, putting it back is retried in the background for at most this long
/// (and never past the nonce's expiry).
pub const NONCE_RELEASE_RETRY: Duration = Duration::from_secs(60);
/// First and longest pause between two attempts to put a nonce back.
const NONCE_RELEASE_BACKOFF: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(2));

/// The settings sign-in reads: the configuration's own (`AUTH_DOMAINS`, `AUTH_URI`,
/// `AUTH_STRICT_URI`, the chain ids, `NONCE_TTL`, `CLOCK_SKEW`).
pub use crate::config::SignInSettings;

/// Why a nonce was not issued or a sign-in refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The message or its signature was refused.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The nonce is unknown, already used, expired, or issued for another chain or wallet.
    #[error("the nonce is unknown, already used, expired, or issued for another wallet")]
    NonceInvalid,
    /// An Ethereum chain id asked for a nonce that is not a positive integer.
    #[error("chainId must be a positive integer")]
    InvalidChainId,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A contract wallet's signature needs its chain's node, which is unavailable.
    #[error(transparent)]
    VerifierUnavailable(Unavailable),
    /// The server cannot do it as configured (a bug or an out-of-range setting).
    #[error("{0}")]
    Internal(&'static str),
}

impl SignInError {
    /// The code a failed sign-in is recorded with in the audit trail (the API's error code of
    /// the same failure).
    #[must_use]
    pub fn audit_code(&self) -> &'static str {
        match self {
            SignInError::Verify(v) => match v {
                VerifyError::InvalidMessage(_) => "invalid_message",
                VerifyError::InvalidSignature(_) => "invalid_signature",
                VerifyError::DomainMismatch => "domain_mismatch",
                VerifyError::ChainNotAllowed => "chain_not_allowed",
                VerifyError::MessageExpired => "message_expired",
                VerifyError::MessageNotYetValid => "message_not_yet_valid",
                VerifyError::NonceInvalid => "nonce_invalid",
                VerifyError::MissingPolicy(_) => "internal",
            },
            SignInError::NonceInvalid => "nonce_invalid",
            SignInError::InvalidChainId => "bad_request",
            SignInError::Store(_) => "store_unavailable",
            SignInError::VerifierUnavailable(_) => "verifier_unavailable",
            SignInError::Internal(_) => "internal",
        }
    }
}

/// A refused sign-in, with how far it got.
#[derive(Debug)]
pub struct SignInFailure {
    /// Why it was refused.
    pub error: SignInError,
    /// Whether the signature was judged an EOA's or a contract's, if it got that far.
    pub wallet_type: Option<WalletType>,
}

/// A signed message presented to sign in.
#[derive(Debug, Clone, Copy)]
pub struct SignInRequest<'a> {
    /// The chain the message is for.
    pub chain: Chain,
    /// The exact EIP-4361 / SIWS text that was signed.
    pub message: &'a str,
    /// The signature, as the client sent it.
    pub signature: &'a str,
    /// Solana only: the public key, which must equal the message's address.
    pub public_key: Option<&'a str>,
    /// Where the request comes from.
    pub client: &'a RequestContext,
}

/// A wallet that signed in: its new session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session's token (shown once).
    pub token: String,
    /// The session.
    pub info: SessionInfo,
}

/// A fresh nonce, and what a client needs to build the message around it.
#[derive(Debug, Clone)]
pub struct IssuedNonce {
    /// Single-use, alphanumeric.
    pub nonce: String,
    /// Issue time.
    pub issued_at: OffsetDateTime,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// The domain to sign for.
    pub domain: String,
    /// The URI to sign for.
    pub uri: String,
    /// The chain.
    pub chain: Chain,
    /// The chain id to sign for (none for Solana with no allowed chain ids).
    pub chain_id: Option<String>,
    /// A ready-to-sign message, when the nonce was bound to an address.
    pub message: Option<String>,
}

/// What a nonce is stored with.
#[derive(Debug, Serialize, Deserialize)]
struct NonceBinding {
    chain: Chain,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    address: Option<String>,
    /// When the nonce expires, Unix ms: what is left of its lifetime when a sign-in that took
    /// it failed on the store and puts it back. (Absent from nonces issued before it was kept:
    /// those are not put back.)
    #[serde(skip_serializing_if = "Option::is_none", default)]
    exp: Option<i64>,
    /// When the nonce was issued, Unix ms: a signed `Issued At` may not be earlier than this
    /// minus the clock skew. (Absent from nonces issued before it was kept.)
    #[serde(rename = "iat", skip_serializing_if = "Option::is_none", default)]
    issued_at_ms: Option<i64>,
    /// A link nonce: the account it links to. Only `/auth/link` of that account takes it,
    /// and a sign-in refuses it (absent from sign-in nonces).
    #[serde(rename = "acct", skip_serializing_if = "Option::is_none", default)]
    account: Option<String>,
}

/// Wallet sign-in: nonces, verification, the new session and its audit trail.
#[derive(Clone)]
pub struct SignIns {
    store: Arc<dyn Store>,
    sessions: WalletSessions,
    contracts: Arc<ContractWallets>,
    audit: Audit,
    clock: Arc<dyn Clock>,
    settings: SignInSettings,
}

impl std::fmt::Debug for SignIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIns")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SignIns {
    /// Sign-in over `store`, opening sessions with `sessions` and checking contract wallets'
    /// signatures with `contracts`.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        sessions: WalletSessions,
        contracts: Arc<ContractWallets>,
        audit: Audit,
        clock: Arc<dyn Clock>,
        settings: SignInSettings,
    ) -> Self {
        SignIns {
            store,
            sessions,
            contracts,
            audit,
            clock,
            settings,
        }
    }

    /// The chain id a nonce is issued for: `requested` (a Solana one may carry its `solana:`
    /// prefix), or the first allowed; checked against the allow-list.
    fn nonce_chain_id(
        &self,
        chain: Chain,
        requested: Option<String>,
    ) -> Result<Option<String>, SignInError> {
        let s = &self.settings;
        match chain {
            Chain::Ethereum => {
                let id = match requested {
                    Some(t) => t.parse::<u64>().map_err(|_| SignInError::InvalidChainId)?,
                    None => match &s.eth_chain_ids {
                        EthChainIds::Only(ids) => ids.first().copied().unwrap_or(1),
                        EthChainIds::Any => 1,
                    },
                };
                if let EthChainIds::Only(ids) = &s.eth_chain_ids {
                    if !ids.contains(&id) {
                        return Err(VerifyError::ChainNotAllowed.into());
                    }
                }
                Ok(Some(id.to_string()))
            }
            Chain::Solana => {
                let id = requested
                    .map(|t| t.strip_prefix("solana:").map(str::to_owned).unwrap_or(t))
                    .or_else(|| s.solana_chain_ids.first().cloned());
                if let Some(id) = &id {
                    if !s.solana_chain_ids.contains(id) {
                        return Err(VerifyError::ChainNotAllowed.into());
                    }
                }
                Ok(id)
            }
        }
    }

    /// Issues a nonce for `chain`, bound to `address` (already normalized) when given, for the
    /// chain id `chain_id` (as text) or the first allowed.
    ///
    /// # Errors
    /// The chain id is not allowed or malformed, or the store failed.
    pub async fn issue_nonce(
        &self,
        chain: Chain,
        address: Option<String>,
        chain_id: Option<String>,
    ) -> Result<IssuedNonce, SignInError> {
        self.issue(chain, address, chain_id, None).await
    }

    /// Issues a nonce as [`Self::issue_nonce`], bound to `account` and usable only to link a
    /// wallet to it ([`Self::prove_for_link`]).
    ///
    /// # Errors
    /// The chain id is not allowed or malformed, or the store failed.
    pub async fn issue_link_nonce(
        &self,
        account: &AccountId,
        chain: Chain,
        address: Option<String>,
        chain_id: Option<String>,
    ) -> Result<IssuedNonce, SignInError> {
        self.issue(chain, address, chain_id, Some(account)).await
    }

    async fn issue(
        &self,
        chain: Chain,
        address: Option<String>,
        chain_id: Option<String>,
        account: Option<&AccountId>,
    ) -> Result<IssuedNonce, SignInError> {
        let chain_id = self.nonce_chain_id(chain, chain_id)?;
        let s = &self.settings;
        let now = self.clock.now();
        let expires_at = time::Duration::try_from(s.nonce_ttl)
            .ok()
            .and_then(|ttl| now.checked_add(ttl))
            .ok_or(SignInError::Internal("nonce expiry out of range"))?;
        let nonce = random_alphanumeric(NONCE_LEN);
        let binding = NonceBinding {
            chain,
            address: address.clone(),
            exp: Some(unix_ms(now + s.nonce_ttl)),
            issued_at_ms: Some(unix_ms(now)),
            account: account.map(|a| a.as_str().to_owned()),
        };
        let value = serde_json::to_vec(&binding).unwrap_or_default();
        if !self.store.put_nonce(&nonce, &value, s.nonce_ttl).await? {
            return Err(SignInError::Internal("nonce collision"));
        }
        let domain = s.domains.first().cloned().unwrap_or_default();
        let message = address.as_deref().map(|addr| {
            verify::prepare_message(&MessageParams {
                chain,
                domain: &domain,
                address: addr,
                statement: Some("Sign in with your wallet."),
                uri: &s.uri,
                chain_id: chain_id.as_deref(),
                nonce: &nonce,
                issued_at: now,
                expiration_time: None,
            })
        });
        Ok(IssuedNonce {
            nonce,
            issued_at: now,
            expires_at,
            domain,
            uri: s.uri.clone(),
            chain,
            chain_id,
            message,
        })
    }

    /// Verifies a sign-in and opens its session, recording the outcome in the audit trail.
    ///
    /// The nonce is consumed (atomically: of concurrent verifies of one message, one gets it)
    /// before the signature is checked: a failed attempt burns it, so one nonce buys at most one
    /// expensive verification (and at most one node call, for a contract wallet) at a time. An
    /// EOA signature is checked locally and never waits on a node; a contract wallet's (on a
    /// chain with a node) goes to the node last, after every local check. Only when a
    /// dependency then fails — the store while opening the session, or the chain's node — is
    /// the nonce put back, with what is left of its lifetime, so the same signed message can be
    /// retried.
    ///
    /// A failure after a valid signature goes to that wallet's audit log; with no proven wallet
    /// it is only counted (never stored), so anonymous traffic cannot flush the audit logs; a
    /// store failure is not recorded.
    ///
    /// # Errors
    /// Why the sign-in was refused, with how far it got.
    #[tracing::instrument(skip_all, fields(chain = %req.chain))]
    pub async fn sign_in(&self, req: SignInRequest<'_>) -> Result<SignedIn, SignInFailure> {
        let mut attempt = Attempt::default();
        let outcome = self.take_nonce_and_sign_in(&req, &mut attempt).await;
        match outcome {
            // The session's store step recorded the sign-in (see `WalletSessions::create`).
            Ok(signed_in) => Ok(signed_in),
            Err(error) => {
                let now = self.clock.now();
                if !matches!(error, SignInError::Store(_)) {
                    let mut ev = AuditEvent::new(AuditKind::SignInFailure, now)
                        .code(error.audit_code())
                        .ip(&req.client.ip);
                    ev.chain = Some(req.chain);
                    ev.address = attempt.proven;
                    self.audit.record(ev).await;
                }
                Err(SignInFailure {
                    error,
                    wallet_type: attempt.wallet_type,
                })
            }
        }
    }

    /// [`Self::sign_in`] up to its audit event: takes the nonce, and puts it back when a
    /// dependency failed.
    async fn take_nonce_and_sign_in(
        &self,
        req: &SignInRequest<'_>,
        attempt: &mut Attempt,
    ) -> Result<SignedIn, SignInError> {
        let message = verify::parse_message(req.chain, req.message)?;
        let nonce = message.nonce.clone();
        // The claim of the wallet the message names is read with the nonce, in the same round
        // trip: the session's store step then needs no read of its own. The read is
        // speculative (the signature is not checked yet) and writes nothing; the session is
        // opened only for the proven address, and the claim is used only when it is that
        // address's.
        let speculative = wallet_tag(req.chain, &message.account());
        let (taken, claim) = tokio::join!(
            self.store.take_nonce(&nonce),
            self.store.get_claim(&speculative)
        );
        let Some(taken) = taken? else {
            return Err(SignInError::NonceInvalid);
        };
        let outcome = async {
            let (signin, kind) = self.prove(message, req, &taken, attempt, None).await?;
            let known = claim
                .ok()
                .filter(|_| wallet_tag(signin.message.chain, &signin.address) == speculative);
            let (token, info) = self
                .sessions
                .create_with_claim(
                    signin.message.chain,
                    &signin.address,
                    signin.chain_id.clone(),
                    kind,
                    req.client,
                    known,
                )
                .await?;
            Ok(SignedIn { token, info })
        }
        .await;
        if matches!(
            outcome,
            Err(SignInError::Store(_) | SignInError::VerifierUnavailable(_))
        ) {
            self.release_nonce(nonce, taken).await;
        }
        outcome
    }

    /// The checks of a sign-in with `nonce`, issued at `nonce_issued_at` (unknown for a nonce
    /// of an older version: then `Issued At` may be at most the nonce lifetime old).
    fn policy(
        &self,
        chain: Chain,
        nonce: String,
        nonce_issued_at: Option<OffsetDateTime>,
    ) -> Result<Policy, SignInError> {
        let s = &self.settings;
        let chain_ids = match chain {
            Chain::Ethereum => match &s.eth_chain_ids {
                EthChainIds::Any => ChainIdPolicy::Any,
                EthChainIds::Only(ids) => {
                    ChainIdPolicy::Only(ids.iter().map(u64::to_string).collect())
                }
            },
            Chain::Solana => ChainIdPolicy::Only(s.solana_chain_ids.clone()),
        };
        let skew = time::Duration::try_from(s.clock_skew)
            .map_err(|_| SignInError::Internal("clock skew out of range"))?;
        let policy = Policy::new(
            s.domains.clone(),
            chain_ids,
            self.clock.now(),
            skew,
            NoncePolicy::Expect(nonce),
        )?;
        let policy = match nonce_issued_at {
            Some(issued_at) => policy.with_nonce_issued_at(issued_at),
            None => policy.with_max_age(
                time::Duration::try_from(s.nonce_ttl)
                    .map_err(|_| SignInError::Internal("nonce ttl out of range"))?,
            ),
        };
        Ok(policy
            .with_strict_uri_origin(s.strict_uri)
            .with_scheme(crate::config::uri_scheme(&s.uri).unwrap_or("https")))
    }

    /// Checks a signed message for linking its wallet to `account`: the nonce must be a link
    /// nonce of that account (any other nonce is refused, and spent). Nothing is written but
    /// the nonce's consumption; the nonce is put back only when a contract wallet's node was
    /// unavailable. Returns the proven wallet.
    ///
    /// # Errors
    /// Why the message was refused, with how far it got.
    #[tracing::instrument(skip_all, fields(chain = %req.chain))]
    pub async fn prove_for_link(
        &self,
        req: SignInRequest<'_>,
        account: &AccountId,
    ) -> Result<(Chain, String), SignInFailure> {
        let mut attempt = Attempt::default();
        let outcome = async {
            let message = verify::parse_message(req.chain, req.message)?;
            let nonce = message.nonce.clone();
            let Some(taken) = self.store.take_nonce(&nonce).await? else {
                return Err(SignInError::NonceInvalid);
            };
            let proven = self
                .prove(message, &req, &taken, &mut attempt, Some(account))
                .await;
            if matches!(proven, Err(SignInError::VerifierUnavailable(_))) {
                self.release_nonce(nonce, taken).await;
            }
            let (signin, _) = proven?;
            Ok((signin.message.chain, signin.address))
        }
        .await;
        outcome.map_err(|error| SignInFailure {
            error,
            wallet_type: attempt.wallet_type,
        })
    }

    /// The checks of a signed message once its nonce is taken (`taken`: what it was stored
    /// with), for a sign-in (`link` `None`: the nonce must be a sign-in nonce) or to link to
    /// an account (a link nonce of that account). Returns the verified message and how the
    /// wallet signed.
    async fn prove(
        &self,
        message: ParsedMessage,
        req: &SignInRequest<'_>,
        taken: &[u8],
        attempt: &mut Attempt,
        link: Option<&AccountId>,
    ) -> Result<(verify::SignIn, WalletType), SignInError> {
        let chain = message.chain;
        let bound: NonceBinding =
            serde_json::from_slice(taken).map_err(|_| SignInError::NonceInvalid)?;
        if bound.chain != chain || bound.account.as_deref() != link.map(AccountId::as_str) {
            return Err(SignInError::NonceInvalid);
        }
        let nonce_issued_at = bound.issued_at_ms.map(from_unix_ms);
        let policy = self.policy(chain, message.nonce.clone(), nonce_issued_at)?;
        let verified = verify::verify_or_defer(
            message,
            req.signature,
            req.public_key,
            &policy,
            self.contracts.chain_ids(),
        )?;
        let (signin, claim) = match verified {
            Verified::Eoa(signin) => {
                attempt.proven = Some(signin.address.clone());
                (signin, None)
            }
            Verified::Contract(signin, claim) => (signin, Some(claim)),
        };
        if bound
            .address
            .as_deref()
            .is_some_and(|a| a != signin.address)
        {
            return Err(SignInError::NonceInvalid);
        }
        let kind = match claim {
            None => WalletType::Eoa,
            Some(claim) => {
                attempt.wallet_type = Some(WalletType::Contract);
                if !self
                    .contracts
                    .check(&claim)
                    .await
                    .map_err(SignInError::VerifierUnavailable)?
                {
                    return Err(VerifyError::InvalidSignature(
                        "the wallet's contract did not accept it (EIP-1271 / ERC-6492)".into(),
                    )
                    .into());
                }
                attempt.proven = Some(signin.address.clone());
                WalletType::Contract
            }
        };
        attempt.wallet_type = Some(kind);
        Ok((signin, kind))
    }

    /// Puts back a nonce taken by a sign-in that failed on a dependency: tried at once, then,
    /// while the store keeps failing, in the background with backoff for at most
    /// [`NONCE_RELEASE_RETRY`] and never past the nonce's expiry. The nonce is put back only
    /// if it is still absent (`SET NX`), with what is left of its lifetime.
    async fn release_nonce(&self, nonce: String, taken: Vec<u8>) {
        let Some(exp) = serde_json::from_slice::<NonceBinding>(&taken)
            .ok()
            .and_then(|b| b.exp)
        else {
            return;
        };
        if self.put_nonce_back(&nonce, &taken, exp).await {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let give_up = tokio::time::Instant::now() + NONCE_RELEASE_RETRY;
            let (mut pause, longest) = NONCE_RELEASE_BACKOFF;
            loop {
                tokio::time::sleep(pause).await;
                if tokio::time::Instant::now() >= give_up {
                    tracing::warn!("gave up putting back the nonce of a sign-in the store failed");
                    return;
                }
                if this.put_nonce_back(&nonce, &taken, exp).await {
                    return;
                }
                pause = (pause * 2).min(longest);
            }
        });
    }

    /// One attempt of [`Self::release_nonce`]; `true` when there is nothing more to do.
    async fn put_nonce_back(&self, nonce: &str, value: &[u8], exp_ms: i64) -> bool {
        let left = exp_ms - unix_ms(self.clock.now());
        let Ok(left) = u64::try_from(left) else {
            return true;
        };
        if left == 0 {
            return true;
        }
        match self
            .store
            .put_nonce(nonce, value, Duration::from_millis(left))
            .await
        {
            Ok(_) => {
                tracing::info!(
                    "put back the nonce of a sign-in the store failed; it can be retried"
                );
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not put back the nonce of a sign-in yet");
                false
            }
        }
    }
}

/// What a sign-in attempt established before it ended, for metrics and the audit trail.
#[derive(Debug, Default)]
struct Attempt {
    /// The wallet whose signature was proven valid, if the attempt got that far.
    proven: Option<String>,
    /// Whether the signature was judged an EOA's or a contract's.
    wallet_type: Option<WalletType>,
}
