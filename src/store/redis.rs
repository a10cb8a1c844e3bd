//! The Redis store: [`Store`] over a single Redis node or a Redis Cluster, behaving exactly like
//! the in-memory reference store ([`super::MemoryStore`]) but shared by every server instance.
//!
//! # Key layout
//! Every key starts with the configured prefix `P` (for example `wa:`). Everything of one
//! wallet carries the wallet tag in a Redis hash tag `{tag}`, so that all of a wallet's keys
//! live in one cluster slot and every multi-key change of one wallet is one script on one node.
//!
//! | key | type | holds | expires |
//! |---|---|---|---|
//! | `P{tag}:s:<token_hash>` | string | a live session record: `L` + record bytes | the session's TTL (reset by a refresh) |
//! | `P{tag}:i` | hash | the wallet's index: field session id → `<token_hash>\|<created_ms>` | the longest remaining TTL of the sessions it lists; deleted with the last |
//! | `P{tag}:m:<session_id>` | sorted set | a session's retired tokens: member token hash, score = retirement time (ms) | `retain` after the session's last rotation |
//! | `P{tag}:ls` | list | the security events of one wallet, newest first: `<append ms>\|<event>` | its maximum age after its last append |
//! | `P{tag}:la` | list | the other events of one wallet, newest first: `<append ms>\|<event>` | its maximum age after its last append |
//! | `P{tag}:as`, `P{tag}:aa` | stream | the same logs as servers before the lists wrote them (field `e`): read, never written | its maximum age after the last append of such a server |
//! | `P{tag}:a` | string | the claim of the tag's identity: `<account id>\|<identity key>` | never (deleted when the identity is unlinked) |
//! | `Pacct:{<id>}` | hash | an account: `c` creation ms, `r` its roles (space-separated), `i:<identity key>` → the identity's tag | never (deleted with the account) |
//! | `Pn:<nonce>` | string | a nonce's binding (`SET NX PX` to create, `GETDEL` to take) | the nonce's TTL |
//! | `Pv:<key>` | string | a plain value: `prefs:<tag>` (preferences), `usess:<hash>` (legacy user sessions), `user:<name>` (users), `token-signing-keys` | as written; users and signing keys never |
//! | `Pr:<key>` | sorted set | a rate-limit budget (`nonce:<ip>`, `verify:<ip>`, `login:<ip>`, `login-user:<name>`, `token-mint:<sid>`, `audit:<tag>`): a sliding-window log of hits, score = time (ms) | one window after its last hit |
//! | `Paudit:security` | stream | security events of every wallet (field `e`; see [`AuditLog`]) | its maximum age after its last append |
//! | `Paudit:activity` | stream | the other events of every wallet (field `e`) | its maximum age after its last append |
//! | `Pcount:{<name>}:<minute>` | string | occurrences of an event in one minute (`INCR`; sign-ins, failed sign-ins) | [`EVENT_COUNT_RETENTION`] after its first count |
//! | `Pactive:<chain>` | hash | active sessions of a chain: field expiry minute → sessions | the latest expiry written plus [`ACTIVE_SLACK`] |
//!
//! The first byte of a session entry is `L` (live). Servers before the retired-token lists wrote
//! rotation markers `R<to_hash>|<at_ms>` under the old token's key; the scripts still read them
//! (until they expire) so that a token retired then is still recognised, and never write them.
//! [`Store::get_session`] is one script: a `GET` for a live token, and for an unknown one a
//! `ZSCORE` in the retired list of the session the token names.
//!
//! A session owns at most one retired list, holding at most `max_retired` entries younger than
//! `retain` (older ones are dropped by every rotation, and the key expires `retain` after the
//! last one): its storage is bounded whatever the rotation rate, and rotations beyond the bound
//! are refused rather than forgetting a retired token early.
//!
//! # TTLs
//! Every key has an expiry, except plain values written with `ttl = None`:
//! session entries carry their own; a retired list lives `retain` after its last rotation; the
//! index is given the longest remaining TTL of the sessions
//! it lists by every script that touches it (so it never dies before them, nor outlives the last
//! of them), and is deleted when it lists none; a rate budget lives one window after its last
//! hit; an audit log its maximum age after its last append (and every append also trims it
//! to its maximum length and drops the entries older than that age, by Redis's clock); an event
//! counter [`EVENT_COUNT_RETENTION`] after it was created; the active-session buckets of a
//! chain (a hash: expiry minute → count) until the latest expiry written plus [`ACTIVE_SLACK`].
//!
//! # Audit logs
//! The shared logs are streams, one per deployment, trimmed by length (`MAXLEN`) and by age
//! (`MINID`: stream ids are append times). Each wallet's two logs are capped lists instead: a
//! stream allocates a node of `stream-node-max-bytes` (4 KB by default) for its first entry,
//! which every wallet that signs in once would pay, where a list of a few events costs about
//! their own size. A list entry carries its append time by Redis's clock (`<ms>|<event>`, never
//! earlier than the entry before it, like stream ids), so that a read filters by age exactly as
//! on a stream; an append pushes at the head, trims to the maximum length and pops the entries
//! past the maximum age from the tail. Servers before the lists kept a wallet's logs as streams
//! (`P{tag}:as` / `P{tag}:aa`): the lists have keys of their own, so that no key changes type
//! under a server of either release, and a read merges, newest first, what such a stream still
//! holds until it expires by itself.
//!
//! # Atomicity and cluster safety
//! A nonce is created with `SET NX PX` and taken with `GETDEL`. Every change touching several
//! keys of a wallet is one Lua script (`EVALSHA`, falling back to loading the script when the
//! node does not know it). The scripts declare the index key and every record key known before
//! the call in `KEYS`; the record keys found in the index are built inside the script from the
//! wallet's record-key prefix (`P{tag}:s:`, passed as an argument). Those keys carry the same hash
//! tag as the declared ones, so they are in the same slot on the same node: Redis Cluster runs
//! such scripts (it rejects only keys of another slot), and the script stays atomic. Reading the
//! index first to declare every key would need a second round trip and a retry loop for no gain.
//!
//! # A sign-in in one script
//! [`Store::create_session_with`] writes a session with what records it: the audit appends,
//! the sign-in counter and the active-session statistics. On a single node all of it is the
//! session's script (one round trip, one atomic step). On a cluster the script takes the writes
//! in the wallet's slot (its own audit logs `P{tag}:la` / `P{tag}:ls`: the wallet's event is
//! atomic with its session), and the keys of other slots (the shared audit logs, the counter,
//! the statistics) are written once the script has created the session, all sent at once: a
//! second round trip on a cluster, and no such write for a session that was not created (a
//! claim that changed meanwhile). The shared log is derived: a failure there is logged, and
//! the call still answers the session it created.
//!
//! # # Accounts across slots
//! An identity's claim (`P{tag}:a`) lives in its tag's slot, so a first sign-in writes the claim
//! and the session in one script, and linking, unlinking or moving an identity changes the claim
//! and ends the identity's sessions in one script. An account's record (`Pacct:{<id>}`) is in
//! a slot of its own, and no script touches it together with a claim. The claim is therefore
//! the one source of truth of who owns an identity (changed only by compare-and-swap), and the
//! account's list of identities is derived from the claims: the session layer
//! (`crate::session::accounts`) lists an identity before claiming it and takes it off after
//! losing it, and every reader checks each listed identity against its claim, dropping the
//! stale ones; a claim missing from its account's list is added back at its next sign-in.
//! Each account script touches only the account's key.
//!
//! # Session cache
//! With a session cache ([`RedisStore::connect_cached`]; see [`super::redis_cache`]),
//! [`Store::get_session`] answers a live record from this process's memory when it can, and
//! every session write drops the wallet's cached sessions when it returns.
//!
//! # Failures
//! Each call is bounded by the store's timeout ([`StoreError::Timeout`]); every Redis error becomes
//! [`StoreError::Unavailable`]. A single node is reached through a
//! [`ConnectionManager`] that reconnects by itself once Redis is back; a cluster through the
//! cluster client, which re-discovers its nodes.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Script, ScriptInvocation, Value};

use super::api::{
    active_bucket, AccountId, AccountRecord, ActiveMove, AuditBounds, AuditLog, Claim, ClaimSwap,
    Claimed, CurrentToken, IdentityRemoval, IndexEntry, NewIdentity, NewSession, RateBudget,
    RateDecision, RolesSet, Rotated, Rotation, SessionClaim, SessionEntry, SessionExtras,
    SessionId, SessionUpdate, Span, Store, StoreError, StoreResult, Swap, TokenHash, WalletTag,
    EVENT_COUNT_RETENTION,
};
use super::redis_cache::SessionCache;

