// The client's account calls against the real server (started by scripts/browser-test.sh), in
// Node: reading the account, linking a wallet of the other chain (Ethereum to a Solana account
// and back), a password, unlinking, the account scope of the session list and of logout-all,
// and the errors an app must handle, each with its code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createClient, WalletAuthError } from '../wallet-auth.js';
import { BASE_URL, REAUTH_URL, EthKey, SolKey, cookieFetch } from './wallets.mjs';

function newClient(baseUrl = BASE_URL) {
  const f = cookieFetch();
  return { client: createClient({ baseUrl, fetch: f }), f };
}

// The account's wallets as sorted `chain:address` strings.
const walletsOf = (account) =>
  account.identities
    .filter((i) => i.type === 'wallet')
    .map((i) => `${i.chain}:${i.address}`)
    .sort();

const rejectsWith = (promise, code, status) =>
  assert.rejects(promise, (e) => {
    assert.ok(e instanceof WalletAuthError, `${e}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.status, status);
    assert.ok(e.message.length > 0);
    return true;
  });

test('an Ethereum account links a Solana wallet; signing in with either gives the same accountId', async () => {
  const eth = new EthKey();
  const sol = new SolKey();
  const { client, f } = newClient();
  const s = await client.signInWithEthereum(eth.provider());
  assert.match(s.accountId, /\S/);
  assert.ok(Array.isArray(s.roles));
  const before = await client.account();
  assert.equal(before.accountId, s.accountId);
  assert.deepEqual(before.identities, [{ type: 'wallet', chain: 'ethereum', address: eth.address }]);
  assert.ok(Date.parse(before.createdAt) > 0);

  const mark = f.log.length;
  const linked = await client.linkSolana(sol.wallet());
  assert.equal(linked.accountId, s.accountId);
  assert.deepEqual(walletsOf(linked), [`ethereum:${eth.address}`, `solana:${sol.address}`].sort());
  // A link nonce and the link, with the session's CSRF token; the session itself is unchanged.
  const requests = f.log.slice(mark);
  assert.deepEqual(
    requests.map((r) => `${r.method} ${new URL(r.url).pathname}`),
    ['POST /auth/link/nonce', 'POST /auth/link'],
  );
  for (const r of requests) assert.equal(r.headers.get('x-csrf-token'), s.csrfToken);
  assert.equal(client.current.sessionId, s.sessionId);
  assert.deepEqual(walletsOf(await client.account()), walletsOf(linked));

  // Signing in with the Solana wallet, or with the Ethereum one again: the same account.
  const { client: viaSolana } = newClient();
  const s2 = await viaSolana.signInWithSolana(sol.wallet());
  assert.equal(s2.accountId, s.accountId);
  assert.deepEqual(walletsOf(await viaSolana.account()), walletsOf(linked));
  const { client: viaEthereum } = newClient();
  assert.equal((await viaEthereum.signInWithEthereum(eth.provider())).accountId, s.accountId);
  await client.logoutAll({ scope: 'account' });
});

test('a Solana account links an Ethereum wallet (signMessage wallets too); one identity on every EVM chain', async () => {
  const sol = new SolKey();
  const eth = new EthKey();
  const { client } = newClient();
  // A wallet without solana:signIn: the server's ready message, signed with solana:signMessage.
  const s = await client.signInWithSolana(sol.wallet({ features: ['signMessage'] }));
  // The wallet answers its address in lower case, on Base: the identity is its EIP-55 form.
  const linked = await client.linkEthereum(eth.provider('ok', { chainId: 8453 }));
  assert.equal(linked.accountId, s.accountId);
  assert.deepEqual(walletsOf(linked), [`ethereum:${eth.address}`, `solana:${sol.address}`].sort());

  // Signing in with the Ethereum wallet on another chain: the same account.
  const { client: onMainnet } = newClient();
  const s2 = await onMainnet.signInWithEthereum(eth.provider('ok', { chainId: 1 }));
  assert.equal(s2.chainId, 1);
  assert.equal(s2.accountId, s.accountId);

  // A second Solana wallet, linked through signMessage.
  const sol2 = new SolKey();
  const three = await onMainnet.linkSolana(sol2.wallet({ features: ['signMessage'] }));
  assert.equal(three.identities.length, 3);
  const { client: viaSol2 } = newClient();
  assert.equal((await viaSol2.signInWithSolana(sol2.wallet())).accountId, s.accountId);
  await client.logoutAll({ scope: 'account' });
});

test('scope "account": the sessions of every identity are listed, and logout-all ends them all', async () => {
  const eth = new EthKey();
  const sol = new SolKey();
  const { client } = newClient();
  await client.signInWithEthereum(eth.provider());
  await client.linkSolana(sol.wallet());
  const { client: solSide } = newClient();
  await solSide.signInWithSolana(sol.wallet());
  const { client: ethElsewhere } = newClient();
  await ethElsewhere.signInWithEthereum(eth.provider());

  // Without a scope: this wallet's sessions, as before.
  assert.equal((await client.listSessions()).length, 2);
  const all = await client.listSessions({ scope: 'account' });
  assert.equal(all.length, 3);
  assert.equal(all.filter((x) => x.current).length, 1);
  assert.deepEqual(
    all.map((x) => `${x.identity.type}:${x.identity.chain}:${x.identity.address}`).sort(),
    [`wallet:ethereum:${eth.address}`, `wallet:ethereum:${eth.address}`, `wallet:solana:${sol.address}`].sort(),
  );

  // Without a scope, logout-all leaves the other wallet's sessions alone.
  const { client: ethThird } = newClient();
  await ethThird.signInWithEthereum(eth.provider());
  assert.equal((await ethThird.logoutAll()).revoked, 3);
  assert.equal(await client.session(), null);
  assert.notEqual(await solSide.session(), null);

  await client.signInWithEthereum(eth.provider());
  assert.deepEqual(await client.logoutAll({ scope: 'account' }), { revoked: 2 });
  assert.equal(client.current, null);
  assert.equal(await solSide.session(), null, "the other wallet's session ended too");
  assert.equal(await client.session(), null);
});

test('unlink: the wallet leaves the account and its sessions end; the last identity stays; a lone wallet moves over', async () => {
  const eth = new EthKey();
  const sol = new SolKey();
  const { client } = newClient();
  const s = await client.signInWithEthereum(eth.provider());
  await client.linkSolana(sol.wallet());
  const { client: solSide } = newClient();
  await solSide.signInWithSolana(sol.wallet());

  // An identity of the account, as listed.
  const solIdentity = (await client.account()).identities.find((i) => i.chain === 'solana');
  const after = await client.unlink(solIdentity);
  assert.equal(after.accountId, s.accountId);
  assert.deepEqual(walletsOf(after), [`ethereum:${eth.address}`]);
  assert.equal(client.current.sessionId, s.sessionId, 'another wallet: this session stays');
  assert.equal(await solSide.session(), null, "the unlinked wallet's session ended");

  // Its next sign-in makes a new account.
  const alone = await solSide.signInWithSolana(sol.wallet());
  assert.notEqual(alone.accountId, s.accountId);

  // The only identity cannot go.
  await rejectsWith(client.unlink('ethereum', eth.address), 'last_identity', 409);
  assert.equal(client.current.sessionId, s.sessionId);

  // The wallet alone in its own account is moved over: that account's session ends.
  const moved = await client.linkSolana(sol.wallet());
  assert.equal(moved.accountId, s.accountId);
  assert.equal(await solSide.session(), null);
  assert.equal((await solSide.signInWithSolana(sol.wallet())).accountId, s.accountId);

  // Unlinking the wallet of this client's session (given in lower case) signs this client out.
  const seen = [];
  client.subscribe((x) => seen.push(x && x.sessionId));
  const rest = await client.unlink('ethereum', eth.address.toLowerCase());
  assert.deepEqual(walletsOf(rest), [`solana:${sol.address}`]);
  assert.equal(client.current, null);
  assert.deepEqual(seen, [null]);
  assert.equal(await client.session(), null);
  assert.equal((await solSide.account()).accountId, s.accountId, 'the account stays with its other wallet');
  const { client: ethAgain } = newClient();
  assert.notEqual((await ethAgain.signInWithEthereum(eth.provider())).accountId, s.accountId);
  await solSide.logoutAll({ scope: 'account' });
  await ethAgain.logout();
});

test('identity_in_use: a wallet of an account that has other identities cannot be linked elsewhere', async () => {
  const eth = new EthKey();
  const sol = new SolKey();
  const { client: owner } = newClient();
  const s = await owner.signInWithEthereum(eth.provider());
  await owner.linkSolana(sol.wallet());

  const { client: other } = newClient();
  await other.signInWithEthereum(new EthKey().provider());
  await rejectsWith(other.linkSolana(sol.wallet()), 'identity_in_use', 409);
  await rejectsWith(other.linkEthereum(eth.provider()), 'identity_in_use', 409);
  assert.equal((await other.account()).identities.length, 1);
  const kept = await owner.account();
  assert.equal(kept.accountId, s.accountId);
  assert.equal(kept.identities.length, 2);
  await owner.logoutAll({ scope: 'account' });
  await other.logout();
});

test('linkPassword: a wallet account gets a username and password; its login is the same account', async () => {
  const username = `u${crypto.randomBytes(6).toString('hex')}`;
  const password = `pw-${crypto.randomBytes(12).toString('hex')}`;
  const eth = new EthKey();
  const { client } = newClient();
  const s = await client.signInWithEthereum(eth.provider());
  const account = await client.linkPassword(username, password);
  assert.equal(account.accountId, s.accountId);
  assert.deepEqual(
    account.identities.find((i) => i.type === 'password'),
    { type: 'password', username },
  );

  const login = await fetch(`${BASE_URL}/auth/user/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(login.status, 200);
  assert.equal((await login.json()).accountId, s.accountId);
  const listed = await client.listSessions({ scope: 'account' });
  assert.ok(listed.some((x) => x.identity.type === 'password' && x.identity.username === username));

  // A second password, or a username taken by another account.
  await rejectsWith(client.linkPassword(`${username}x`, password), 'identity_in_use', 409);
  const { client: other } = newClient();
  await other.signInWithEthereum(new EthKey().provider());
  await rejectsWith(other.linkPassword(username, password), 'identity_in_use', 409);
  // A password identity is not unlinked through a wallet's path.
  await assert.rejects(client.unlink({ type: 'password', username }), TypeError);
  assert.equal((await client.logoutAll({ scope: 'account' })).revoked, 2);
  await other.logout();
});

test('without a session, or with wrong arguments: clear errors', async () => {
  const { client } = newClient();
  await rejectsWith(client.account(), 'unauthenticated', 401);
  await rejectsWith(client.linkSolana(new SolKey().wallet()), 'unauthenticated', 401);
  await rejectsWith(client.linkEthereum(new EthKey().provider()), 'unauthenticated', 401);
  await rejectsWith(client.unlink('ethereum', new EthKey().address), 'unauthenticated', 401);
  await assert.rejects(client.unlink(), TypeError);
  await assert.rejects(client.unlink('solana'), TypeError);
  await assert.rejects(client.unlink({ chain: 'solana', address: '' }), TypeError);
  await assert.rejects(client.linkEthereum(undefined), { code: 'no_wallet' });
  // A wallet that declines the link's signature.
  await client.signInWithEthereum(new EthKey().provider());
  await assert.rejects(client.linkSolana(new SolKey().wallet({ reject: true })), { code: 'user_rejected' });
  await assert.rejects(client.linkEthereum(new EthKey().provider('reject')), { code: 'user_rejected' });
  assert.equal((await client.account()).identities.length, 1);
  await client.logout();
});

test(
  'reauthentication_required: a link or unlink after REAUTH_MAX_AGE, until the person signs in again',
  { skip: !REAUTH_URL && 'WALLET_AUTH_REAUTH_URL is not set' },
  async () => {
    const eth = new EthKey();
    const sol = new SolKey();
    const { client } = newClient(REAUTH_URL);
    const first = await client.signInWithEthereum(eth.provider());
    await client.linkSolana(sol.wallet()); // within the 3 s
    await new Promise((r) => setTimeout(r, 3500));
    // Reading is fine; changing the identities needs a fresh sign-in.
    assert.equal((await client.account()).identities.length, 2);
    await rejectsWith(client.unlink('solana', sol.address), 'reauthentication_required', 403);
    await rejectsWith(client.linkEthereum(new EthKey().provider()), 'reauthentication_required', 403);
    await rejectsWith(client.linkPassword(`u${crypto.randomBytes(6).toString('hex')}`, 'pw-long-enough-1234'), 'reauthentication_required', 403);
    assert.equal((await client.account()).identities.length, 2);
    assert.equal(client.current.sessionId, first.sessionId, 'the session itself stays');

    // Signing in again with the session's wallet: the same account, and the unlink goes through.
    const again = await client.signInWithEthereum(eth.provider());
    assert.equal(again.accountId, first.accountId);
    assert.deepEqual(walletsOf(await client.unlink('solana', sol.address)), [`ethereum:${eth.address}`]);
    await client.logoutAll({ scope: 'account' });
  },
);
