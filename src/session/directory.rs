//! The account directory: which account owns an identity (its claim), the accounts' records
//! and roles, and the identities' keys. Apart from [`super::accounts`] (linking, unlinking and
//! account-wide operations over wallet and user sessions) because the session managers
//! themselves read it: a sign-in opens its session through the directory, and the account
//! operations sit above the session managers.
//!
//! Accounts: who a session belongs to. An account (`accountId`, random and opaque) has one or
//! more identities — wallets, and at most one username/password — and a set of roles. Wallet
//! and user sessions both carry their account's id and roles, cached in the session record with
//! the time they were read.
//!
//! # Roles reaching live sessions
//! A session's roles are checked again once they are [`ROLES_REFRESH`] old, and at once when
//! this instance changed the account since they were read (`Directory::refresh_roles`). They
//! come from a per-instance memo ([`Directory::roles`], at most [`ROLES_MEMO_ENTRIES`]
//! accounts): an instance reads an account's roles from the store at most once per
//! [`ROLES_REFRESH`], and a session record is rewritten only when its roles changed. Every
//! change this instance makes to what roles derive from — the stored roles, a claim
//! (`ADMIN_WALLETS` grants `admin` through the identities an account claims) — goes through
//! `Directory::set_roles` or `Directory::swap_claim`, which mark it in the memo. So a change
//! reaches the account's live sessions on this instance at their next request, and on every
//! other instance within [`ROLES_REFRESH`].
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
use super::roles_memo::RolesMemo;
pub use super::roles_memo::{ROLES_MEMO_ENTRIES, ROLES_REFRESH};
use crate::clock::{from_unix_ms, unix_ms, Clock};
use crate::store::{
    AccountId, AccountRecord, Claim, ClaimSwap, Claimed, IndexEntry, NewIdentity, NewSession,
    RolesSet, SessionClaim, SessionExtras, SessionId, Store, StoreError, TokenHash, WalletTag,
};
use crate::verify::Chain;

/// Most identities one account has.
pub const MAX_IDENTITIES: usize = 20;
/// Most roles one account has.
pub const MAX_ROLES: usize = 16;
/// Longest role name.
pub const MAX_ROLE_LEN: usize = 32;
/// The role that `/admin/*` accepts.
pub const ADMIN_ROLE: &str = "admin";
/// Attempts at opening a session while the identity's claim changes under it.
pub(super) const CLAIM_ATTEMPTS: usize = 4;

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

/// An account's roles as sessions get them, and when they were read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRoles {
    /// The roles (sorted; `admin` included when `ADMIN_WALLETS` grants it).
    pub roles: Vec<String>,
    /// When they were read.
    pub read_at: OffsetDateTime,
}

/// The accounts as sessions read them: which account an identity belongs to, and its roles.
/// Clones share one memo of roles (see [`Directory::roles`]).
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// `ADMIN_WALLETS`, as `ethereum:<lowercase>` / `solana:<base58>`.
    admin_wallets: Arc<[String]>,
    /// Accounts' roles as this instance last read or changed them.
    memo: Arc<RolesMemo>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("admin_wallets", &self.admin_wallets.len())
            .finish_non_exhaustive()
    }
}