/// Type byte of a live session record.
const LIVE: u8 = b'L';
/// How long an active-session set outlives the latest expiry it holds (absorbs clock skew
/// between the servers, which score the set, and Redis, which expires it).
pub const ACTIVE_SLACK: Duration = Duration::from_secs(3600);
/// Reconnection attempts of the single-node connection manager before a call fails (the next
/// call starts over).
const RECONNECT_RETRIES: usize = 2;
/// Longest text of a Redis error kept in [`StoreError::Unavailable`].
const ERROR_TEXT_MAX: usize = 120;

/// Helpers shared by the session scripts (prepended to each of them).
///
/// An index value is `<token_hash>|<created_ms>`. `live_entries` reads an index, drops the
/// entries whose record is gone or no longer live, and returns the others as tables with named
/// fields (`sid`, `hash`, `created` as the index has it, `created_ms` as a number, `pttl`,
/// `record`, and `new`, set only for the session being created). `expire_index` gives the index
/// the longest remaining TTL of the entries it lists, or deletes it when it lists none.
/// `push_session` appends one session to a flat reply in the layout [`SessionReply`] reads.
const LUA_PRELUDE: &str = r"
local function split(v)
  return string.match(v, '^(.*)|(%-?%d+)$')
end
local function live_entries(idx, rp)
  local all = redis.call('HGETALL', idx)
  local out = {}
  for i = 1, #all, 2 do
    local sid, h, c = all[i], split(all[i + 1])
    local keep = false
    if h then
      local k = rp .. h
      local v = redis.call('GET', k)
      if v and string.sub(v, 1, 1) == 'L' then
        out[#out + 1] = {sid = sid, hash = h, created = c, created_ms = tonumber(c),
                         pttl = redis.call('PTTL', k), record = string.sub(v, 2), new = false}
        keep = true
      end
    end
    if not keep then redis.call('HDEL', idx, sid) end
  end
  return out
end
local function expire_index(idx, entries)
  if #entries == 0 then
    redis.call('DEL', idx)
    return
  end
  local longest = 1
  for _, e in ipairs(entries) do
    if e.pttl < 0 then
      redis.call('PERSIST', idx)
      return
    end
    if e.pttl > longest then longest = e.pttl end
  end
  redis.call('PEXPIRE', idx, longest)
end
local function oldest_first(a, b)
  if a.created_ms ~= b.created_ms then return a.created_ms < b.created_ms end
  if a.new ~= b.new then return b.new end
  return a.sid < b.sid
end
local function push_session(out, e)
  out[#out + 1] = e.sid
  out[#out + 1] = e.hash
  out[#out + 1] = e.created
  out[#out + 1] = e.record
end
local function delete_all(idx, rp, mp, out)
  local ids = redis.call('HKEYS', idx)
  for _, sid in ipairs(ids) do redis.call('DEL', mp .. sid) end
  for _, e in ipairs(live_entries(idx, rp)) do
    redis.call('DEL', rp .. e.hash)
    push_session(out, e)
  end
  redis.call('DEL', idx)
  return out
end
local function claim_account(v)
  if not v then return nil end
  return string.match(v, '^([^|]*)|')
end
";

/// KEYS: index, new record, the tag's claim, then the keys of the writes that go with the
/// session. ARGV: record prefix, session id, token hash, created ms, entry, ttl ms, max,
/// retired-list prefix, claim mode (`-`: none, `E`: the claim must name the account, `N`: there
/// must be none or one naming the account, and the claim is written), account, claim value,
/// then the writes (see [`LUA_OPS`]), done only when the session is. The body of a function
/// (see [`LUA_CREATE_WITH`]). Returns a [`ClaimedReply`] of the evicted sessions.
const LUA_CREATE: &str = r"
local idx, rec, rp, mp = KEYS[1], KEYS[2], ARGV[1], ARGV[8]
local mode, account = ARGV[9], ARGV[10]
if mode ~= '-' then
  local cur = redis.call('GET', KEYS[3])
  local owner = claim_account(cur)
  if owner ~= account and not (mode == 'N' and not cur) then
    return {'M', cur or ''}
  end
  if not cur then redis.call('SET', KEYS[3], ARGV[11]) end
end
local sid, hash, created = ARGV[2], ARGV[3], ARGV[4]
local ttl, max = tonumber(ARGV[6]), math.max(tonumber(ARGV[7]), 1)
local entries = {}
for _, e in ipairs(live_entries(idx, rp)) do
  if e.sid == sid then
    if e.hash ~= hash then redis.call('DEL', rp .. e.hash) end
    redis.call('DEL', mp .. sid)
  else
    entries[#entries + 1] = e
  end
end
redis.call('SET', rec, ARGV[5], 'PX', ttl)
redis.call('HSET', idx, sid, hash .. '|' .. created)
entries[#entries + 1] = {sid = sid, hash = hash, created = created,
                         created_ms = tonumber(created), pttl = ttl, record = '', new = true}
table.sort(entries, oldest_first)
local excess = #entries - max
local evicted, kept = {'D', ''}, {}
for i, e in ipairs(entries) do
  if i <= excess then
    redis.call('DEL', rp .. e.hash, mp .. e.sid)
    redis.call('HDEL', idx, e.sid)
    push_session(evicted, e)
  else
    kept[#kept + 1] = e
  end
end
expire_index(idx, kept)
return evicted
";

/// Runs [`LUA_CREATE`], then, when the session was created, the writes that go with it.
const LUA_CREATE_WITH: &str = r"
local out = create_session()
if out[1] == 'D' then run_ops(4, 12) end
return out
";

/// KEYS: record, index. ARGV: entry, ttl ms (empty: keep the TTL), record prefix. Returns 1 when
/// a live record was replaced.
const LUA_UPDATE: &str = r"
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 1) ~= 'L' then return 0 end
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  expire_index(KEYS[2], live_entries(KEYS[2], ARGV[3]))
end
return 1
";

/// KEYS: the token's record, index. ARGV: record prefix, retired-list prefix, token hash, session
/// id named by the token ('' when it names none). Returns an [`EntryReply`], flat: nothing
/// (unknown token), `L` and the live record, or `R`, session id, retirement ms and, when the
/// session still lives, its current hash and record.
const LUA_GET: &str = r"
local idx, rp, mp, hash, sid = KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 1) == 'L' then return {'L', string.sub(v, 2)} end
local function retired(s, at)
  local out = {'R', s, string.format('%d', tonumber(at))}
  local cur = redis.call('HGET', idx, s)
  local h = cur and split(cur)
  if h then
    local r = redis.call('GET', rp .. h)
    if r and string.sub(r, 1, 1) == 'L' then
      out[4] = h
      out[5] = string.sub(r, 2)
    end
  end
  return out
end
if sid ~= '' then
  local at = redis.call('ZSCORE', mp .. sid, hash)
  if at then return retired(sid, at) end
  return {}
end
-- A token naming no session (issued before tokens did): search the wallet's sessions.
local target, at = hash, nil
if v and string.sub(v, 1, 1) == 'R' then
  -- An older server's rotation marker, R<to>|<at>: follow it (and the markers after it) to
  -- the token that was rotated last.
  target, at = split(string.sub(v, 2))
  for _ = 1, 8 do
    if not target then return {} end
    local w = redis.call('GET', rp .. target)
    if not (w and string.sub(w, 1, 1) == 'R') then break end
    target = split(string.sub(w, 2))
  end
  if not target then return {} end
end
local all = redis.call('HGETALL', idx)
for i = 1, #all, 2 do
  local h = split(all[i + 1])
  if at and h == target then return retired(all[i], at) end
  local t = redis.call('ZSCORE', mp .. all[i], target)
  if t then return retired(all[i], at or t) end
end
return {}
";

/// KEYS: index, old record, new record, retired list. ARGV: record prefix, session id, old hash,
/// new hash, entry, ttl ms, retain ms, now ms, max retired, burst, burst window ms. Returns
/// (read as a [`Rotated`]) {1, 0} when this call rotated the session, {0, 0} when the old hash
/// is not its live token, {2, wait ms} when it rotated too often.
const LUA_ROTATE: &str = r"
local idx, old, new, ret, rp = KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1]
local v = redis.call('GET', old)
if not v or string.sub(v, 1, 1) ~= 'L' then return {0, 0} end
local cur = redis.call('HGET', idx, ARGV[2])
if not cur then return {0, 0} end
local h, c = split(cur)
if h ~= ARGV[3] then return {0, 0} end
local retain, now = tonumber(ARGV[7]), tonumber(ARGV[8])
local maxr, burst = math.max(tonumber(ARGV[9]), 1), math.max(tonumber(ARGV[10]), 1)
local window = tonumber(ARGV[11])
redis.call('ZREMRANGEBYSCORE', ret, '-inf', string.format('%d', now - retain))
local n = redis.call('ZCARD', ret)
local wait = 0
if n >= maxr then
  local first = redis.call('ZRANGE', ret, 0, 0, 'WITHSCORES')
  wait = tonumber(first[2]) + retain - now
end
local recent = redis.call('ZCOUNT', ret, '(' .. string.format('%d', now - window), '+inf')
if recent >= burst then
  local t = redis.call('ZRANGE', ret, n - burst, n - burst, 'WITHSCORES')
  wait = math.max(wait, tonumber(t[2]) + window - now)
end
if wait > 0 then return {2, wait} end
redis.call('SET', new, ARGV[5], 'PX', ARGV[6])
redis.call('DEL', old)
redis.call('ZADD', ret, ARGV[8], ARGV[3])
redis.call('PEXPIRE', ret, ARGV[7])
redis.call('HSET', idx, ARGV[2], ARGV[4] .. '|' .. c)
expire_index(idx, live_entries(idx, rp))
return {1, 0}
";

/// KEYS: index. ARGV: record prefix, session id, retired-list prefix. Returns the deleted live
/// session (a [`SessionReply`]; nothing when there was none).
const LUA_DELETE: &str = r"
local idx, rp, sid = KEYS[1], ARGV[1], ARGV[2]
local cur = redis.call('HGET', idx, sid)
local out = {}
if cur then
  redis.call('HDEL', idx, sid)
  redis.call('DEL', ARGV[3] .. sid)
  local h, c = split(cur)
  if h then
    local v = redis.call('GET', rp .. h)
    if v and string.sub(v, 1, 1) == 'L' then
      redis.call('DEL', rp .. h)
      push_session(out, {sid = sid, hash = h, created = c, record = string.sub(v, 2)})
    end
  end
end
expire_index(idx, live_entries(idx, rp))
return out
";

/// KEYS: index. ARGV: record prefix. Returns the live sessions oldest first
/// ([`SessionReply`]s).
const LUA_LIST: &str = r"
local idx = KEYS[1]
local entries = live_entries(idx, ARGV[1])
expire_index(idx, entries)
table.sort(entries, oldest_first)
local out = {}
for _, e in ipairs(entries) do push_session(out, e) end
return out
";

/// KEYS: index. ARGV: record prefix, retired-list prefix. Returns the deleted live sessions
/// ([`SessionReply`]s).
const LUA_DELETE_ALL: &str = r"
return delete_all(KEYS[1], ARGV[1], ARGV[2], {})
";

/// KEYS: the tag's claim, index. ARGV: expected account ('' for no claim), new claim value (''
/// deletes the claim), `1` to delete every session of the tag, record prefix, retired-list
/// prefix. Returns a [`ClaimedReply`] of the deleted sessions.
const LUA_SWAP_CLAIM: &str = r"
local cur = redis.call('GET', KEYS[1])
if (claim_account(cur) or '') ~= ARGV[1] then return {'M', cur or ''} end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2]) end
local out = {'D', ''}
if ARGV[3] == '1' then delete_all(KEYS[2], ARGV[4], ARGV[5], out) end
return out
";

/// Lists an identity on an account. KEYS: the account. ARGV: identity field, tag, created ms,
/// max. Returns 1 when listed, 0 when the account is full.
const LUA_ACCOUNT_ADD: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
local n = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'i:' then n = n + 1 end
end
if n >= tonumber(ARGV[4]) then return 0 end
redis.call('HSETNX', KEYS[1], 'c', ARGV[3])
redis.call('HSETNX', KEYS[1], 'r', '')
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
";

/// Takes an identity off an account. KEYS: the account. ARGV: identity field, `1` to keep the
/// last one. Returns 1 removed, 0 not listed, 2 refused (the last one).
const LUA_ACCOUNT_REMOVE: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] == '1' then
  local n = 0
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, 2) == 'i:' then n = n + 1 end
  end
  if n <= 1 then return 2 end
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
";

