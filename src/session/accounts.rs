//! Account operations over the sessions: linking and unlinking identities, a password for a
//! wallet's account, the account-wide session list and logout, and role changes. The rules of
//! ownership (claims, the account records, identity keys, bounds) are in [`super::directory`],
//! which the session managers read too; its names are re-exported here.

pub use super::directory::{
    password_tag, valid_role, Account, AccountRoles, Directory, Identity, SealedSession,
    ADMIN_ROLE, MAX_IDENTITIES, MAX_ROLES, MAX_ROLE_LEN, ROLES_MEMO_ENTRIES, ROLES_REFRESH,
};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::directory::{normalized, CLAIM_ATTEMPTS};
use crate::clock::{unix_ms, Clock};
use crate::store::{AccountId, Claim, ClaimSwap, Claimed, IndexEntry, Store, StoreError};
use crate::verify::Chain;

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
        let Some(ended) = self.claim(account, identity, previous.as_ref()).await? else {
            return Err(AccountError::InUse(
                "this identity belongs to another account",
            ));
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

    /// Gives `identity` to `account` when its claim names `previous` (`None`: no account),
    /// ending its sessions when it had an account: listed first, then claimed (the list is a
    /// superset of the truth), and taken off the list again when the claim was not as
    /// expected (`Ok(None)`). Returns the sessions ended.
    ///
    /// # Errors
    /// [`AccountError::InUse`] when the account is full ([`MAX_IDENTITIES`]); the store failed.
    async fn claim(
        &self,
        account: &AccountId,
        identity: &Identity,
        previous: Option<&AccountId>,
    ) -> Result<Option<Vec<(IndexEntry, Vec<u8>)>>, AccountError> {
        if !self.directory.add_identity(account, identity).await? {
            return Err(AccountError::InUse(
                "the account has the most identities it may have",
            ));
        }
        let claim = Claim {
            account: account.clone(),
            identity: identity.key(),
        };
        let swap = ClaimSwap {
            expected: previous,
            new: Some(&claim),
            end_sessions: previous.is_some(),
        };
        match self.directory.swap_claim(identity, swap).await? {
            Claimed::Done(ended) => Ok(Some(ended)),
            Claimed::Mismatch(_) => {
                self.store()
                    .remove_account_identity(account, &claim.identity, false)
                    .await?;
                Ok(None)
            }
        }
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
        let claimed = self.claim(account, &identity, None).await?.is_some();
        // The user itself is created only if absent: a legacy user without an account yet
        // keeps its name.
        if !claimed || !self.passwords.create_if_absent(username, &phc).await? {
            if claimed {
                let undo = ClaimSwap {
                    expected: Some(account),
                    new: None,
                    end_sessions: false,
                };
                self.directory.swap_claim(&identity, undo).await?;
                self.store()
                    .remove_account_identity(account, &identity.key(), false)
                    .await?;
            }
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
        let ended = match self.directory.swap_claim(identity, swap).await? {
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
                .directory
                .set_roles(account, Some(&record.roles), &roles)
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
            self.directory.swap_claim(&identity, swap).await?;
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
    use crate::session::crypto::wallet_tag;

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
