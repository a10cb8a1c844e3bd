//! Accounts: who a session belongs to. An account (`accountId`, random and opaque) has one or
//! more identities — wallets, and at most one username/password — and a set of roles. Wallet
//! and user sessions both carry their account's id and roles (cached in the session record,
//! re-read at most every [`ROLES_REFRESH`]).
//!
//! # Identities and their keys
//! An identity's canonical key is `eip155:<EIP-55 address>` for an Ethereum wallet (one identity
//! on every EVM chain: the chain id is not part of it), `solana:<base58>` for a Solana wallet,
//! and `password:<username>` for a password. Its *tag* is where its claim and its sessions are
//! stored: the wallet tag of a wallet, and for a password the same hash over `password:<name>`.
//!
//! # Why the claim is the truth, and the account's list derived
//! The store keeps, per identity, a *claim* naming its account, next to the identity's sessions
//! (one Redis Cluster slot, one PostgreSQL advisory lock). A first sign-in writes the claim and
//! the session in one atomic step ([`Store::create_session_claimed`]), so no account exists
//! without an identity that names it and no session without its account. Linking, moving and
//! unlinking change the claim by compare-and-swap ([`Store::swap_claim`]): of two concurrent
//! links of one wallet, exactly one finds the claim it expected. The account's record (its
//! roles and its list of identities) lives apart from every claim (another slot), so no store
//! step covers both; the list is kept as a superset of the truth instead — an identity is
//! listed *before* its claim is written and taken off *after* its claim is gone — and every
//! reader checks each listed identity against its claim and drops the stale ones. A claim whose
//! account does not list it (a crash between the two writes) is listed again at its next
//! sign-in. Roles are only in the record.
//!
//! # Bounds
//! At most [`MAX_IDENTITIES`] identities per account, at most [`MAX_ROLES`] roles of at most
//! [`MAX_ROLE_LEN`] characters (`[a-z][a-z0-9_-]*`).

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::crypto::{hash_b64, random_token, wallet_tag};
use crate::clock::{from_unix_ms, unix_ms, Clock};
use crate::store::{
    AccountId, AccountRecord, Claim, ClaimSwap, Claimed, IndexEntry, NewIdentity, NewSession,
    SessionClaim, SessionExtras, SessionId, Store, StoreError, TokenHash, WalletTag,
};
use crate::verify::Chain;

/// Most identities one account has.
pub const MAX_IDENTITIES: usize = 20;
/// Most roles one account has.
pub const MAX_ROLES: usize = 16;
/// Longest role name.
pub const MAX_ROLE_LEN: usize = 32;
/// A session re-reads its account's roles at most this often, so a change of roles reaches
/// every live session within this long (and a session costs at most one store write per
/// period for it).
pub const ROLES_REFRESH: Duration = Duration::from_secs(30);
/// The role that `/admin/*` accepts.
pub const ADMIN_ROLE: &str = "admin";
/// Attempts at opening a session while the identity's claim changes under it.
const CLAIM_ATTEMPTS: usize = 4;

/// One identity of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A wallet (address in EIP-55 or base58).
    Wallet {
        /// Its chain.
        chain: Chain,
        /// Its address.
        address: String,
    },
    /// A username with a password.
    Password {
        /// The username.
        username: String,
    },
}

impl Identity {
    /// A wallet identity.
    #[must_use]
    pub fn wallet(chain: Chain, address: &str) -> Self {
        Identity::Wallet {
            chain,
            address: address.to_owned(),
        }
    }

    /// A password identity.
    #[must_use]
    pub fn password(username: &str) -> Self {
        Identity::Password {
            username: username.to_owned(),
        }
    }