/// Sets an account's roles. KEYS: the account. ARGV: `1` when the roles must be ARGV[2], the
/// expected roles, the new roles. Returns 1 written, 0 no account, 2 not the expected roles.
const LUA_ACCOUNT_ROLES: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '1' and redis.call('HGET', KEYS[1], 'r') ~= ARGV[2] then return 2 end
redis.call('HSET', KEYS[1], 'r', ARGV[3])
return 1
";

/// Deletes an account when it lists no identity but those given. KEYS: the account. ARGV: the
/// identity fields allowed. Returns 1 when deleted.
const LUA_ACCOUNT_DELETE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local allowed = {}
for _, f in ipairs(ARGV) do allowed[f] = true end
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'i:' and not allowed[f] then return 0 end
end
redis.call('DEL', KEYS[1])
return 1
";

/// Compare-and-swap of one plain value. KEYS: the value. ARGV: expected value, new value, time
/// to live in ms (0: none). Returns 1 when it wrote, 0 when the value was not the expected one.
const LUA_CAS: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
";

/// KEYS: budget. ARGV: now ms, window ms, limit, unique member. Returns 0 when allowed, else the
/// milliseconds until a hit would be allowed.
const LUA_RATE: &str = r"
local key = KEYS[1]
local now, win, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now - win))
local wait = 0
if redis.call('ZCARD', key) >= limit then
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local oldest = now
  if first[2] then oldest = tonumber(first[2]) end
  wait = math.max(oldest + win - now, 1)
else
  redis.call('ZADD', key, ARGV[1], ARGV[4])
end
redis.call('PEXPIRE', key, ARGV[2])
return wait
";

/// Redis's clock in Unix milliseconds, as stream ids count them; and the entries of a wallet's
/// audit list, `<append ms>|<event>` (`list_entry` reads one: its time and event, nothing when
/// it has no time).
const LUA_NOW: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function list_entry(v)
  local bar = string.find(v, '|', 1, true)
  local at = bar and tonumber(string.sub(v, 1, bar - 1))
  if not at then return nil end
  return at, string.sub(v, bar + 1)
end
";

/// The writes of the statistics, counters and audit logs, as functions over one key each, and
/// `run_ops`, which applies a list of them: `KEYS[k..]` one key per write, `ARGV[a..]` each
/// write's kind (a key of `writes`) and its arguments:
/// - `S` event, max length, max age ms: append to an audit stream, then trim it by length and
///   by age (stream ids are Redis's append times);
/// - `L` event, max length, max age ms: the same on an audit list, newest first, each entry
///   dated by Redis's clock, never earlier than the entry before it (as stream ids), so that
///   the oldest entries are always at the tail;
/// - `C` ttl ms: count one in an event counter of one minute;
/// - `T` bucket to leave (empty: none), bucket to join (empty: none), current bucket, TTL ms the
///   key must have at least: move one session in the active-session buckets (a hash: expiry
///   minute → sessions).
///
/// Either audit log expires its maximum age after its last append.
const LUA_OPS: &str = r"
local function stream_append(key, event, max_len, age_ms)
  redis.call('XADD', key, 'MAXLEN', max_len, '*', 'e', event)
  redis.call('XTRIM', key, 'MINID', string.format('%d', math.max(now_ms() - tonumber(age_ms), 0)))
  redis.call('PEXPIRE', key, age_ms)
end
local function list_append(key, event, max_len, age_ms)
  local now = now_ms()
  local head = redis.call('LINDEX', key, 0)
  local at = math.max(now, head and list_entry(head) or 0)
  redis.call('LPUSH', key, string.format('%d', at) .. '|' .. event)
  redis.call('LTRIM', key, 0, tonumber(max_len) - 1)
  local min = now - tonumber(age_ms)
  while true do
    local tail = redis.call('LINDEX', key, -1)
    local t = tail and list_entry(tail)
    if not (t and t < min) then break end
    redis.call('RPOP', key)
  end
  redis.call('PEXPIRE', key, age_ms)