/// Roles sorted and without duplicates.
pub(super) fn normalized(mut roles: Vec<String>) -> Vec<String> {
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
            memo: Arc::new(RolesMemo::new(ROLES_MEMO_ENTRIES)),
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

    /// The roles sessions of `account` have at `now` (the session clock's time): this
    /// instance's memo of them when it read them less than [`ROLES_REFRESH`] before `now` and
    /// changed nothing of the account since; else read from the store (and memoized, with
    /// `now` as their read time).
    ///
    /// # Errors
    /// The store failed.
    pub async fn roles(
        &self,
        account: &AccountId,
        now: OffsetDateTime,
    ) -> Result<AccountRoles, StoreError> {
        let now_ms = unix_ms(now);
        let ticket = match self.memo.get(account, now_ms) {
            Ok((roles, read_ms)) => {
                return Ok(AccountRoles {
                    roles,
                    read_at: from_unix_ms(read_ms),
                })
            }
            Err(ticket) => ticket,
        };
        let record = self.store.get_account(account).await?;
        let roles = self.roles_of(account, record.as_ref(), None).await?;
        self.memo.fill(account, &roles, now_ms, ticket);
        Ok(AccountRoles {
            roles,
            read_at: now,
        })
    }

    /// Brings the roles of `account` that a session record holds — `roles`, read at `read_ms`
    /// (Unix ms) — up to date at `now` when they may be out of date: [`ROLES_REFRESH`] old, or
    /// changed on this instance since (see [`Self::roles`]). When the caller writes the record
    /// anyway (`writing`), roles the memo holds that were read later go in too, at no store
    /// call. Roles the record holds that are newer than the memo's (another instance read them
    /// later) are kept. Returns whether the roles changed, so that the record is to be
    /// written; `read_ms` follows whatever roles `roles` holds.
    ///
    /// # Errors
    /// The store failed.
    pub(super) async fn refresh_roles(
        &self,
        account: &str,
        roles: &mut Vec<String>,
        read_ms: &mut i64,
        now: OffsetDateTime,
        writing: bool,
    ) -> Result<bool, StoreError> {
        let now_ms = unix_ms(now);
        // The validation path's common case, decided without the memo's lock or an allocation.
        if !writing && !self.memo.may_be_stale(*read_ms, now_ms) {
            return Ok(false);
        }
        let account = &AccountId::new(account);
        let (fresh, fresh_ms) = if self.memo.stale(account, *read_ms, now_ms) {
            let fresh = self.roles(account, now).await?;
            (fresh.roles, unix_ms(fresh.read_at))
        } else if writing {
            match self.memo.get(account, now_ms) {
                Ok(memoized) => memoized,
                Err(_) => return Ok(false),
            }
        } else {
            return Ok(false);
        };
        if fresh_ms < *read_ms {
            return Ok(false);
        }
        let changed = fresh != *roles;
        *roles = fresh;
        *read_ms = fresh_ms;
        Ok(changed)
    }

    /// Marks the roles of `accounts` changed by this instance, now: what was read of them
    /// before is out of date here at once.
    fn roles_changed<'a>(&self, accounts: impl IntoIterator<Item = &'a AccountId>) {
        let now = unix_ms(self.clock.now());
        for account in accounts {
            self.memo.changed(account, now);
        }
    }

    /// Sets the stored roles of `account` from `expected` to `roles` (see
    /// [`Store::set_account_roles`]), marking them changed here unless the store surely did
    /// not change them.
    ///
    /// # Errors
    /// The store failed (the roles are marked changed all the same: they may have been set).
    pub(super) async fn set_roles(
        &self,
        account: &AccountId,
        expected: Option<&[String]>,
        roles: &[String],
    ) -> Result<RolesSet, StoreError> {
        let set = self.store.set_account_roles(account, expected, roles).await;
        if matches!(set, Ok(RolesSet::Done) | Err(_)) {
            self.roles_changed([account]);
        }
        set
    }

    /// Changes the claim of `identity` (see [`Store::swap_claim`]), marking the roles of the
    /// accounts it named before and names after changed here (`ADMIN_WALLETS` grants `admin`
    /// through the identities an account claims) unless the store surely did not change it.
    /// Every claim change after an identity's first sign-in goes through here.
    ///
    /// # Errors
    /// The store failed (the accounts are marked changed all the same: the claim may have
    /// changed).
    pub(super) async fn swap_claim(
        &self,
        identity: &Identity,
        swap: ClaimSwap<'_>,
    ) -> Result<Claimed<Vec<(IndexEntry, Vec<u8>)>>, StoreError> {
        let swapped = self.store.swap_claim(&identity.tag(), swap).await;
        if matches!(swapped, Ok(Claimed::Done(_)) | Err(_)) {
            let after = swap.new.map(|c| &c.account);
            self.roles_changed(swap.expected.into_iter().chain(after));
        }
        swapped
    }

    /// Lists `identity` on `account` (creating its record), logging a failure: the claim is
    /// the truth, and the list is repaired at the identity's next sign-in.
    async fn list(&self, account: &AccountId, identity: &Identity) -> bool {
        match self.add_identity(account, identity).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(error = %e, "could not list an identity on its account");
                false
            }
        }
    }

    /// Lists `identity` on `account` (creating its record when it has none); `false` when the
    /// account already lists [`MAX_IDENTITIES`] others.
    ///
    /// # Errors
    /// The store failed.
    pub(super) async fn add_identity(
        &self,
        account: &AccountId,
        identity: &Identity,
    ) -> Result<bool, StoreError> {
        self.store
            .add_account_identity(
                account,
                NewIdentity {
                    identity: &identity.key(),
                    tag: &identity.tag(),
                    created_ms: unix_ms(self.clock.now()),
                    max: MAX_IDENTITIES,
                },
            )
            .await
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
            if let Claimed::Done(_) = self.swap_claim(identity, swap).await? {
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
    /// session's record for an account id and its roles (with when they were read: from this
    /// instance's memo when it holds them, see [`Self::roles`]); `extras` are written with the session
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
        seal: impl Fn(&AccountId, &AccountRoles) -> SealedSession,
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
            let now = self.clock.now();
            let now_ms = unix_ms(now);
            // An existing account's roles come from the memo when this instance read them
            // less than ROLES_REFRESH ago (no store read: the sign-in is then two round
            // trips), else from its record, which fills the memo. Either way the session is
            // sealed with when they were read, so that it reads them again in time.
            // `read`: the account's record as read now, `None` when the roles came from the
            // memo and nothing was read.
            let (account, read, mut roles, read_ms) = match &current {
                Some(c) => match self.memo.get(&c.account, now_ms) {
                    Ok((roles, read_ms)) => (c.account.clone(), None, roles, read_ms),
                    Err(ticket) => {
                        let record = self.store.get_account(&c.account).await?;
                        let roles = self.roles_of(&c.account, record.as_ref(), None).await?;
                        self.memo.fill(&c.account, &roles, now_ms, ticket);
                        (c.account.clone(), Some(record), roles, now_ms)
                    }
                },
                None => (Self::new_account_id(), Some(None), Vec::new(), now_ms),
            };
            if self.is_admin_wallet(identity) {
                roles.push(ADMIN_ROLE.to_owned());
                roles = normalized(roles);
            }
            let roles = AccountRoles {
                roles,
                read_at: from_unix_ms(read_ms),
            };
            let s = seal(&account, &roles);
            let AccountRoles { roles, .. } = roles;
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
            let fresh = current.is_none();
            let created = if fresh {
                // A new account: its id is known to no one until this sign-in answers, so
                // its record (listing the identity) is written beside the session and claim,
                // in the same round trip; readers trust a listed identity only once its claim
                // names the account. When the claim step loses (the identity was claimed
                // meanwhile) or fails, the record is taken back.
                let (created, _) = tokio::join!(
                    self.store
                        .create_session_with(&tag, new, max, condition, extras),
                    self.list(&account, identity)
                );
                if !matches!(created, Ok(Claimed::Done(_))) {
                    if let Err(e) = self
                        .store
                        .delete_account(&account, std::slice::from_ref(&key))
                        .await
                    {
                        tracing::warn!(error = %e, "could not delete an unused new account");
                    }
                }
                created?
            } else {
                self.store
                    .create_session_with(&tag, new, max, condition, extras)
                    .await?
            };
            match created {
                Claimed::Done(evicted) => {
                    // With roles from the memo the list is not read: an identity whose
                    // listing was lost (a crash between claim and list) is listed again at a
                    // sign-in that reads the record.
                    let listed = fresh
                        || read.as_ref().is_none_or(|record| {
                            record
                                .as_ref()
                                .is_some_and(|r| r.identities.iter().any(|(k, _)| *k == key))
                        });
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
}
