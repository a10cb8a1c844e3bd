// Tokens for other services, verified with an independent implementation (jose) through the
// README's example verifier (verify-token.mjs), against the real server started by
// scripts/browser-test.sh. Key rotation runs `wallet-auth keys rotate` against a Redis-backed
// server the script starts (WALLET_AUTH_REDIS_URL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { decodeProtectedHeader, decodeJwt, createLocalJWKSet, jwtVerify } from 'jose';
import { tokenVerifier } from './verify-token.mjs';
import { BASE_URL, EthKey, SolKey } from './wallets.mjs';

const REDIS_URL = process.env.WALLET_AUTH_REDIS_URL || '';

async function post(base, path, { bearer, body, headers = {} } = {}) {
  const h = { ...headers };
  if (bearer) h.authorization = `Bearer ${bearer}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const r = await fetch(new URL(path, base), {
    method: 'POST',
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : null };
}

async function signInEthereum(base) {
  const key = new EthKey();
  const n = await post(base, '/auth/nonce', { body: { chain: 'ethereum', address: key.address } });
  assert.equal(n.status, 200);
  const message = n.body.message;
  const signature = key.personalSign(`0x${Buffer.from(message, 'utf8').toString('hex')}`);
  const v = await post(base, '/auth/verify', { body: { chain: 'ethereum', message, signature } });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  return { key, session: v.body };
}

async function mint(base, bearer) {
  const r = await post(base, '/auth/token', { bearer });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

test('a wallet token verifies with jose, with every claim of the contract', async () => {
  const { key, session } = await signInEthereum(BASE_URL);
  const minted = await mint(BASE_URL, session.token);
  const verify = tokenVerifier(BASE_URL);
  const claims = await verify(minted.token);
  const caip10 = `eip155:${session.chainId}:${key.address}`;
  assert.deepEqual(Object.keys(claims).sort(), ['aud', 'exp', 'iat', 'iss', 'roles', 'sid', 'sub', 'wallet']);
  assert.equal(claims.iss, BASE_URL);
  assert.equal(claims.aud, BASE_URL);
  assert.match(session.accountId, /\S/);
  assert.equal(claims.sub, session.accountId, 'sub is the accountId');
  assert.equal(claims.wallet, caip10);
  assert.equal(claims.sid, session.sessionId);
  assert.deepEqual(claims.roles, []);
  assert.equal(claims.exp - claims.iat, 300);
  assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 30);
  assert.equal(Date.parse(minted.expiresAt) / 1000, claims.exp);
  assert.ok(claims.exp <= Date.parse(session.expiresAt) / 1000);
  const header = decodeProtectedHeader(minted.token);
  assert.equal(header.alg, 'ES256');
  const r = await fetch(new URL('/.well-known/jwks.json', BASE_URL));
  assert.equal(r.headers.get('cache-control'), 'public, max-age=300');
  const set = await r.json();
  assert.equal(set.keys.length, 2);
  assert.ok(set.keys.every((k) => k.kty === 'EC' && k.crv === 'P-256' && k.kid && !('d' in k)));
  assert.equal(set.keys[0].kid, header.kid);
});

test('a tampered or misdirected token fails', async () => {
  const { session } = await signInEthereum(BASE_URL);
  const { token } = await mint(BASE_URL, session.token);
  const verify = tokenVerifier(BASE_URL);
  await verify(token);
  const [h, p, s] = token.split('.');
  const claims = decodeJwt(token);
  const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'eip155:1:0x0000000000000000000000000000000000000001' })).toString('base64url');
  await assert.rejects(verify(`${h}.${forgedPayload}.${s}`), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  const sig = Buffer.from(s, 'base64url');
  sig[5] ^= 1;
  await assert.rejects(verify(`${h}.${p}.${sig.toString('base64url')}`), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  const none = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
  await assert.rejects(verify(`${none}.${p}.`));
  await assert.rejects(tokenVerifier(BASE_URL, { audience: 'another-service' })(token), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
  await assert.rejects(tokenVerifier(BASE_URL, { issuer: 'https://evil.example' })(token), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
});

test('a Solana wallet is CAIP-10 with the mainnet genesis hash prefix', async () => {
  const key = new SolKey();
  const n = await post(BASE_URL, '/auth/nonce', { body: { chain: 'solana', address: key.address } });
  assert.equal(n.status, 200);
  const signature = Buffer.from(key.sign(new TextEncoder().encode(n.body.message))).toString('base64');
  const v = await post(BASE_URL, '/auth/verify', { body: { chain: 'solana', message: n.body.message, signature } });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  const claims = await tokenVerifier(BASE_URL)((await mint(BASE_URL, v.body.token)).token);
  assert.equal(claims.wallet, `solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp:${key.address}`);
});

test('a revoked session cannot mint', async () => {
  const { session } = await signInEthereum(BASE_URL);
  await mint(BASE_URL, session.token);
  assert.equal((await post(BASE_URL, '/auth/logout', { bearer: session.token })).status, 204);
  const r = await post(BASE_URL, '/auth/token', { bearer: session.token });
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 'unauthenticated');
});

test('rotation: old tokens stay valid until they expire', { skip: !REDIS_URL && 'no Redis-backed server' }, async () => {
  const { session } = await signInEthereum(REDIS_URL);
  const old = (await mint(REDIS_URL, session.token)).token;
  const oldKid = decodeProtectedHeader(old).kid;
  const before = await (await fetch(new URL('/.well-known/jwks.json', REDIS_URL))).json();
  const out = JSON.parse(
    execFileSync(process.env.WALLET_AUTH_BIN, ['keys', 'rotate', '--force'], {
      env: { ...process.env, REDIS_URL: process.env.WALLET_AUTH_REDIS_STORE, SESSION_ENCRYPTION_KEY: process.env.WALLET_AUTH_REDIS_KEY },
    }).toString(),
  );
  assert.equal(out.retired[0], oldKid);
  assert.ok(before.keys.some((k) => k.kid === out.current), 'the new signing key was published before the rotation');
  // The server reads the keys again within TOKEN_KEYS_CACHE (1 s here).
  let fresh;
  for (let i = 0; i < 50; i++) {
    fresh = (await mint(REDIS_URL, session.token)).token;
    if (decodeProtectedHeader(fresh).kid === out.current) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(decodeProtectedHeader(fresh).kid, out.current);
  const verify = tokenVerifier(REDIS_URL);
  // Both verify against the JWKS now served (the old key is retired, still listed).
  const after = await (await fetch(new URL('/.well-known/jwks.json', REDIS_URL))).json();
  assert.deepEqual(after.keys.map((k) => k.kid).sort(), [out.current, out.next, oldKid].sort());
  await verify(old);
  await verify(fresh);
  // A verifier holding the JWKS from before the rotation accepts the new key's tokens.
  await jwtVerify(fresh, createLocalJWKSet(before), { algorithms: ['ES256'], issuer: REDIS_URL, audience: REDIS_URL });
  // Until it expires (TOKEN_TTL is 3 s on this server).
  const wait = decodeJwt(old).exp * 1000 - Date.now() + 1100;
  await new Promise((r) => setTimeout(r, Math.max(wait, 0)));
  await assert.rejects(verify(old), { code: 'ERR_JWT_EXPIRED' });
});