end
local function count_event(key, ttl)
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ttl) end
end
local function track(key, leave, join, current, keep)
  if leave ~= '' and tonumber(leave) >= tonumber(current) then
    if redis.call('HINCRBY', key, leave, -1) <= 0 then redis.call('HDEL', key, leave) end
  end
  if join ~= '' then
    redis.call('HINCRBY', key, join, 1)
    if redis.call('PTTL', key) < tonumber(keep) then
      redis.call('PEXPIRE', key, keep)
    end
  end
end
local writes = {
  S = {stream_append, 3},
  L = {list_append, 3},
  C = {count_event, 1},
  T = {track, 4},
}
local function run_ops(k, a)
  while a <= #ARGV do
    local w = writes[ARGV[a]]
    if not w then error('unknown write ' .. tostring(ARGV[a])) end
    w[1](KEYS[k], unpack(ARGV, a + 1, a + w[2]))
    a = a + 1 + w[2]
    k = k + 1
  end
end
";

/// Runs the writes of [`LUA_OPS`] from the first key and argument.
const LUA_RUN_OPS: &str = r"
run_ops(1, 1)
return 1
";

/// KEYS: the log, then, for a wallet's log, the stream that held it before the lists (read
/// while it lives; see [`AuditKey::stream_before`]). ARGV: limit, max age ms, the log's form
/// (`S` stream, `L` list, as the write kinds of [`LUA_OPS`]). Returns the events newest first
/// (of equal times, the log's before the older stream's), none older than the age.
const LUA_AUDIT_READ: &str = r"
local limit, min = tonumber(ARGV[1]), now_ms() - tonumber(ARGV[2])
local function stream_read(key)
  local out = {}
  local from = string.format('%d', math.max(min, 0))
  for _, entry in ipairs(redis.call('XREVRANGE', key, '+', from, 'COUNT', limit)) do
    local f, v = entry[2], false
    for i = 1, #f, 2 do
      if f[i] == 'e' then v = f[i + 1] end
    end
    if not v then error('audit entry without event') end
    out[#out + 1] = {at = tonumber(string.match(entry[1], '^%d+')), event = v}
  end
  return out
end
local function list_read(key)
  local out = {}
  for _, v in ipairs(redis.call('LRANGE', key, 0, limit - 1)) do
    local at, event = list_entry(v)
    if not at then error('audit entry without time') end
    if at < min then break end
    out[#out + 1] = {at = at, event = event}
  end
  return out
end
local read = ({S = stream_read, L = list_read})[ARGV[3]]
if not read then error('unknown audit log form ' .. tostring(ARGV[3])) end
local log, before = read(KEYS[1]), {}
if KEYS[2] then before = stream_read(KEYS[2]) end
local out, i, j = {}, 1, 1
while #out < limit and (log[i] or before[j]) do
  if not before[j] or (log[i] and log[i].at >= before[j].at) then
    out[#out + 1] = log[i].event
    i = i + 1
  else
    out[#out + 1] = before[j].event
    j = j + 1
  end
end
return out
";

/// KEYS: active-session buckets. ARGV: current bucket. Drops past buckets, sums the rest.
const LUA_COUNT: &str = r"
local all = redis.call('HGETALL', KEYS[1])
local current, sum = tonumber(ARGV[1]), 0
for i = 1, #all, 2 do
  if tonumber(all[i]) < current then
    redis.call('HDEL', KEYS[1], all[i])
  else
    sum = sum + tonumber(all[i + 1])
  end
end
if sum < 0 then sum = 0 end
return sum
";

/// How an audit log is kept in Redis.
#[derive(Debug, Clone, Copy)]
enum AuditForm {
    /// A stream: the shared logs. One per deployment, so the node a stream allocates for its
    /// first entries (`stream-node-max-bytes`, 4 KB by default) is paid once, not per wallet.
    Stream,
    /// A capped list, newest first, each entry `<append ms>|<event>`: each wallet's logs. A few
    /// events of a wallet cost about their own size, where a stream would cost its 4 KB node.
    List,
}

impl AuditForm {
    /// The kind of write of [`LUA_OPS`] that appends to such a log, which is also how
    /// [`LUA_AUDIT_READ`] is told to read it.
    fn code(self) -> &'static [u8] {
        match self {
            AuditForm::Stream => b"S",
            AuditForm::List => b"L",
        }
    }
}

/// An audit log's key and form.
struct AuditKey {
    key: String,
    form: AuditForm,
    /// The stream that held a wallet's log before the lists (servers before them wrote
    /// `P{tag}:as` / `P{tag}:aa`). Never written any more, it is read with the list until it
    /// expires by itself, its maximum age after the last append an older server made; the
    /// lists have keys of their own so that no key changes type. Once every deployment has
    /// run this release for the longest maximum age of a wallet's log, no such stream is left
    /// and reading it can go.
    stream_before: Option<String>,
}

/// One write of [`LUA_OPS`]: its key, its kind and arguments, and whether the key is in the
/// slot of the wallet whose session it goes with (then it can be in the session's script on a
/// cluster too).
struct Op {
    key: String,
    args: Vec<Vec<u8>>,
    wallet_slot: bool,
}

impl Op {
    fn args(&self, call: &mut ScriptInvocation<'_>) {
        for a in &self.args {
            call.arg(a.as_slice());
        }
    }
}

/// The compiled scripts (each carries its SHA1 for `EVALSHA`).
struct Scripts {
    create: Script,
    get: Script,
    update: Script,
    rotate: Script,
    delete: Script,
    list: Script,
    delete_all: Script,
    swap_claim: Script,
    account_add: Script,
    account_remove: Script,
    account_roles: Script,
    account_delete: Script,
    rate: Script,
    ops: Script,
    audit_read: Script,
    count: Script,
    cas: Script,
}

impl Scripts {
    fn new() -> Self {
        let session = |body: &str| Script::new(&format!("{LUA_PRELUDE}{body}"));
        Self {
            create: Script::new(&format!(
                "{LUA_PRELUDE}{LUA_NOW}{LUA_OPS}local function create_session()\n{LUA_CREATE}\nend\n{LUA_CREATE_WITH}"
            )),
            get: session(LUA_GET),
            update: session(LUA_UPDATE),
            rotate: session(LUA_ROTATE),
            delete: session(LUA_DELETE),
            list: session(LUA_LIST),
            delete_all: session(LUA_DELETE_ALL),
            swap_claim: session(LUA_SWAP_CLAIM),
            account_add: Script::new(LUA_ACCOUNT_ADD),
            account_remove: Script::new(LUA_ACCOUNT_REMOVE),
            account_roles: Script::new(LUA_ACCOUNT_ROLES),
            account_delete: Script::new(LUA_ACCOUNT_DELETE),
            rate: Script::new(LUA_RATE),
            ops: Script::new(&format!("{LUA_NOW}{LUA_OPS}{LUA_RUN_OPS}")),
            audit_read: Script::new(&format!("{LUA_NOW}{LUA_AUDIT_READ}")),
            count: Script::new(LUA_COUNT),
            cas: Script::new(LUA_CAS),
        }
    }
}

/// A connection to either deployment; both kinds are cheap handles to a shared multiplexed
/// connection, cloned per call.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// The Redis store. Cheap to share behind an `Arc`; every call clones a handle to one
/// multiplexed connection.
pub struct RedisStore {
    conn: Conn,
    prefix: String,
    timeout: Duration,
    scripts: Scripts,
    cache: Option<Arc<SessionCache>>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field(
                "mode",
                &match self.conn {
                    Conn::Single(_) => "single",
                    Conn::Cluster(_) => "cluster",
                },
            )
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// Milliseconds of a duration for `PX` / `PEXPIRE`: rounded up, at least 1 (Redis refuses 0).
fn ttl_ms(d: Duration) -> u64 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX).max(1)
}

fn short(text: &str) -> String {
    match text.char_indices().nth(ERROR_TEXT_MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

fn map_err(e: &RedisError) -> StoreError {
    if e.is_timeout() {
        StoreError::Timeout
    } else {
        StoreError::Unavailable(short(&e.to_string()))
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn live_entry(record: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(record.len() + 1);
    v.push(LIVE);
    v.extend_from_slice(record);
    v
}

/// A script's reply as the store returns it. Each reply layout the scripts write is read here,
/// in one place, into named fields; [`RedisStore::eval`] runs a script and decodes its reply.
trait ScriptReply: Sized {
    /// What Redis answers.
    type Raw: redis::FromRedisValue;
    /// Reads the answer.
    fn decode(raw: Self::Raw) -> StoreResult<Self>;
}

fn text(bytes: Vec<u8>, what: &str) -> StoreResult<String> {
    String::from_utf8(bytes).map_err(|_| corrupt(&format!("{what} is not text")))
}

fn parse_ms(bytes: &[u8], what: &str) -> StoreResult<i64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| corrupt(what))
}

/// One session in a flat script reply: four items, id, token hash, creation time (the index's
/// text) and record (what the Lua `push_session` writes).
struct SessionReply {
    session_id: SessionId,
    token_hash: TokenHash,
    created_ms: i64,
    record: Vec<u8>,
}

impl SessionReply {
    fn into_pair(self) -> (IndexEntry, Vec<u8>) {
        let entry = IndexEntry {
            session_id: self.session_id,
            token_hash: self.token_hash,
            created_ms: self.created_ms,
        };
        (entry, self.record)
    }
}

/// Sessions returned by a script ([`SessionReply`]s one after the other).
struct Sessions(Vec<(IndexEntry, Vec<u8>)>);

impl ScriptReply for Sessions {
    type Raw = Vec<Vec<u8>>;
    fn decode(flat: Vec<Vec<u8>>) -> StoreResult<Self> {
        if flat.len() % 4 != 0 {
            return Err(corrupt("session list of an odd length"));
        }
        let mut out = Vec::with_capacity(flat.len() / 4);
        let mut it = flat.into_iter();
        while let (Some(id), Some(hash), Some(created), Some(record)) =
            (it.next(), it.next(), it.next(), it.next())
        {
            let reply = SessionReply {
                session_id: SessionId::new(text(id, "session id")?),
                token_hash: TokenHash::new(text(hash, "token hash")?),
                created_ms: parse_ms(&created, "index creation time")?,
                record,
            };
            out.push(reply.into_pair());
        }
        Ok(Sessions(out))
    }
}

/// What the claim-checking scripts return: `D`, an empty item, then the sessions they deleted
/// ([`SessionReply`]s); or `M` and the claim there is (empty: none).
struct ClaimedReply(Claimed<Vec<(IndexEntry, Vec<u8>)>>);

impl ScriptReply for ClaimedReply {
    type Raw = Vec<Vec<u8>>;
    fn decode(mut flat: Vec<Vec<u8>>) -> StoreResult<Self> {
        if flat.len() < 2 {
            return Err(corrupt("claim outcome"));
        }
        let rest = flat.split_off(2);
        match flat[0].as_slice() {
            b"D" => Ok(ClaimedReply(Claimed::Done(Sessions::decode(rest)?.0))),
            b"M" => Ok(ClaimedReply(Claimed::Mismatch(decode_claim(&flat[1])?))),
            _ => Err(corrupt("claim outcome")),
        }
    }
}

/// A claim as stored: `<account>|<identity>`; empty: none.
fn encode_claim(c: &Claim) -> String {
    format!("{}|{}", c.account, c.identity)
}

fn decode_claim(v: &[u8]) -> StoreResult<Option<Claim>> {
    if v.is_empty() {
        return Ok(None);
    }
    let text = std::str::from_utf8(v).map_err(|_| corrupt("claim is not text"))?;
    let (account, identity) = text.split_once('|').ok_or_else(|| corrupt("claim"))?;
    Ok(Some(Claim {
        account: AccountId::new(account),
        identity: identity.to_owned(),
    }))
}

/// What [`LUA_GET`] returns: nothing, `L` and a live record, or `R`, session id, retirement time
/// and, when the session still lives, its current hash and record.
impl ScriptReply for Option<SessionEntry> {
    type Raw = Vec<Vec<u8>>;
    fn decode(flat: Vec<Vec<u8>>) -> StoreResult<Self> {
        let mut it = flat.into_iter();
        match (
            it.next().as_deref(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
        ) {
            (None, ..) => Ok(None),
            (Some(b"L"), Some(record), None, ..) => Ok(Some(SessionEntry::Live(record))),
            (Some(b"R"), Some(sid), Some(at), hash, record) => {
                let current = match (hash, record) {
                    (Some(h), Some(record)) => Some(CurrentToken {
                        token_hash: TokenHash::new(text(h, "token hash")?),
                        record,
                    }),
                    (None, None) => None,
                    _ => return Err(corrupt("retired token without its session's record")),
                };
                Ok(Some(SessionEntry::Retired {
                    session_id: SessionId::new(text(sid, "session id")?),
                    at_ms: parse_ms(&at, "retirement time")?,
                    current,
                }))
            }
            _ => Err(corrupt("session entry of unknown type")),
        }
    }
}

/// What [`LUA_ROTATE`] returns: a status and a wait in milliseconds.
impl ScriptReply for Rotated {
    type Raw = (i64, i64);
    fn decode((status, wait): (i64, i64)) -> StoreResult<Self> {
        match status {
            1 => Ok(Rotated::Done),
            0 => Ok(Rotated::NotCurrent),
            2 => Ok(Rotated::Limited {
                retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1).max(1)),
            }),
            _ => Err(corrupt("rotation outcome")),
        }
    }
}

/// What [`LUA_RATE`] returns: 0 when allowed, else the milliseconds to wait.
impl ScriptReply for RateDecision {
    type Raw = i64;
    fn decode(wait: i64) -> StoreResult<Self> {
        Ok(if wait <= 0 {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1)),
            }
        })
    }
}