    /// The canonical key (`eip155:<address>`, `solana:<address>`, `password:<username>`).
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Identity::Wallet {
                chain: Chain::Ethereum,
                address,
            } => format!("eip155:{address}"),
            Identity::Wallet {
                chain: Chain::Solana,
                address,
            } => format!("solana:{address}"),
            Identity::Password { username } => format!("password:{username}"),
        }
    }

    /// Reads a canonical key back.
    #[must_use]
    pub fn from_key(key: &str) -> Option<Self> {
        let (kind, rest) = key.split_once(':')?;
        match kind {
            "eip155" => Some(Identity::wallet(Chain::Ethereum, rest)),
            "solana" => Some(Identity::wallet(Chain::Solana, rest)),
            "password" => Some(Identity::password(rest)),
            _ => None,
        }
    }

    /// Where its claim and its sessions are stored.
    #[must_use]
    pub fn tag(&self) -> WalletTag {
        match self {
            Identity::Wallet { chain, address } => wallet_tag(*chain, address),
            Identity::Password { username } => password_tag(username),
        }
    }

    /// The form `ADMIN_WALLETS` entries are compared in: Ethereum addresses in lower case.
    fn admin_form(&self) -> Option<String> {
        match self {
            Identity::Wallet {
                chain: Chain::Ethereum,
                address,
            } => Some(format!("ethereum:{}", address.to_ascii_lowercase())),
            Identity::Wallet {
                chain: Chain::Solana,
                address,
            } => Some(format!("solana:{address}")),
            Identity::Password { .. } => None,
        }
    }
}

/// The tag of the password identity `username`.
#[must_use]
pub fn password_tag(username: &str) -> WalletTag {
    WalletTag::new(hash_b64(format!("password:{username}").as_bytes(), 9))
}

/// Whether `role` is an acceptable role name: 1–32 of `a-z 0-9 _ -`, starting with a letter.
#[must_use]
pub fn valid_role(role: &str) -> bool {
    role.len() <= MAX_ROLE_LEN
        && role.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// An account as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Its roles as sessions get them (stored roles, and `admin` for `ADMIN_WALLETS`).
    pub roles: Vec<String>,
    /// Its identities, by key.
    pub identities: Vec<Identity>,
}

/// A session to open for an identity, once its account is known (see
/// [`Directory::open_session`]).
#[derive(Debug, Clone)]
pub struct SealedSession {
    /// Public session id.
    pub session_id: SessionId,
    /// Hash of its token.
    pub token_hash: TokenHash,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// The sealed record.
    pub record: Vec<u8>,
    /// Its time to live.
    pub ttl: Duration,
}

/// The accounts as sessions read them: which account an identity belongs to, and its roles.
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// `ADMIN_WALLETS`, as `ethereum:<lowercase>` / `solana:<base58>`.
    admin_wallets: Arc<[String]>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("admin_wallets", &self.admin_wallets.len())
            .finish_non_exhaustive()
    }
}

/// Roles sorted and without duplicates.
fn normalized(mut roles: Vec<String>) -> Vec<String> {
    roles.sort();
    roles.dedup();
    roles
}

