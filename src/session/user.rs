//! Legacy username/password user sessions, side by side with wallet sessions.
//!
//! Accounts are kept in the same [`Store`] (`user:<name>` → Argon2id PHC string). Sessions are
//! tower-sessions sessions (cookie `sid`) whose records live in the same store under
//! `usess:<id>`, through [`UserSessionStore`]: one store, one Redis client, and no way to use
//! one kind of session as the other (different cookies, different keys, different records).

use std::sync::Arc;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use super::crypto::KeyRing;
use crate::store::{Store, StoreError};

/// Session key holding the signed-in username.
pub const USER_KEY: &str = "username";
/// Longest accepted username.
pub const MAX_USERNAME: usize = 64;
/// Longest accepted password (Argon2 cost is bounded by it).
pub const MAX_PASSWORD: usize = 1024;

fn account_key(name: &str) -> String {
    format!("user:{name}")
}

/// Whether `name` is an acceptable username: 1–64 of `A-Z a-z 0-9 . _ -`.
#[must_use]
pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_USERNAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Legacy user accounts.
#[derive(Clone)]
pub struct UserAccounts {
    store: Arc<dyn Store>,
    /// A hash verified for unknown users, so they take as long as known ones.
    dummy: String,
}

impl std::fmt::Debug for UserAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserAccounts")
    }
}

/// Why an account could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The name is not acceptable.
    #[error("usernames are 1 to 64 characters of A-Z a-z 0-9 . _ -")]
    BadName,
    /// The password is empty or too long.
    #[error("the password must be 1 to 1024 bytes")]
    BadPassword,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error("could not hash the password")]
    Hash,
}

fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AccountError::Hash)
}

impl UserAccounts {
    /// Accounts kept in `store`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        let dummy = hash_password("not a real password").unwrap_or_default();
        UserAccounts { store, dummy }
    }

    /// Adds or replaces a user.
    ///
    /// # Errors
    /// Bad name or password, or the store failed.
    pub async fn add(&self, name: &str, password: &str) -> Result<(), AccountError> {
        if !valid_username(name) {
            return Err(AccountError::BadName);
        }
        if password.is_empty() || password.len() > MAX_PASSWORD {
            return Err(AccountError::BadPassword);
        }
        let hash = hash_password(password)?;
        self.store
            .set(&account_key(name), hash.as_bytes(), None)
            .await?;
        Ok(())
    }

    /// Removes a user; whether it existed.
    ///
    /// # Errors
    /// The store failed.
    pub async fn remove(&self, name: &str) -> Result<bool, StoreError> {
        self.store.delete(&account_key(name)).await
    }

    /// Checks a username and password. Unknown users cost the same Argon2 verification as
    /// known ones and get the same answer.
    ///
    /// # Errors
    /// The store failed.
    #[tracing::instrument(skip_all)]
    pub async fn check(&self, name: &str, password: &str) -> Result<bool, StoreError> {
        let stored = if valid_username(name) {
            self.store.get(&account_key(name)).await?
        } else {
            None
        };
        let known = stored.is_some();
        let phc = stored
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| self.dummy.clone());
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            let pw = if password.len() > MAX_PASSWORD {
                &password[..0]
            } else {
                password.as_str()
            };
            PasswordHash::new(&phc)
                .map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        Ok(known && ok)
    }
}

/// tower-sessions storage over our [`Store`], records sealed with the session keys.
#[derive(Clone)]
pub struct UserSessionStore {
    store: Arc<dyn Store>,
    keys: KeyRing,
}

impl std::fmt::Debug for UserSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserSessionStore")
    }
}

impl UserSessionStore {
    /// Sessions kept in `store`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, keys: KeyRing) -> Self {
        UserSessionStore { store, keys }
    }

    fn key(id: &Id) -> String {
        format!("usess:{id}")
    }
}

fn backend(e: StoreError) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

#[async_trait]
impl session_store::SessionStore for UserSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh random id; regenerate on the (astronomically unlikely) collision.
        while self
            .store
            .get(&Self::key(&record.id))
            .await
            .map_err(backend)?
            .is_some()
        {
            record.id = Id::default();
        }
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let key = Self::key(&record.id);
        let ttl = (record.expiry_date - OffsetDateTime::now_utc())
            .try_into()
            .unwrap_or(std::time::Duration::from_secs(1));
        let plain =
            serde_json::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let sealed = self.keys.seal(&plain, key.as_bytes());
        self.store
            .set(&key, &sealed, Some(ttl))
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = Self::key(id);
        let Some(sealed) = self.store.get(&key).await.map_err(backend)? else {
            return Ok(None);
        };
        Ok(self
            .keys
            .open(&sealed, key.as_bytes())
            .and_then(|p| serde_json::from_slice::<Record>(&p).ok())
            .filter(|r| r.expiry_date > OffsetDateTime::now_utc()))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store
            .delete(&Self::key(id))
            .await
            .map(|_| ())
            .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn accounts() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let users = UserAccounts::new(store.clone());
        users.add("alice", "correct horse").await.unwrap();
        assert!(users.check("alice", "correct horse").await.unwrap());
        assert!(!users.check("alice", "wrong").await.unwrap());
        assert!(!users.check("bob", "correct horse").await.unwrap());
        assert!(!users.check("../x", "y").await.unwrap());
        let stored = store.get("user:alice").await.unwrap().unwrap();
        let phc = String::from_utf8(stored).unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(matches!(
            users.add("bad name", "x").await,
            Err(AccountError::BadName)
        ));
        assert!(users.remove("alice").await.unwrap());
        assert!(!users.check("alice", "correct horse").await.unwrap());
    }
}