/// A script answering 1 when it changed something, 0 when not.
impl ScriptReply for bool {
    type Raw = i64;
    fn decode(done: i64) -> StoreResult<Self> {
        Ok(done == 1)
    }
}

/// A script whose answer says nothing.
impl ScriptReply for () {
    type Raw = redis::Value;
    fn decode(_: redis::Value) -> StoreResult<Self> {
        Ok(())
    }
}

/// A count.
impl ScriptReply for u64 {
    type Raw = u64;
    fn decode(n: u64) -> StoreResult<Self> {
        Ok(n)
    }
}

/// Events of an audit log.
impl ScriptReply for Vec<Vec<u8>> {
    type Raw = Vec<Vec<u8>>;
    fn decode(events: Vec<Vec<u8>>) -> StoreResult<Self> {
        Ok(events)
    }
}

/// A process-wide counter that keeps rate-limit members unique within one millisecond.
static RATE_SEQ: AtomicU64 = AtomicU64::new(0);

impl RedisStore {
    /// Connects to Redis. `url` is one `redis://…` / `rediss://…` URL (a single node), or a
    /// comma-separated list of node URLs (a Redis Cluster). `prefix` starts every key (for
    /// example `wa:`; it may not contain `{` or `}`, which would break the hash tags), and
    /// `timeout` bounds connecting and every later call.
    ///
    /// A store, once connected, recovers by itself when Redis goes away and comes back.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the URL or prefix is invalid or Redis cannot be reached,
    /// [`StoreError::Timeout`] when connecting takes longer than `timeout`.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> StoreResult<Self> {
        Self::connect_with(url, prefix, timeout, None).await
    }

    /// [`RedisStore::connect`], with a session cache of at most `entries` sessions (see
    /// [`super::redis_cache`]) kept coherent by tracking connections of its own to the node,
    /// or to every master of the cluster. Validation reads go to Redis until those are up.
    ///
    /// # Errors
    /// As [`RedisStore::connect`].
    pub async fn connect_cached(
        url: &str,
        prefix: &str,
        timeout: Duration,
        entries: usize,
    ) -> StoreResult<Self> {
        Self::connect_with(url, prefix, timeout, Some(entries)).await
    }

    /// The session cache, when the store has one.
    #[must_use]
    pub fn session_cache(&self) -> Option<&SessionCache> {
        self.cache.as_deref()
    }

    async fn connect_with(
        url: &str,
        prefix: &str,
        timeout: Duration,
        cache_entries: Option<usize>,
    ) -> StoreResult<Self> {
        if prefix.contains(['{', '}']) {
            return Err(StoreError::Unavailable(
                "the Redis key prefix must not contain '{' or '}'".to_owned(),
            ));
        }
        let nodes: Vec<&str> = url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let connecting = async {
            match nodes.as_slice() {
                [] => Err(StoreError::Unavailable("no Redis URL given".to_owned())),
                [one] => {
                    let client = redis::Client::open(*one).map_err(|e| map_err(&e))?;
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(timeout))
                        .set_response_timeout(Some(timeout))
                        .set_number_of_retries(RECONNECT_RETRIES)
                        .set_min_delay(Duration::from_millis(50))
                        .set_max_delay(Duration::from_millis(500));
                    let manager = ConnectionManager::new_with_config(client, config)
                        .await
                        .map_err(|e| map_err(&e))?;
                    Ok(Conn::Single(manager))
                }
                many => {
                    let client = ClusterClientBuilder::new(many.iter().copied())
                        .connection_timeout(timeout)
                        .response_timeout(timeout)
                        .retries(2)
                        .min_retry_wait(50)
                        .max_retry_wait(500)
                        .build()
                        .map_err(|e| map_err(&e))?;
                    let conn = client
                        .get_async_connection()
                        .await
                        .map_err(|e| map_err(&e))?;
                    Ok(Conn::Cluster(conn))
                }
            }
        };
        let conn = tokio::time::timeout(timeout, connecting)
            .await
            .map_err(|_| StoreError::Timeout)??;
        let cache = match (cache_entries, &conn) {
            (None, _) => None,
            (Some(entries), Conn::Single(_)) => Some(
                SessionCache::start(nodes[0], prefix, entries, timeout, None)
                    .map_err(|e| map_err(&e))?,
            ),
            (Some(entries), Conn::Cluster(c)) => Some(
                SessionCache::start(nodes[0], prefix, entries, timeout, Some(c.clone()))
                    .map_err(|e| map_err(&e))?,
            ),
        };
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            timeout,
            scripts: Scripts::new(),
            cache,
        })
    }

    /// Runs one Redis call on a fresh handle, bounded by the store's timeout.
    async fn run<T, F, Fut>(&self, call: F) -> StoreResult<T>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        super::api::bounded("redis", self.timeout, call(self.conn.clone()), map_err).await
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: Cmd) -> StoreResult<T> {
        self.run(|mut c| async move { cmd.query_async(&mut c).await })
            .await
    }

    /// Runs one script call (`EVALSHA`, loading the script when the node does not know it) and
    /// decodes its reply: every script of the store goes through here.
    async fn eval<R: ScriptReply>(&self, call: ScriptInvocation<'_>) -> StoreResult<R> {
        let raw: R::Raw = self
            .run(|mut c| async move { call.invoke_async(&mut c).await })
            .await?;
        R::decode(raw)
    }

    /// Runs a write of wallet `tag`'s sessions, then drops the wallet's cached sessions
    /// (whatever the outcome: a write that timed out may still have happened), so that this
    /// instance never reads its own change late.
    async fn wallet_write<T>(
        &self,
        tag: &WalletTag,
        write: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let r = write.await;
        if let Some(cache) = &self.cache {
            cache.forget(tag.as_str());
        }
        r
    }

    /// Runs writes of [`LUA_OPS`]: in one script on a single node; on a cluster, where their
    /// keys may be in as many slots, one script per write, all sent at once.
    async fn run_ops(&self, ops: Vec<Op>) -> StoreResult<()> {
        let calls: Vec<Vec<&Op>> = match self.conn {
            Conn::Single(_) => vec![ops.iter().collect()],
            Conn::Cluster(_) => ops.iter().map(|op| vec![op]).collect(),
        };
        futures_util::future::try_join_all(calls.into_iter().map(|ops| {
            let mut call = self.scripts.ops.prepare_invoke();
            for op in &ops {
                call.key(&op.key);
            }
            for op in &ops {
                op.args(&mut call);
            }
            async move { self.eval::<()>(call).await }
        }))
        .await?;
        Ok(())
    }

    /// The writes of `extras`, going with a session of the wallet `tag`.
    fn extras_ops(&self, tag: &WalletTag, extras: &SessionExtras<'_>) -> Vec<Op> {
        let mut ops = Vec::new();
        for &(log, bounds, event) in extras.audit {
            ops.push(self.audit_op(log, event, bounds, Some(tag)));
        }
        if let Some(name) = extras.count {
            ops.push(self.count_op(name, extras.now_ms));
        }
        if let Some((chain, moved)) = extras.active {
            ops.push(self.track_op(chain, moved, extras.now_ms));
        }
        ops
    }

    /// An append to an audit log (in the slot of `tag` when it is one of that wallet's logs).
    fn audit_op(
        &self,
        log: AuditLog<'_>,
        event: &[u8],
        bounds: AuditBounds,
        tag: Option<&WalletTag>,
    ) -> Op {
        let AuditKey { key, form, .. } = self.audit_key(log);
        Op {
            key,
            args: vec![
                form.code().to_vec(),
                event.to_vec(),
                bounds.max_len.max(1).to_string().into_bytes(),
                ttl_ms(bounds.max_age).to_string().into_bytes(),
            ],
            wallet_slot: tag.is_some() && log.wallet() == tag,
        }
    }

    /// One count of the event `name` in the minute of `now_ms`.
    fn count_op(&self, name: &str, now_ms: i64) -> Op {
        Op {
            key: self.count_key(name, active_bucket(now_ms)),
            args: vec![
                b"C".to_vec(),
                ttl_ms(EVENT_COUNT_RETENTION).to_string().into_bytes(),
            ],
            wallet_slot: false,
        }
    }

    /// A move of one session of `chain` in the active-session statistics.
    fn track_op(&self, chain: &str, moved: ActiveMove, now_ms: i64) -> Op {
        let keep_ms = moved.to_ms.map_or(0, |to| {
            (to - now_ms).max(0) + i64::try_from(ttl_ms(ACTIVE_SLACK)).unwrap_or(i64::MAX)
        });
        let bucket = |ms: Option<i64>| ms.map(|ms| active_bucket(ms).to_string());
        Op {
            key: self.active_key(chain),
            args: vec![
                b"T".to_vec(),
                bucket(moved.from_ms).unwrap_or_default().into_bytes(),
                bucket(moved.to_ms).unwrap_or_default().into_bytes(),
                active_bucket(now_ms).to_string().into_bytes(),
                keep_ms.to_string().into_bytes(),
            ],
            wallet_slot: false,
        }
    }

    /// `P{tag}:s:` — the prefix of a wallet's session entries.
    fn record_prefix(&self, tag: &WalletTag) -> String {
        format!("{}{{{tag}}}:s:", self.prefix)
    }

    fn record_key(&self, tag: &WalletTag, token_hash: &TokenHash) -> String {
        format!("{}{token_hash}", self.record_prefix(tag))
    }

    /// `P{tag}:m:` — the prefix of a wallet's retired-token lists (one per session).
    fn retired_prefix(&self, tag: &WalletTag) -> String {
        format!("{}{{{tag}}}:m:", self.prefix)
    }

    /// `P{tag}:m:<session_id>` — a session's retired-token list.
    fn retired_key(&self, tag: &WalletTag, session_id: &SessionId) -> String {
        format!("{}{session_id}", self.retired_prefix(tag))
    }

    /// `P{tag}:i` — a wallet's session index.
    fn index_key(&self, tag: &WalletTag) -> String {
        format!("{}{{{tag}}}:i", self.prefix)
    }

    /// `P{tag}:a` — the claim of the identity of a tag.
    fn claim_key(&self, tag: &WalletTag) -> String {
        format!("{}{{{tag}}}:a", self.prefix)
    }

    /// `Pacct:{<id>}` — an account's record.
    fn account_key(&self, account: &AccountId) -> String {
        format!("{}acct:{{{account}}}", self.prefix)
    }

    fn nonce_key(&self, nonce: &str) -> String {
        format!("{}n:{nonce}", self.prefix)
    }

    fn value_key(&self, key: &str) -> String {
        format!("{}v:{key}", self.prefix)
    }

    fn rate_key(&self, key: &str) -> String {
        format!("{}r:{key}", self.prefix)
    }

    /// Where and how an audit log is kept: `Paudit:security` / `Paudit:activity` (streams),
    /// `P{tag}:ls` / `P{tag}:la` (lists; before them, the streams `P{tag}:as` / `P{tag}:aa`).
    fn audit_key(&self, log: AuditLog<'_>) -> AuditKey {
        let shared = |name: &str| AuditKey {
            key: format!("{}audit:{name}", self.prefix),
            form: AuditForm::Stream,
            stream_before: None,
        };
        let wallet = |tag: &WalletTag, kind: char| AuditKey {
            key: format!("{}{{{tag}}}:l{kind}", self.prefix),
            form: AuditForm::List,
            stream_before: Some(format!("{}{{{tag}}}:a{kind}", self.prefix)),
        };
        match log {
            AuditLog::Security => shared("security"),
            AuditLog::Activity => shared("activity"),
            AuditLog::WalletSecurity(tag) => wallet(tag, 's'),
            AuditLog::WalletActivity(tag) => wallet(tag, 'a'),
        }
    }

    /// `Pcount:{name}:<minute>`: every minute of one counter in one cluster slot, so that one
    /// `MGET` reads them.
    fn count_key(&self, name: &str, bucket: i64) -> String {
        format!("{}count:{{{name}}}:{bucket}", self.prefix)
    }

    fn active_key(&self, chain: &str) -> String {
        format!("{}active:{chain}", self.prefix)
    }
}