impl Directory {
    /// The accounts kept in `store`; `admin_wallets` are `ADMIN_WALLETS` as the configuration
    /// reads them (`ethereum:<lowercase hex>`, `solana:<base58>`).
    #[must_use]
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, admin_wallets: Vec<String>) -> Self {
        Directory {
            store,
            clock,
            admin_wallets: admin_wallets.into(),
        }
    }

    /// A new account id: 16 random bytes, URL-safe base64.
    #[must_use]
    pub fn new_account_id() -> AccountId {
        AccountId::new(random_token(16))
    }

    /// The account `identity` belongs to.
    ///
    /// # Errors
    /// The store failed.
    pub async fn owner(&self, identity: &Identity) -> Result<Option<AccountId>, StoreError> {
        Ok(self
            .store
            .get_claim(&identity.tag())
            .await?
            .map(|c| c.account))
    }

    fn is_admin_wallet(&self, identity: &Identity) -> bool {
        identity
            .admin_form()
            .is_some_and(|f| self.admin_wallets.contains(&f))
    }

    /// Whether the claim of `identity` names `account`.
    async fn claimed_by(
        &self,
        identity: &Identity,
        account: &AccountId,
    ) -> Result<bool, StoreError> {
        Ok(self.owner(identity).await?.as_ref() == Some(account))
    }

    /// The roles a session of `account` gets, given its record: the stored ones, and `admin`
    /// while one of its identities (checked against its claim) is in `ADMIN_WALLETS`.
    async fn roles_of(
        &self,
        account: &AccountId,
        record: Option<&AccountRecord>,
        extra: Option<&Identity>,
    ) -> Result<Vec<String>, StoreError> {
        let mut roles = record.map(|r| r.roles.clone()).unwrap_or_default();
        let mut admin = extra.is_some_and(|i| self.is_admin_wallet(i));
        if !admin && !self.admin_wallets.is_empty() {
            for (key, _) in record.map(|r| r.identities.as_slice()).unwrap_or_default() {
                let Some(identity) = Identity::from_key(key) else {
                    continue;
                };
                if self.is_admin_wallet(&identity) && self.claimed_by(&identity, account).await? {
                    admin = true;
                    break;
                }
            }
        }
        if admin {
            roles.push(ADMIN_ROLE.to_owned());
        }
        Ok(normalized(roles))
    }

    /// The roles sessions of `account` have now.
    ///
    /// # Errors
    /// The store failed.
    pub async fn roles(&self, account: &AccountId) -> Result<Vec<String>, StoreError> {
        let record = self.store.get_account(account).await?;
        self.roles_of(account, record.as_ref(), None).await
    }

    /// Lists `identity` on `account` (creating its record), logging a failure: the claim is
    /// the truth, and the list is repaired at the identity's next sign-in.
    async fn list(&self, account: &AccountId, identity: &Identity) -> bool {
        let added = self
            .store
            .add_account_identity(
                account,
                NewIdentity {
                    identity: &identity.key(),
                    tag: &identity.tag(),
                    created_ms: unix_ms(self.clock.now()),
                    max: MAX_IDENTITIES,
                },
            )
            .await;
        match added {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(error = %e, "could not list an identity on its account");
                false
            }
        }
    }

    /// The account of `identity`, created when it has none (a session written before accounts
    /// existed, used for the first time).
    ///
    /// # Errors
    /// The store failed.
    pub async fn account_for(&self, identity: &Identity) -> Result<AccountId, StoreError> {
        let tag = identity.tag();
        for _ in 0..CLAIM_ATTEMPTS {
            if let Some(c) = self.store.get_claim(&tag).await? {
                return Ok(c.account);
            }
            let claim = Claim {
                account: Self::new_account_id(),
                identity: identity.key(),
            };
            let swap = ClaimSwap {
                expected: None,
                new: Some(&claim),
                end_sessions: false,
            };
            if let Claimed::Done(_) = self.store.swap_claim(&tag, swap).await? {
                self.list(&claim.account, identity).await;
                return Ok(claim.account);
            }
        }
        Err(StoreError::Unavailable(
            "the identity's account kept changing".to_owned(),
        ))
    }

    /// Opens a session of `identity` with its account — the one its claim names, or a new one
    /// created in the same store step as the session when it has none. `seal` builds the
    /// session's record for an account id and its roles; `extras` are written with the session
    /// (see [`Store::create_session_with`]). `known` is the identity's claim when the caller
    /// has just read it (saving that read; a claim changed since is caught by the store step,
    /// which then retries with a fresh read). Returns the account, its roles, the session as
    /// stored and the sessions evicted by `max`.
    ///
    /// # Errors
    /// The store failed, or the claim changed on every attempt.
    pub async fn open_session(
        &self,
        identity: &Identity,
        max: usize,
        seal: impl Fn(&AccountId, &[String]) -> SealedSession,
        extras: SessionExtras<'_>,
        mut known: Option<Option<Claim>>,
    ) -> Result<(AccountId, Vec<String>, Vec<(IndexEntry, Vec<u8>)>), StoreError> {
        let tag = identity.tag();
        let key = identity.key();
        for _ in 0..CLAIM_ATTEMPTS {
            let current = match known.take() {
                Some(claim) => claim,
                None => self.store.get_claim(&tag).await?,
            };
            let (account, record) = match &current {
                Some(c) => (c.account.clone(), self.store.get_account(&c.account).await?),
                None => (Self::new_account_id(), None),
            };
            let roles = self
                .roles_of(&account, record.as_ref(), Some(identity))
                .await?;
            let s = seal(&account, &roles);
            let claim = Claim {
                account: account.clone(),
                identity: key.clone(),
            };
            let condition = match current {
                Some(_) => SessionClaim::Existing(&account),
                None => SessionClaim::New(&claim),
            };
            let new = NewSession {
                session_id: &s.session_id,
                token_hash: &s.token_hash,
                created_ms: s.created_ms,
                record: &s.record,
                ttl: s.ttl,
            };
            match self
                .store
                .create_session_with(&tag, new, max, condition, extras)
                .await?
            {
                Claimed::Done(evicted) => {
                    let listed = record
                        .as_ref()
                        .is_some_and(|r| r.identities.iter().any(|(k, _)| *k == key));
                    if !listed {
                        self.list(&account, identity).await;
                    }
                    return Ok((account, roles, evicted));
                }
                Claimed::Mismatch(_) => continue,
            }
        }
        Err(StoreError::Unavailable(
            "the identity's account kept changing".to_owned(),
        ))
    }

    /// The account `account` as its owner sees it: its listed identities that its claims
    /// confirm (stale entries are taken off the list); `None` when it has no record.
    ///
    /// # Errors
    /// The store failed.
    pub async fn account(&self, account: &AccountId) -> Result<Option<Account>, StoreError> {
        let Some(record) = self.store.get_account(account).await? else {
            return Ok(None);
        };
        let mut identities = Vec::with_capacity(record.identities.len());
        for (key, _) in &record.identities {
            let Some(identity) = Identity::from_key(key) else {
                continue;
            };
            if self.claimed_by(&identity, account).await? {
                identities.push(identity);
            } else {
                // Not (or no longer) its: a link that lost its race, or an identity moved away.
                self.store
                    .remove_account_identity(account, key, false)
                    .await?;
            }
        }
        let roles = self.roles_of(account, Some(&record), None).await?;
        Ok(Some(Account {
            id: account.clone(),
            created_at: from_unix_ms(record.created_ms),
            roles,
            identities,
        }))
    }

    /// The store the directory reads.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, by the directory's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        unix_ms(self.clock.now())
    }
}

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The identity belongs to another account (that has another identity), or the account
    /// already has a password.
    #[error("{0}")]
    InUse(&'static str),
    /// The account would lose its last identity.
    #[error("an account cannot lose its last identity")]
    LastIdentity,
    /// No such account, or the identity is not one of its.
    #[error("{0}")]
    NotFound(&'static str),
    /// A role name or count out of bounds.
    #[error("{0}")]
    BadRoles(String),
    /// A username or password out of bounds.
    #[error(transparent)]
    BadUser(#[from] super::user::AccountError),
}

/// A session of an account, with the identity it was opened by.
#[derive(Debug, Clone)]
pub struct AccountSession {
    /// The identity.
    pub identity: Identity,
    /// Public session id.
    pub session_id: String,
    /// Sign-in time.
    pub created_at: OffsetDateTime,
    /// Last use (user sessions: their sign-in).
    pub last_seen_at: OffsetDateTime,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// User agent at sign-in ("" for user sessions).
    pub user_agent: String,
    /// IP at sign-in ("" for user sessions).
    pub ip: String,
}

/// What an account's owner and operators do with it: link and unlink identities, list and end
/// the sessions of all its identities, change its roles. Audited.
#[derive(Clone)]
pub struct Accounts {
    directory: Directory,
    wallets: super::WalletSessions,
    users: super::user::UserSessions,
    passwords: super::user::UserAccounts,
    audit: super::Audit,
    clock: Arc<dyn Clock>,
    reauth_max_age: Duration,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("reauth_max_age", &self.reauth_max_age)
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// The accounts of `directory`, over the sessions of `wallets` and `users`.
    #[must_use]
    pub fn new(
        wallets: super::WalletSessions,
        users: super::user::UserSessions,
        passwords: super::user::UserAccounts,
        audit: super::Audit,
        clock: Arc<dyn Clock>,
        reauth_max_age: Duration,
    ) -> Self {
        Accounts {
            directory: wallets.directory().clone(),
            wallets,
            users,
            passwords,
            audit,
            clock,
            reauth_max_age,
        }
    }

    /// The directory the accounts are read through.
    #[must_use]
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Whether a session signed in at `signed_in_at` is recent enough to link or unlink
    /// (`REAUTH_MAX_AGE`).
    #[must_use]
    pub fn is_recent(&self, signed_in_at: OffsetDateTime) -> bool {
        // In milliseconds, the resolution sessions keep their sign-in time in.
        let age_ms = unix_ms(self.clock.now()) - unix_ms(signed_in_at);
        age_ms <= i64::try_from(self.reauth_max_age.as_millis()).unwrap_or(i64::MAX)
    }

    /// The account `id`.
    ///
    /// # Errors
    /// No such account, or the store failed.
    pub async fn get(&self, id: &AccountId) -> Result<Account, AccountError> {
        self.directory
            .account(id)
            .await?
            .ok_or(AccountError::NotFound("no such account"))
    }

    async fn audit(
        &self,
        kind: super::AuditKind,
        account: &AccountId,
        identity: &Identity,
        n: usize,
    ) {
        let mut event = super::AuditEvent::new(kind, self.clock.now())
            .account(account.as_str())
            .identity(&identity.key())
            .count(n);
        if let Identity::Wallet { chain, address } = identity {
            event = event.wallet(*chain, address);
        }
        self.audit.record(event).await;
    }

    /// Sessions ended with a claim change leave the statistics.
    async fn ended(&self, identity: &Identity, ended: &[(IndexEntry, Vec<u8>)]) {
        if let Identity::Wallet { chain, .. } = identity {
            self.wallets.forget(&identity.tag(), *chain, ended).await;
        }
    }

    /// Gives `identity` to `account` (its owner proved control of it). An identity of an
    /// account that has nothing else is moved over: that account is deleted and the
    /// identity's sessions end. Of concurrent links of one identity, one wins.
    ///
    /// # Errors
    /// [`AccountError::InUse`] when the identity belongs to an account with another identity
    /// (or a concurrent link won), [`AccountError::InUse`] too when the account is full
    /// ([`MAX_IDENTITIES`]); the store failed.
    pub async fn link(
        &self,
        account: &AccountId,
        identity: &Identity,
    ) -> Result<Account, AccountError> {
        let key = identity.key();
        let tag = identity.tag();
        let previous = self.directory.owner(identity).await?;
        if previous.as_ref() == Some(account) {
            return self.get(account).await;
        }
        if let Some(other) = &previous {
            let others = self
                .store()
                .get_account(other)
                .await?
                .map(|r| r.identities.into_iter().filter(|(k, _)| *k != key).count())
                .unwrap_or(0);
            if others > 0 {
                return Err(AccountError::InUse(
                    "this identity belongs to another account",
                ));
            }
        }
        // Listed before it is claimed: the list is a superset of the truth.
        let listed = self
            .store()
            .add_account_identity(
                account,
                NewIdentity {
                    identity: &key,
                    tag: &tag,
                    created_ms: self.directory.now_ms(),
                    max: MAX_IDENTITIES,
                },
            )
            .await?;
        if !listed {
            return Err(AccountError::InUse(
                "the account has the most identities it may have",
            ));
        }
        let claim = Claim {
            account: account.clone(),
            identity: key.clone(),
        };
        let swap = ClaimSwap {
            expected: previous.as_ref(),
            new: Some(&claim),
            end_sessions: previous.is_some(),
        };
        let ended = match self.store().swap_claim(&tag, swap).await? {
            Claimed::Done(ended) => ended,
            Claimed::Mismatch(_) => {
                self.store()
                    .remove_account_identity(account, &key, false)
                    .await?;
                return Err(AccountError::InUse(
                    "this identity belongs to another account",
                ));
            }
        };
        self.ended(identity, &ended).await;
        if let Some(other) = &previous {
            if !self
                .store()
                .delete_account(other, std::slice::from_ref(&key))
                .await?
            {
                self.store()
                    .remove_account_identity(other, &key, false)
                    .await?;
            }
        }
        self.audit(super::AuditKind::Link, account, identity, ended.len())
            .await;
        self.get(account).await
    }

    /// Adds a password identity to `account`: a new user `username` with `password`.
    ///
    /// # Errors
    /// [`AccountError::InUse`] when the username is taken or the account has a password;
    /// a bad username or password; the store failed.
    pub async fn link_password(
        &self,
        account: &AccountId,
        username: &str,
        password: &str,
    ) -> Result<Account, AccountError> {
        let current = self.get(account).await?;
        if current
            .identities
            .iter()
            .any(|i| matches!(i, Identity::Password { .. }))
        {
            return Err(AccountError::InUse("the account already has a password"));
        }
        let identity = Identity::password(username);
        let phc = self.passwords.hash_new(username, password)?;
        if self.directory.owner(&identity).await?.is_some()
            || self.passwords.exists(username).await?
        {
            return Err(AccountError::InUse("this username is taken"));
        }
        let key = identity.key();
        let tag = identity.tag();
        if !self
            .store()
            .add_account_identity(
                account,
                NewIdentity {
                    identity: &key,
                    tag: &tag,
                    created_ms: self.directory.now_ms(),
                    max: MAX_IDENTITIES,
                },
            )
            .await?
        {
            return Err(AccountError::InUse(
                "the account has the most identities it may have",
            ));
        }
        let claim = Claim {
            account: account.clone(),
            identity: key.clone(),
        };
        let swap = ClaimSwap {
            expected: None,
            new: Some(&claim),
            end_sessions: false,
        };
        let claimed = matches!(self.store().swap_claim(&tag, swap).await?, Claimed::Done(_));
        // The user itself is created only if absent: a legacy user without an account yet
        // keeps its name.
        if !claimed || !self.passwords.create_if_absent(username, &phc).await? {
            if claimed {
                let undo = ClaimSwap {
                    expected: Some(account),
                    new: None,
                    end_sessions: false,
                };
                self.store().swap_claim(&tag, undo).await?;
            }
            self.store()
                .remove_account_identity(account, &key, false)
                .await?;
            return Err(AccountError::InUse("this username is taken"));
        }
        self.audit(super::AuditKind::Link, account, &identity, 0)
            .await;
        self.get(account).await
    }

    /// Takes a wallet off `account`; its sessions end, and its next sign-in creates a new
    /// account.
    ///
    /// # Errors
    /// [`AccountError::NotFound`] when it is not the account's, [`AccountError::LastIdentity`]
    /// for its only identity; the store failed.
    pub async fn unlink(
        &self,
        account: &AccountId,
        identity: &Identity,
    ) -> Result<Account, AccountError> {
        if self.directory.owner(identity).await?.as_ref() != Some(account) {
            return Err(AccountError::NotFound(
                "this identity is not one of the account's",
            ));
        }
        // Stale entries are dropped first, so that the last-identity check counts real ones.
        self.get(account).await?;
        let key = identity.key();
        match self
            .store()
            .remove_account_identity(account, &key, true)
            .await?
        {
            super::super::store::IdentityRemoval::Last => return Err(AccountError::LastIdentity),
            super::super::store::IdentityRemoval::Removed
            | super::super::store::IdentityRemoval::NotListed => {}
        }
        let swap = ClaimSwap {
            expected: Some(account),
            new: None,
            end_sessions: true,
        };
        let ended = match self.store().swap_claim(&identity.tag(), swap).await? {
            Claimed::Done(ended) => ended,
            Claimed::Mismatch(_) => Vec::new(),
        };
        self.ended(identity, &ended).await;
        if let Identity::Password { username } = identity {
            self.passwords.remove(username).await?;
        }
        self.audit(super::AuditKind::Unlink, account, identity, ended.len())
            .await;
        self.get(account).await
    }

    /// The live sessions of every identity of `account`, oldest first within each identity.
    ///
    /// # Errors
    /// No such account, or the store failed.
    pub async fn sessions(&self, account: &AccountId) -> Result<Vec<AccountSession>, AccountError> {
        let mut out = Vec::new();
        for identity in self.get(account).await?.identities {
            match &identity {
                Identity::Wallet { .. } => {
                    for s in self.wallets.list(&identity.tag()).await? {
                        out.push(AccountSession {
                            identity: identity.clone(),
                            session_id: s.session_id,
                            created_at: s.created_at,
                            last_seen_at: s.last_seen_at,
                            expires_at: s.expires_at,
                            user_agent: s.user_agent,
                            ip: s.ip,
                        });
                    }
                }
                Identity::Password { username } => {
                    for s in self.users.list(username).await? {
                        out.push(AccountSession {
                            identity: identity.clone(),
                            session_id: s.session_id,
                            created_at: s.created_at,
                            last_seen_at: s.created_at,
                            expires_at: s.expires_at,
                            user_agent: String::new(),
                            ip: String::new(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Ends every session of every identity of `account` (user sessions included); how many
    /// there were.
    ///
    /// # Errors
    /// No such account, or the store failed.
    pub async fn logout_all(&self, account: &AccountId) -> Result<usize, AccountError> {
        let mut n = 0;
        for identity in self.get(account).await?.identities {
            n += match &identity {
                Identity::Wallet { chain, address } => {
                    self.wallets.end_all_of(*chain, address).await?
                }
                Identity::Password { username } => self.users.end_all(username).await?,
            };
        }
        let event = super::AuditEvent::new(super::AuditKind::LogoutAll, self.clock.now())
            .account(account.as_str())
            .count(n);
        self.audit.record(event).await;
        Ok(n)
    }

    /// The account an operator names: an account id, or `chain:address` of one of its
    /// wallets (`ethereum:0x…` in any case, `solana:<base58>`).
    ///
    /// # Errors
    /// The store failed.
    pub async fn find(&self, name: &str) -> Result<Option<AccountId>, StoreError> {
        if let Some((chain, address)) = name.split_once(':') {
            let Ok(chain) = chain.parse::<Chain>() else {
                return Ok(None);
            };
            let address = if chain == Chain::Ethereum {
                format!(
                    "0x{}",
                    address.trim_start_matches("0x").to_ascii_lowercase()
                )
            } else {
                address.to_owned()
            };
            let Ok(address) = crate::verify::normalize_address(chain, &address) else {
                return Ok(None);
            };
            return self
                .directory
                .owner(&Identity::wallet(chain, &address))
                .await;
        }
        let id = AccountId::new(name);
        Ok(self.store().get_account(&id).await?.map(|_| id))
    }

    /// Changes the roles of `account`: with `set`, to exactly those; else adds `add` and
    /// takes off `remove`. Returns the roles stored (without `ADMIN_WALLETS`' `admin`).
    /// Audited.
    ///
    /// # Errors
    /// A bad role name or too many roles, no such account, or the store failed.
    pub async fn change_roles(
        &self,
        account: &AccountId,
        set: Option<&[String]>,
        add: &[String],
        remove: &[String],
    ) -> Result<Vec<String>, AccountError> {
        for r in set.unwrap_or_default().iter().chain(add).chain(remove) {
            if !valid_role(r) {
                return Err(AccountError::BadRoles(format!(
                    "{r:?} is not a role name: 1 to {MAX_ROLE_LEN} of a-z 0-9 _ -, starting with a letter"
                )));
            }
        }
        for _ in 0..CLAIM_ATTEMPTS {
            let Some(record) = self.store().get_account(account).await? else {
                return Err(AccountError::NotFound("no such account"));
            };
            let mut roles = set.map_or_else(|| record.roles.clone(), <[String]>::to_vec);
            roles.extend(add.iter().cloned());
            roles.retain(|r| !remove.contains(r));
            let roles = normalized(roles);
            if roles == record.roles {
                return Ok(roles);
            }
            if roles.len() > MAX_ROLES {
                return Err(AccountError::BadRoles(format!(
                    "an account has at most {MAX_ROLES} roles"
                )));
            }
            match self
                .store()
                .set_account_roles(account, Some(&record.roles), &roles)
                .await?
            {
                crate::store::RolesSet::Done => {
                    let event =
                        super::AuditEvent::new(super::AuditKind::RolesChange, self.clock.now())
                            .account(account.as_str())
                            .roles(&roles);
                    self.audit.record(event).await;
                    return Ok(roles);
                }
                crate::store::RolesSet::NoAccount => {
                    return Err(AccountError::NotFound("no such account"))
                }
                crate::store::RolesSet::Conflict => continue,
            }
        }
        Err(StoreError::Unavailable("the account's roles kept changing".to_owned()).into())
    }

    /// Replaces the password of `username` (creating the user if new); the user's sessions
    /// end.
    ///
    /// # Errors
    /// Bad name or password, or the store failed.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), AccountError> {
        self.passwords.add(username, password).await?;
        self.users.end_all(username).await?;
        Ok(())
    }

    /// Removes the user `username`: its password identity and its sessions, and its account
    /// when that was its only identity; whether the user existed.
    ///
    /// # Errors
    /// The store failed.
    pub async fn remove_user(&self, username: &str) -> Result<bool, StoreError> {
        let identity = Identity::password(username);
        let existed = self.passwords.remove(username).await?;
        if let Some(account) = self.directory.owner(&identity).await? {
            let swap = ClaimSwap {
                expected: Some(&account),
                new: None,
                end_sessions: true,
            };
            self.store().swap_claim(&identity.tag(), swap).await?;
            let key = identity.key();
            if !self
                .store()
                .delete_account(&account, std::slice::from_ref(&key))
                .await?
            {
                self.store()
                    .remove_account_identity(&account, &key, false)
                    .await?;
            }
            self.audit(super::AuditKind::Unlink, &account, &identity, 0)
                .await;
        } else {
            self.users.end_all(username).await?;
        }
        Ok(existed)
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.directory.store()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_keys_round_trip() {
        for id in [
            Identity::wallet(
                Chain::Ethereum,
                "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f",
            ),
            Identity::wallet(
                Chain::Solana,
                "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
            ),
            Identity::password("alice"),
        ] {
            assert_eq!(Identity::from_key(&id.key()), Some(id.clone()));
        }
        assert_eq!(Identity::from_key("bitcoin:x"), None);
        assert_eq!(Identity::from_key("nocolon"), None);
        // A wallet's tag is its wallet tag; a password's never collides with one.
        let eth = Identity::wallet(Chain::Ethereum, "0xAb");
        assert_eq!(eth.tag(), wallet_tag(Chain::Ethereum, "0xAb"));
        assert_ne!(Identity::password("0xAb").tag(), eth.tag());
    }

    #[test]
    fn role_names() {
        for ok in [
            "admin",
            "a",
            "editor-2",
            "read_only",
            &"a".repeat(MAX_ROLE_LEN),
        ] {
            assert!(valid_role(ok), "{ok}");
        }
        for bad in [
            "",
            "Admin",
            "1st",
            "-x",
            "a b",
            "a,b",
            "é",
            &"a".repeat(MAX_ROLE_LEN + 1),
        ] {
            assert!(!valid_role(bad), "{bad}");
        }
    }
}
