// The JavaScript client against the real server (started by scripts/browser-test.sh), in Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createClient, base58Encode, isUserRejection, WalletAuthError } from '../wallet-auth.js';
import { BASE_URL, RESTRICTED_URL, EthKey, SolKey, cookieFetch } from './wallets.mjs';

function newClient(opts = {}) {
  const f = cookieFetch();
  return { client: createClient({ baseUrl: BASE_URL, fetch: f, ...opts }), f };
}

// Reference base58 with BigInt, to check the client's encoder.
function base58Reference(bytes) {
  const A = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  let n = 0n;
  for (const b of bytes) n = n * 256n + BigInt(b);
  let s = '';
  while (n > 0n) {
    s = A[Number(n % 58n)] + s;
    n /= 58n;
  }
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  return '1'.repeat(zeros) + s;
}

test('base58 encoding', () => {
  assert.equal(base58Encode(new TextEncoder().encode('Hello World!')), '2NEpo7TZRRrLZSi2U');
  assert.equal(base58Encode([]), '');
  assert.equal(base58Encode([0, 0, 1]), '112');
  for (let i = 0; i < 200; i++) {
    const len = i % 70;
    const bytes = new Uint8Array(len).map(() => (Math.random() < 0.1 ? 0 : Math.floor(Math.random() * 256)));
    assert.equal(base58Encode(bytes), base58Reference(bytes));
  }
});

test('user rejection detection', () => {
  assert.ok(isUserRejection({ code: 4001, message: 'x' }));
  assert.ok(isUserRejection(new Error('User rejected the request.')));
  assert.ok(!isUserRejection(new Error('boom')));
});

test('Ethereum sign-in, session, CSRF header on unsafe methods only, logout', async () => {
  const key = new EthKey();
  const { client, f } = newClient();
  assert.equal(await client.session(), null);
  const s = await client.signInWithEthereum(key.provider());
  assert.equal(s.chain, 'ethereum');
  assert.equal(s.address, key.address);
  assert.equal(s.token, undefined, 'the token is not kept by the browser client');
  assert.ok(s.csrfToken);
  assert.ok(f.jar.has('wallet_session'));

  const me = await client.fetch('/api/me');
  assert.equal(me.status, 200);
  assert.equal((await me.json()).address, key.address);
  assert.ok(client.expiresAt);

  // Another device's session of the same wallet, then revoke it.
  const other = newClient().client;
  await other.signInWithEthereum(key.provider());
  const sessions = await client.listSessions();
  assert.equal(sessions.length, 2);
  const theirs = sessions.find((x) => !x.current);
  await client.revoke(theirs.sessionId);
  assert.equal(await other.session(), null);

  const before = f.log.length;
  const put = await client.fetch('/api/preferences', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ theme: 'dark' }),
  });
  assert.equal(put.status, 200, await put.clone().text());
  const get = await client.fetch('/api/preferences');
  assert.deepEqual(await get.json(), { theme: 'dark' });
  const [putReq, getReq] = f.log.slice(before);
  assert.equal(putReq.headers.get('x-csrf-token'), s.csrfToken);
  assert.equal(getReq.headers.get('x-csrf-token'), null);
  for (const r of f.log) {
    if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method) && !r.url.endsWith('/auth/nonce') && !r.url.endsWith('/auth/verify')) {
      assert.equal(r.headers.get('x-csrf-token'), s.csrfToken, `${r.method} ${r.url}`);
    }
  }

  // Without the token the server refuses a cookie-authenticated unsafe request.
  const raw = await f(`${BASE_URL}/auth/logout`, { method: 'POST' });
  assert.equal(raw.status, 403);
  assert.equal((await raw.json()).error.code, 'csrf_failed');

  await client.logout();
  assert.equal(client.current, null);
  assert.equal(await client.session(), null);
});