#[async_trait]
impl Store for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn attach_recorder(&self, recorder: Arc<dyn super::StoreRecorder>) {
        if let Some(cache) = &self.cache {
            cache.attach_recorder(recorder);
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        let _: String = self.query(redis::cmd("PING")).await?;
        Ok(())
    }

    async fn put_nonce(&self, nonce: &str, value: &[u8], ttl: Duration) -> StoreResult<bool> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.nonce_key(nonce))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl));
        let set: Option<String> = self.query(cmd).await?;
        Ok(set.is_some())
    }

    async fn take_nonce(&self, nonce: &str) -> StoreResult<Option<Vec<u8>>> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.nonce_key(nonce));
        self.query(cmd).await
    }

    async fn create_session_with(
        &self,
        tag: &WalletTag,
        new: NewSession<'_>,
        max: usize,
        claim: SessionClaim<'_>,
        extras: SessionExtras<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>> {
        let (mode, account, value) = match claim {
            SessionClaim::Any => ("-", "", String::new()),
            SessionClaim::Existing(a) => ("E", a.as_str(), String::new()),
            SessionClaim::New(c) => ("N", c.account.as_str(), encode_claim(c)),
        };
        // On one node every write goes in the session's script; on a cluster only those in
        // the wallet's slot, the others follow once the session is created.
        let (with_session, after): (Vec<Op>, Vec<Op>) = self
            .extras_ops(tag, &extras)
            .into_iter()
            .partition(|op| op.wallet_slot || matches!(self.conn, Conn::Single(_)));
        let mut call = self.scripts.create.prepare_invoke();
        call.key(self.index_key(tag))
            .key(self.record_key(tag, new.token_hash))
            .key(self.claim_key(tag));
        for op in &with_session {
            call.key(&op.key);
        }
        call.arg(self.record_prefix(tag))
            .arg(new.session_id.as_str())
            .arg(new.token_hash.as_str())
            .arg(new.created_ms)
            .arg(live_entry(new.record))
            .arg(ttl_ms(new.ttl))
            .arg(max)
            .arg(self.retired_prefix(tag))
            .arg(mode)
            .arg(account)
            .arg(value);
        for op in &with_session {
            op.args(&mut call);
        }
        let ClaimedReply(outcome) = self.wallet_write(tag, self.eval(call)).await?;
        if matches!(outcome, Claimed::Done(_)) && !after.is_empty() {
            // Derived data: the session and the wallet's own event are stored, and the caller
            // is not failed for what they already hold.
            if let Err(e) = self.run_ops(after).await {
                tracing::warn!(error = %e, "could not write the shared records of a new session");
            }
        }
        Ok(outcome)
    }

    async fn get_session(
        &self,
        tag: &WalletTag,
        token_hash: &TokenHash,
        session_id: Option<&SessionId>,
    ) -> StoreResult<Option<SessionEntry>> {
        let cache = self.cache.as_deref();
        if let Some(record) = cache.and_then(|c| c.lookup(tag.as_str(), token_hash.as_str())) {
            return Ok(Some(SessionEntry::Live(record)));
        }
        let mut call = self.scripts.get.prepare_invoke();
        call.key(self.record_key(tag, token_hash))
            .key(self.index_key(tag))
            .arg(self.record_prefix(tag))
            .arg(self.retired_prefix(tag))
            .arg(token_hash.as_str())
            .arg(session_id.map_or("", SessionId::as_str));
        let Some(cache) = cache else {
            return self.eval(call).await;
        };
        let ticket = cache.ticket(tag.as_str());
        let entry: Option<SessionEntry> = self.eval(call).await?;
        if let (Some(ticket), Some(SessionEntry::Live(record))) = (ticket, &entry) {
            cache.fill(ticket, tag.as_str(), token_hash.as_str(), record);
        }
        Ok(entry)
    }

    async fn update_session(
        &self,
        tag: &WalletTag,
        update: SessionUpdate<'_>,
    ) -> StoreResult<bool> {
        let mut call = self.scripts.update.prepare_invoke();
        call.key(self.record_key(tag, update.token_hash))
            .key(self.index_key(tag))
            .arg(live_entry(update.record))
            .arg(
                update
                    .ttl
                    .map(|t| ttl_ms(t).to_string())
                    .unwrap_or_default(),
            )
            .arg(self.record_prefix(tag));
        self.wallet_write(tag, self.eval(call)).await
    }

    async fn rotate_session(&self, tag: &WalletTag, rot: Rotation<'_>) -> StoreResult<Rotated> {
        let mut call = self.scripts.rotate.prepare_invoke();
        call.key(self.index_key(tag))
            .key(self.record_key(tag, rot.old_hash))
            .key(self.record_key(tag, rot.new_hash))
            .key(self.retired_key(tag, rot.session_id))
            .arg(self.record_prefix(tag))
            .arg(rot.session_id.as_str())
            .arg(rot.old_hash.as_str())
            .arg(rot.new_hash.as_str())
            .arg(live_entry(rot.record))
            .arg(ttl_ms(rot.ttl))
            .arg(ttl_ms(rot.retain))
            .arg(rot.now_ms)
            .arg(rot.max_retired)
            .arg(rot.burst)
            .arg(ttl_ms(rot.burst_window));
        self.wallet_write(tag, self.eval(call)).await
    }

    async fn delete_session(
        &self,
        tag: &WalletTag,
        session_id: &SessionId,
    ) -> StoreResult<Option<(IndexEntry, Vec<u8>)>> {
        let mut call = self.scripts.delete.prepare_invoke();
        call.key(self.index_key(tag))
            .arg(self.record_prefix(tag))
            .arg(session_id.as_str())
            .arg(self.retired_prefix(tag));
        let Sessions(mut deleted) = self.wallet_write(tag, self.eval(call)).await?;
        Ok(deleted.pop())
    }

    async fn list_sessions(&self, tag: &WalletTag) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        let mut call = self.scripts.list.prepare_invoke();
        call.key(self.index_key(tag)).arg(self.record_prefix(tag));
        let Sessions(live) = self.eval(call).await?;
        Ok(live)
    }

    async fn delete_wallet_sessions(
        &self,
        tag: &WalletTag,
    ) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        let mut call = self.scripts.delete_all.prepare_invoke();
        call.key(self.index_key(tag))
            .arg(self.record_prefix(tag))
            .arg(self.retired_prefix(tag));
        let Sessions(deleted) = self.wallet_write(tag, self.eval(call)).await?;
        Ok(deleted)
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.value_key(key));
        self.query(cmd).await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> StoreResult<()> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.value_key(key)).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl_ms(ttl));
        }
        let _: String = self.query(cmd).await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.value_key(key));
        let n: u64 = self.query(cmd).await?;
        Ok(n > 0)
    }

    async fn compare_and_swap(&self, key: &str, swap: Swap<'_>) -> StoreResult<bool> {
        let Some(expected) = swap.expected else {
            let mut cmd = redis::cmd("SET");
            cmd.arg(self.value_key(key)).arg(swap.value).arg("NX");
            if let Some(ttl) = swap.ttl {
                cmd.arg("PX").arg(ttl_ms(ttl));
            }
            let set: Option<String> = self.query(cmd).await?;
            return Ok(set.is_some());
        };
        let mut call = self.scripts.cas.prepare_invoke();
        call.key(self.value_key(key))
            .arg(expected)
            .arg(swap.value)
            .arg(swap.ttl.map_or(0, ttl_ms));
        self.eval(call).await
    }

    async fn rate_limit(
        &self,
        key: &str,
        budget: RateBudget,
        now_ms: i64,
    ) -> StoreResult<RateDecision> {
        let seq = RATE_SEQ.fetch_add(1, Ordering::Relaxed);
        let member = format!("{now_ms}-{:016x}-{seq}", rand::random::<u64>());
        let mut call = self.scripts.rate.prepare_invoke();
        call.key(self.rate_key(key))
            .arg(now_ms)
            .arg(ttl_ms(budget.window))
            .arg(budget.limit)
            .arg(member);
        self.eval(call).await
    }

    async fn audit_append(
        &self,
        log: AuditLog<'_>,
        event: &[u8],
        bounds: AuditBounds,
    ) -> StoreResult<()> {
        self.run_ops(vec![self.audit_op(log, event, bounds, None)])
            .await
    }

    async fn audit_read(
        &self,
        log: AuditLog<'_>,
        limit: usize,
        bounds: AuditBounds,
    ) -> StoreResult<Vec<Vec<u8>>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let AuditKey {
            key,
            form,
            stream_before,
        } = self.audit_key(log);
        let mut call = self.scripts.audit_read.prepare_invoke();
        call.key(key);
        if let Some(before) = stream_before {
            call.key(before);
        }
        // No log holds 2^32 entries; the script counts in Lua numbers.
        call.arg(u32::try_from(limit).unwrap_or(u32::MAX))
            .arg(ttl_ms(bounds.max_age))
            .arg(form.code());
        self.eval(call).await
    }

    async fn count_event(&self, name: &str, now_ms: i64) -> StoreResult<()> {
        self.run_ops(vec![self.count_op(name, now_ms)]).await
    }

    async fn count_events_since(&self, name: &str, span: Span) -> StoreResult<u64> {
        let buckets = span.event_buckets();
        if buckets.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("MGET");
        for b in buckets {
            cmd.arg(self.count_key(name, b));
        }
        let counts: Vec<Option<u64>> = self.query(cmd).await?;
        Ok(counts.into_iter().flatten().sum())
    }

    async fn track_active(&self, chain: &str, moved: ActiveMove, now_ms: i64) -> StoreResult<()> {
        self.run_ops(vec![self.track_op(chain, moved, now_ms)])
            .await
    }

    async fn count_active(&self, chain: &str, now_ms: i64) -> StoreResult<u64> {
        let mut call = self.scripts.count.prepare_invoke();
        call.key(self.active_key(chain)).arg(active_bucket(now_ms));
        self.eval(call).await
    }

    async fn get_claim(&self, tag: &WalletTag) -> StoreResult<Option<Claim>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.claim_key(tag));
        let v: Option<Vec<u8>> = self.query(cmd).await?;
        decode_claim(&v.unwrap_or_default())
    }

    async fn swap_claim(
        &self,
        tag: &WalletTag,
        swap: ClaimSwap<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>> {
        let mut call = self.scripts.swap_claim.prepare_invoke();
        call.key(self.claim_key(tag))
            .key(self.index_key(tag))
            .arg(swap.expected.map_or("", AccountId::as_str))
            .arg(swap.new.map(encode_claim).unwrap_or_default())
            .arg(if swap.end_sessions { "1" } else { "0" })
            .arg(self.record_prefix(tag))
            .arg(self.retired_prefix(tag));
        let ClaimedReply(outcome) = self.wallet_write(tag, self.eval(call)).await?;
        Ok(outcome)
    }

    async fn get_account(&self, account: &AccountId) -> StoreResult<Option<AccountRecord>> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(self.account_key(account));
        let fields: Vec<(String, String)> = self.query(cmd).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let mut record = AccountRecord {
            created_ms: 0,
            roles: Vec::new(),
            identities: Vec::new(),
        };
        for (field, value) in fields {
            match field.as_str() {
                "c" => record.created_ms = parse_ms(value.as_bytes(), "account creation time")?,
                "r" => record.roles = value.split_whitespace().map(str::to_owned).collect(),
                f => {
                    if let Some(identity) = f.strip_prefix("i:") {
                        record
                            .identities
                            .push((identity.to_owned(), WalletTag::new(value)));
                    }
                }
            }
        }
        record.identities.sort();
        Ok(Some(record))
    }

    async fn add_account_identity(
        &self,
        account: &AccountId,
        new: NewIdentity<'_>,
    ) -> StoreResult<bool> {
        let mut call = self.scripts.account_add.prepare_invoke();
        call.key(self.account_key(account))
            .arg(format!("i:{}", new.identity))
            .arg(new.tag.as_str())
            .arg(new.created_ms)
            .arg(new.max);
        self.eval(call).await
    }

    async fn remove_account_identity(
        &self,
        account: &AccountId,
        identity: &str,
        keep_last: bool,
    ) -> StoreResult<IdentityRemoval> {
        let mut call = self.scripts.account_remove.prepare_invoke();
        call.key(self.account_key(account))
            .arg(format!("i:{identity}"))
            .arg(if keep_last { "1" } else { "0" });
        let outcome: u64 = self.eval(call).await?;
        Ok(match outcome {
            1 => IdentityRemoval::Removed,
            2 => IdentityRemoval::Last,
            _ => IdentityRemoval::NotListed,
        })
    }

    async fn set_account_roles(
        &self,
        account: &AccountId,
        expected: Option<&[String]>,
        roles: &[String],
    ) -> StoreResult<RolesSet> {
        let mut call = self.scripts.account_roles.prepare_invoke();
        call.key(self.account_key(account))
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.map(|e| e.join(" ")).unwrap_or_default())
            .arg(roles.join(" "));
        let outcome: u64 = self.eval(call).await?;
        Ok(match outcome {
            1 => RolesSet::Done,
            2 => RolesSet::Conflict,
            _ => RolesSet::NoAccount,
        })
    }

    async fn delete_account(&self, account: &AccountId, only_if: &[String]) -> StoreResult<bool> {
        let mut call = self.scripts.account_delete.prepare_invoke();
        call.key(self.account_key(account));
        for identity in only_if {
            call.arg(format!("i:{identity}"));
        }
        self.eval(call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_entry(flat: &[&str]) -> StoreResult<Option<SessionEntry>> {
        ScriptReply::decode(flat.iter().map(|s| s.as_bytes().to_vec()).collect())
    }

    #[test]
    fn entries_round_trip() {
        assert_eq!(decode_entry(&[]).ok(), Some(None));
        assert_eq!(
            decode_entry(&["L", "abc"]).ok(),
            Some(Some(SessionEntry::Live(b"abc".to_vec())))
        );
        assert_eq!(
            decode_entry(&["R", "sid", "1700000000000", "h2", "r"]).ok(),
            Some(Some(SessionEntry::Retired {
                session_id: SessionId::new("sid"),
                at_ms: 1_700_000_000_000,
                current: Some(CurrentToken {
                    token_hash: TokenHash::new("h2"),
                    record: b"r".to_vec(),
                }),
            }))
        );
        assert_eq!(
            decode_entry(&["R", "sid", "5"]).ok(),
            Some(Some(SessionEntry::Retired {
                session_id: SessionId::new("sid"),
                at_ms: 5,
                current: None,
            }))
        );
        assert!(decode_entry(&["X", "abc"]).is_err());
        assert!(decode_entry(&["R", "sid", "soon"]).is_err());
        assert!(decode_entry(&["R", "sid", "5", "h2"]).is_err());
    }

    #[test]
    fn session_lists_decode_by_four() {
        let flat = |items: &[&str]| items.iter().map(|s| s.as_bytes().to_vec()).collect();
        let Ok(Sessions(one)) = Sessions::decode(flat(&["s1", "h1", "-5", "rec"])) else {
            panic!("a session list of four items decodes");
        };
        assert_eq!(
            one,
            vec![(
                IndexEntry {
                    session_id: SessionId::new("s1"),
                    token_hash: TokenHash::new("h1"),
                    created_ms: -5,
                },
                b"rec".to_vec()
            )]
        );
        assert!(Sessions::decode(flat(&["s1", "h1", "-5"])).is_err());
        assert!(Sessions::decode(flat(&["s1", "h1", "x", "rec"])).is_err());
    }

    #[test]
    fn ttl_rounds_up_and_is_never_zero() {
        assert_eq!(ttl_ms(Duration::ZERO), 1);
        assert_eq!(ttl_ms(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_ms(Duration::from_secs(2)), 2000);
    }

    #[test]
    fn error_text_is_short() {
        let long = "x".repeat(1000);
        assert!(short(&long).chars().count() <= ERROR_TEXT_MAX + 1);
        assert_eq!(short("refused"), "refused");
    }
}
