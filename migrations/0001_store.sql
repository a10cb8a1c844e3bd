-- The PostgreSQL store (see src/store/postgres.rs). Every row carries its expiry in Unix
-- milliseconds by the database's clock (`wa_now_ms()`); reads ignore expired rows and the
-- pruning task deletes them.

CREATE FUNCTION wa_now_ms() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT (extract(epoch FROM now()) * 1000)::bigint $$;

-- Nonces: their binding until taken or expired.
CREATE TABLE wa_nonces (
    nonce      text   PRIMARY KEY,
    value      bytea  NOT NULL,
    expires_ms bigint NOT NULL
);
CREATE INDEX wa_nonces_expiry ON wa_nonces (expires_ms);

-- Wallet sessions: one row per session is both the live record and the wallet's index entry,
-- so the index can never outlive the sessions it lists.
CREATE TABLE wa_sessions (
    tag        text   NOT NULL,
    session_id text   NOT NULL,
    token_hash text   NOT NULL,
    created_ms bigint NOT NULL,
    record     bytea  NOT NULL,
    expires_ms bigint NOT NULL,
    PRIMARY KEY (tag, session_id)
);
CREATE UNIQUE INDEX wa_sessions_token ON wa_sessions (tag, token_hash);
CREATE INDEX wa_sessions_expiry ON wa_sessions (expires_ms);

-- Retired tokens of a session (its retired-token list): every row of one list shares the
-- list's expiry, `retain` after the session's latest rotation.
CREATE TABLE wa_retired (
    tag        text   NOT NULL,
    session_id text   NOT NULL,
    token_hash text   NOT NULL,
    at_ms      bigint NOT NULL,
    expires_ms bigint NOT NULL,
    PRIMARY KEY (tag, session_id, token_hash)
);
CREATE INDEX wa_retired_token ON wa_retired (tag, token_hash);
CREATE INDEX wa_retired_expiry ON wa_retired (expires_ms);

-- Plain values (preferences, legacy user sessions, users); a NULL expiry is kept until deleted.
CREATE TABLE wa_values (
    key        text   PRIMARY KEY,
    value      bytea  NOT NULL,
    expires_ms bigint
);
CREATE INDEX wa_values_expiry ON wa_values (expires_ms) WHERE expires_ms IS NOT NULL;

-- Rate-limit budgets: the sliding-window log of hits (at most `limit` of them).
CREATE TABLE wa_rate (
    key        text     PRIMARY KEY,
    hits       bigint[] NOT NULL,
    allowed    boolean  NOT NULL,
    expires_ms bigint   NOT NULL
);
CREATE INDEX wa_rate_expiry ON wa_rate (expires_ms);

-- Audit logs: entries by log name, in append order.
CREATE TABLE wa_audit (
    log   text      NOT NULL,
    seq   bigserial NOT NULL,
    at_ms      bigint    NOT NULL,
    expires_ms bigint    NOT NULL,
    event      bytea     NOT NULL,
    PRIMARY KEY (log, seq)
);
CREATE INDEX wa_audit_expiry ON wa_audit (expires_ms);

-- Per-minute event counters.
CREATE TABLE wa_event_counts (
    name   text   NOT NULL,
    minute bigint NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (name, minute)
);

-- Active-session statistics: sessions per chain and expiry minute.
CREATE TABLE wa_active (
    chain  text   NOT NULL,
    minute bigint NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (chain, minute)
);