test('after a reload the CSRF token is re-read from /auth/session', async () => {
  const key = new EthKey();
  const { client, f } = newClient();
  await client.signInWithEthereum(key.provider());
  // A new client over the same cookies: what a page has after a reload.
  const reloaded = createClient({ baseUrl: BASE_URL, fetch: f });
  assert.equal(reloaded.csrfToken, null);
  const r = await reloaded.logoutAll();
  assert.equal(r.revoked, 1);
  assert.equal(await reloaded.session(), null);
});

test('Solana sign-in with solana:signIn and with the signMessage fallback', async () => {
  const key = new SolKey();
  const { client } = newClient();
  const s = await client.signInWithSolana(key.wallet());
  assert.equal(s.chain, 'solana');
  assert.equal(s.address, key.address);
  const { client: c2 } = newClient();
  const s2 = await c2.signInWithSolana(key.wallet({ features: ['signMessage'] }));
  assert.equal(s2.address, key.address);
  assert.equal((await client.listSessions()).length, 2);
  assert.equal((await c2.logoutAll()).revoked, 2);
});

test('errors carry the server code; wallet rejections are user_rejected', async () => {
  const eth = new EthKey();
  const { client } = newClient();
  await assert.rejects(client.signInWithEthereum(eth.provider('reject')), (e) => {
    assert.ok(e instanceof WalletAuthError);
    assert.equal(e.code, 'user_rejected');
    return true;
  });
  await assert.rejects(client.signInWithSolana(new SolKey().wallet({ reject: true })), { code: 'user_rejected' });
  await assert.rejects(client.signInWithEthereum(eth.provider('garbage')), (e) => {
    assert.equal(e.code, 'invalid_signature');
    assert.equal(e.status, 401);
    return true;
  });
  await assert.rejects(client.listSessions(), { code: 'unauthenticated' });
  await assert.rejects(client.signInWithEthereum(undefined), { code: 'no_wallet' });
  await client.signInWithEthereum(eth.provider());
  await assert.rejects(client.revoke('no-such-session'), { code: 'not_found' });
  await client.logout();
});

test('a wallet on an L2 signs in with the server defaults (any chain id)', async () => {
  const key = new EthKey();
  const { client } = newClient();
  const provider = key.provider('ok', { chainId: 8453 });
  const s = await client.signInWithEthereum(provider, { switchChain: true });
  assert.equal(s.chainId, 8453);
  assert.equal(s.address, key.address);
  assert.deepEqual(provider.switches, [], 'no switch where none is needed');
  await client.logout();
});

test(
  'a chain the server does not accept: the error names the accepted one; with consent the wallet switches',
  { skip: !RESTRICTED_URL && 'WALLET_AUTH_RESTRICTED_URL is not set' },
  async () => {
    const key = new EthKey();
    const restricted = () => createClient({ baseUrl: RESTRICTED_URL, fetch: cookieFetch() });

    // By default the client does not switch: the error says which chain would do.
    const provider = key.provider('ok', { chainId: 8453 });
    await assert.rejects(restricted().signInWithEthereum(provider), (e) => {
      assert.ok(e instanceof WalletAuthError);
      assert.equal(e.code, 'chain_not_allowed');
      assert.equal(e.status, 401);
      assert.equal(e.chainId, 8453);
      assert.equal(e.allowedChainId, 10);
      assert.match(e.message, /chain 10/);
      return true;
    });
    assert.deepEqual(provider.switches, []);

    // The caller is asked, and declines.
    const asked = [];
    const decline = (request) => {
      asked.push(request);
      return false;
    };
    await assert.rejects(restricted().signInWithEthereum(provider, { switchChain: decline }), {
      code: 'chain_not_allowed',
      allowedChainId: 10,
    });
    assert.deepEqual(asked, [{ chainId: 8453, allowedChainId: 10 }]);
    assert.deepEqual(provider.switches, []);

    // With consent: the wallet is switched, and the session is on the accepted chain.
    const client = restricted();
    const s = await client.signInWithEthereum(provider, { switchChain: async () => true });
    assert.deepEqual(provider.switches, [10]);
    assert.equal(provider.chainId, 10);
    assert.equal(s.chainId, 10);
    assert.equal(s.address, key.address);
    const me = await client.fetch('/api/me');
    assert.equal((await me.json()).chainId, 10);
    await client.logout();

    // Already on an accepted chain: no switch.
    const onMainnet = key.provider('ok', { chainId: 1 });
    assert.equal((await restricted().signInWithEthereum(onMainnet, { switchChain: true })).chainId, 1);
    assert.deepEqual(onMainnet.switches, []);

    // The user declines the switch in the wallet.
    const declining = key.provider('ok', { chainId: 8453, switchMode: 'reject' });
    await assert.rejects(restricted().signInWithEthereum(declining, { switchChain: true }), {
      code: 'user_rejected',
      allowedChainId: 10,
    });
    assert.deepEqual(declining.switches, [10]);

    // The wallet does not know the chain (EIP-3326 error 4902).
    const unaware = key.provider('ok', { chainId: 8453, chains: [8453] });
    await assert.rejects(restricted().signInWithEthereum(unaware, { switchChain: true }), (e) => {
      assert.equal(e.code, 'wallet_error');
      assert.match(e.message, /add it to the wallet/);
      assert.equal(e.allowedChainId, 10);
      return true;
    });
  },
);

