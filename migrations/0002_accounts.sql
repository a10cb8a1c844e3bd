-- Accounts (see src/store/postgres.rs and src/session/accounts.rs). Kept until deleted: no
-- expiry.

-- Identity claims: which account the identity of a tag belongs to. The one source of truth of
-- ownership, changed under the tag's advisory lock together with its sessions.
CREATE TABLE wa_claims (
    tag      text PRIMARY KEY,
    account  text NOT NULL,
    identity text NOT NULL
);

-- Account records: creation time and roles.
CREATE TABLE wa_accounts (
    account    text   PRIMARY KEY,
    created_ms bigint NOT NULL,
    roles      text[] NOT NULL DEFAULT '{}'
);

-- The identities an account lists (derived from the claims; may lag behind them).
CREATE TABLE wa_account_identities (
    account  text NOT NULL REFERENCES wa_accounts ON DELETE CASCADE,
    identity text NOT NULL,
    tag      text NOT NULL,
    PRIMARY KEY (account, identity)
);