test('X-Session-Refreshed updates the expiry and calls onRefresh (local stub server)', async () => {
  const newExpiry = '2030-01-01T00:00:00Z';
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    const headers = { 'content-type': 'application/json', 'x-session-expires-at': newExpiry };
    if (req.url === '/refreshing') headers['x-session-refreshed'] = 'true';
    res.writeHead(200, headers);
    res.end('{}');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const calls = [];
    const client = createClient({
      baseUrl: `http://127.0.0.1:${server.address().port}`,
      onRefresh: (info) => calls.push(info),
    });
    await client.fetch('/plain');
    assert.equal(client.expiresAt, newExpiry);
    assert.equal(calls.length, 0);
    await client.fetch('/refreshing');
    assert.deepEqual(calls, [{ expiresAt: newExpiry }]);
    assert.equal(hits, 2);
  } finally {
    server.close();
  }
});

// The session cookie and the CSRF token go to the server's own origin only: client.fetch of
// another origin's URL (absolute, protocol-relative, a URL or a Request object) is a plain fetch.
test('the CSRF token and credentials are never sent to another origin', async () => {
  const seen = [];
  const stub = http.createServer((req, res) => {
    seen.push({ path: req.url, csrf: req.headers['x-csrf-token'] ?? null });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise((r) => stub.listen(0, '127.0.0.1', r));
  const foreign = `http://127.0.0.1:${stub.address().port}`;
  try {
    const key = new EthKey();
    const { client, f } = newClient();
    const s = await client.signInWithEthereum(key.provider());
    assert.ok(s.csrfToken);
    const before = f.log.length;
    const inits = [];
    const spy = createClient({
      baseUrl: BASE_URL,
      fetch: (url, init) => {
        inits.push({ url: String(url instanceof Request ? url.url : url), init });
        return f(url, init);
      },
    });
    await spy.session(); // the token is known to this client too
    assert.equal(spy.csrfToken, s.csrfToken);
    inits.length = 0;
    await spy.fetch(`${foreign}/a`, { method: 'POST' });
    await spy.fetch(new URL(`${foreign}/b`), { method: 'DELETE' });
    await spy.fetch(new Request(`${foreign}/c`, { method: 'PUT' }));
    for (const { init } of inits) {
      assert.notEqual(init && init.credentials, 'include');
      const h = new Headers((init && init.headers) || undefined);
      assert.equal(h.get('x-csrf-token'), null);
    }
    assert.deepEqual(
      seen.map((x) => [x.path, x.csrf]),
      [
        ['/a', null],
        ['/b', null],
        ['/c', null],
      ],
    );
    // The server's own origin, by path or by absolute URL, still gets the token.
    inits.length = 0;
    const own = await spy.fetch(`${BASE_URL}/api/preferences`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(own.status, 200);
    assert.equal(new Headers(inits[0].init.headers).get('x-csrf-token'), s.csrfToken);
    assert.equal(inits[0].init.credentials, 'include');
    assert.ok(f.log.length > before);
    await client.logout();
  } finally {
    stub.close();
  }
});

test('subscribe: several listeners hear every session change; each unsubscribes alone', async () => {
  const key = new EthKey();
  const { client } = newClient();
  const heard = { a: [], b: [], twice: [] };
  const offA = client.subscribe((s) => heard.a.push(s && s.address));
  const offB = client.subscribe((s) => heard.b.push(s && s.address));
  // A throwing listener disturbs neither the client nor the others.
  const offBad = client.subscribe(() => {
    throw new Error('listener bug');
  });
  const twice = (s) => heard.twice.push(s && s.address);
  const offTwice1 = client.subscribe(twice);
  const offTwice2 = client.subscribe(twice);
  assert.throws(() => client.subscribe('not a function'), TypeError);

  assert.equal(await client.session(), null);
  assert.deepEqual(heard.a, [], 'still signed out: no change');

  const s = await client.signInWithEthereum(key.provider());
  assert.deepEqual(heard.a, [key.address]);
  assert.deepEqual(heard.b, [key.address]);
  assert.deepEqual(heard.twice, [key.address, key.address], 'one call per subscription');
  assert.equal(client.current.sessionId, s.sessionId);

  // Reading the same session again changes nothing: same object, no call.
  const known = client.current;
  await client.session();
  await client.fetch('/api/me');
  assert.equal(client.current, known);
  assert.deepEqual(heard.a, [key.address]);

  offB();
  offB(); // idempotent
  offTwice1();
  await client.logout();
  assert.deepEqual(heard.a, [key.address, null]);
  assert.deepEqual(heard.b, [key.address], 'unsubscribed');
  assert.deepEqual(heard.twice, [key.address, key.address, null], 'the other subscription of the same function stays');

  // Revoking the client's own session is a change too.
  await client.signInWithEthereum(key.provider());
  const mine = (await client.listSessions()).find((x) => x.current);
  await client.revoke(mine.sessionId);
  assert.deepEqual(heard.a, [key.address, null, key.address, null]);
  for (const off of [offA, offBad, offTwice2]) off();
  await client.signInWithEthereum(key.provider());
  assert.equal(heard.a.length, 4, 'no listener left');
  await client.logout();
});

test('subscribe follows cross-tab sync; onSessionChange still gets other tabs\' changes', async (t) => {
  if (typeof BroadcastChannel !== 'function') return t.skip('no BroadcastChannel in this Node');
  const key = new EthKey();
  const f = cookieFetch(); // two "tabs" of one browser: one cookie jar
  const changes = [];
  const tabA = createClient({ baseUrl: BASE_URL, fetch: f, sync: true });
  const tabB = createClient({
    baseUrl: BASE_URL,
    fetch: f,
    sync: true,
    onSessionChange: (s) => changes.push(s && s.address),
  });
  try {
    const heard = [];
    const off = tabB.subscribe((s) => heard.push(s && s.address));
    const waitFor = async (n) => {
      for (let i = 0; i < 100 && heard.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    };
    await tabA.signInWithEthereum(key.provider());
    await waitFor(1);
    assert.deepEqual(heard, [key.address], 'the other tab read the new session');
    await tabA.logout();
    await waitFor(2);
    assert.deepEqual(heard, [key.address, null]);
    assert.deepEqual(changes, [key.address, null]);
    assert.equal(tabB.current, null);
    off();
  } finally {
    tabA.close();
    tabB.close();
  }
});
