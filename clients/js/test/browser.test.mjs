// The demo page, and the React hook in a tiny app (react-app.jsx), in a real headless Chromium,
// with test wallets injected into the page: an EIP-1193 provider and a wallet-standard Solana
// wallet whose keys stay in Node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { createClient } from '../wallet-auth.js';
import { BASE_URL, RESTRICTED_URL, REAUTH_URL, EthKey, SolKey, cookieFetch, siwsText } from './wallets.mjs';

const ARTIFACTS = process.env.ARTIFACTS_DIR || path.resolve('../../../test-artifacts');
const WAIT = { timeout: 15000 };
let browser;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    timeout: 60000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
});

// Runs in the page before its scripts: installs the requested test wallets.
function installWallets({ eth, sol, eip6963, noBroadcastChannel }) {
  if (noBroadcastChannel) delete window.BroadcastChannel;
  if (eth) {
    let chainId = eth.chainId || 1;
    window.__ethSwitches = [];
    window.__ethUsed = [];
    const provider = (name) => ({
      isTestWallet: true,
      async request({ method, params }) {
        window.__ethUsed.push(`${name}:${method}`);
        switch (method) {
          case 'eth_requestAccounts':
          case 'eth_accounts':
            return [eth.address.toLowerCase()];
          case 'eth_chainId':
            return `0x${chainId.toString(16)}`;
          case 'wallet_switchEthereumChain':
            window.__ethSwitches.push(params[0].chainId);
            chainId = Number.parseInt(params[0].chainId, 16);
            return null;
          case 'personal_sign':
            if (eth.mode === 'reject') {
              throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
            }
            return window.__signEth(params[0]);
          default:
            throw Object.assign(new Error(`unsupported method ${method}`), { code: 4200 });
        }
      },
    });
    if (eip6963) {
      // Two EIP-6963 wallets (and no window.ethereum), announced at once and on request.
      const icon = (color) =>
        `data:image/svg+xml;base64,${btoa(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="${color}"/></svg>`)}`;
      const details = [
        { info: { uuid: '6f1f8a4e-0000-4000-8000-00000000000a', name: 'Test Wallet A', icon: icon('#e8590c'), rdns: 'org.example.wallet-a' }, provider: provider('A') },
        { info: { uuid: '6f1f8a4e-0000-4000-8000-00000000000b', name: 'Test Wallet B', icon: icon('#0c8599'), rdns: 'org.example.wallet-b' }, provider: provider('B') },
      ];
      const announce = () => {
        for (const d of details) {
          window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ ...d }) }));
        }
      };
      window.addEventListener('eip6963:requestProvider', announce);
      announce();
    } else {
      window.ethereum = provider('injected');
    }
  }
  if (sol) {
    const publicKey = new Uint8Array(sol.publicKey);
    const account = { address: sol.address, publicKey, chains: ['solana:mainnet'], features: ['solana:signIn'] };
    const buildText = new Function(`return (${sol.siwsText})`)();
    const wallet = {
      version: '1.0.0',
      name: 'Test Solana Wallet',
      icon: 'data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=',
      chains: ['solana:mainnet'],
      accounts: [account],
      features: {
        'standard:connect': { version: '1.0.0', connect: async () => ({ accounts: [account] }) },
        'solana:signIn': {
          version: '1.0.0',
          signIn: async (...inputs) => {
            if (sol.mode === 'reject') throw new Error('User rejected the request');
            const out = [];
            for (const input of inputs) {
              const signedMessage = new TextEncoder().encode(buildText({ ...input, address: sol.address }));
              const signature = new Uint8Array(await window.__signSol(Array.from(signedMessage)));
              out.push({ account, signedMessage, signature });
            }
            return out;
          },
        },
      },
    };
    // The wallet side of the wallet-standard registration handshake.
    const callback = ({ register }) => register(wallet);
    window.dispatchEvent(new CustomEvent('wallet-standard:register-wallet', { detail: callback }));
    window.addEventListener('wallet-standard:app-ready', (event) => callback(event.detail));
  }
}

// A browser context (a browser profile: its tabs share cookies and storage) with the requested
// test wallets in each of its pages.
async function walletContext({ eth, sol, ethChainId, eip6963, noBroadcastChannel } = {}) {
  const context = await browser.newContext();
  const ethKey = eth ? new EthKey() : null;
  const solKey = sol ? new SolKey() : null;
  if (ethKey) await context.exposeFunction('__signEth', (dataHex) => ethKey.personalSign(dataHex));
  if (solKey) await context.exposeFunction('__signSol', (bytes) => Array.from(solKey.sign(Uint8Array.from(bytes))));
  await context.addInitScript(installWallets, {
    eip6963: !!eip6963,
    noBroadcastChannel: !!noBroadcastChannel,
    eth: ethKey && { address: ethKey.address, mode: eth, chainId: ethChainId },
    sol: solKey && {
      address: solKey.address,
      publicKey: Array.from(solKey.publicKey),
      mode: sol,
      siwsText: siwsText.toString(),
    },
  });
  return { context, ethKey, solKey };
}

// Records a page's errors, its console's errors and warnings, and its requests.
function watch(page) {
  const errors = [];
  const consoleErrors = [];
  const requests = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(m.text());
  });
  page.on('request', (r) => requests.push(r.url()));
  return { errors, consoleErrors, requests };
}

async function openPage({ url = BASE_URL, viewport, ...wallets } = {}) {
  const { context, ethKey, solKey } = await walletContext(wallets);
  const page = await context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const { errors, consoleErrors, requests } = watch(page);
  await page.goto(`${url}/`);
  await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
  return { context, page, ethKey, solKey, errors, consoleErrors, requests };
}

async function shot(page, name) {
  await page.mouse.move(0, 0); // no hover state in the picture
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

test('no wallet installed: clear message, no console error, fits a phone', async () => {
  const { context, page, errors, consoleErrors, requests } = await openPage();
  try {
    await page.locator('#no-wallet', { hasText: 'No wallet was found in this browser' }).waitFor(WAIT);
    assert.equal(await page.locator('#wallets button').count(), 0);
    await shot(page, 'signed-out-no-wallet.png');
    assert.deepEqual(errors, []);
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(requests.filter((u) => u.includes('/auth/')), [], 'an anonymous visitor asks no session');
  } finally {
    await context.close();
  }
});

test('Ethereum: sign in, reload, revoke another session, log out everywhere', async () => {
  const { context, page, ethKey, errors } = await openPage({ eth: 'ok' });
  try {
    await page.getByRole('button', { name: 'Sign in with Browser wallet (Ethereum)' }).click();
    await page.locator('#address', { hasText: ethKey.address }).waitFor(WAIT);
    assert.equal(await page.locator('#chain').textContent(), 'Ethereum');
    assert.match(await page.locator('#countdown').textContent(), /^(1h 59m|2h 00m) \d\ds$/);

    // The cookie session survives a reload.
    await page.reload();
    await page.locator('#address', { hasText: ethKey.address }).waitFor(WAIT);

    // A second session of the same wallet, on another "device" (Node).
    const other = createClient({ baseUrl: BASE_URL, fetch: cookieFetch() });
    await other.signInWithEthereum(ethKey.provider());
    await page.reload();
    const rows = page.locator('#sessions li');
    await rows.nth(1).waitFor(WAIT);
    assert.equal(await rows.count(), 2);
    assert.equal(await page.locator('#sessions button.revoke').count(), 1, 'no revoke button for the current session');
    await page.locator('#sessions li', { hasText: 'This device' }).waitFor(WAIT);
    // Friendly device names, not User-Agent strings: this page's (headless Chromium on Linux)
    // and the Node client's.
    await page.locator('#sessions .device', { hasText: /^Chrome on Linux$/ }).waitFor(WAIT);
    await page.locator('#sessions .device', { hasText: /^Node\.js$/ }).waitFor(WAIT);
    assert.equal(await page.locator('#sessions', { hasText: 'Mozilla/' }).count(), 0);
    await shot(page, 'signed-in-ethereum.png');

    await page.locator('#sessions button.revoke').click();
    await page.locator('#status', { hasText: 'Session revoked.' }).waitFor(WAIT);
    await page.locator('#sessions button.revoke').waitFor({ state: 'detached', ...WAIT });
    assert.equal(await rows.count(), 1);
    assert.equal(await other.session(), null, 'the revoked session no longer works');

    // Log out everywhere: both this page's session and a new one elsewhere end.
    const third = createClient({ baseUrl: BASE_URL, fetch: cookieFetch() });
    await third.signInWithEthereum(ethKey.provider());
    await page.getByRole('button', { name: 'Log out everywhere' }).click();
    await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
    await page.locator('#status', { hasText: 'Signed out of 2 sessions.' }).waitFor(WAIT);
    assert.equal(await third.session(), null);
    await shot(page, 'signed-out-after-logout-all.png');
    await page.reload();
    await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('Ethereum: a rejected signature shows the rejection message', async () => {
  const { context, page, errors } = await openPage({ eth: 'reject' });
  try {
    await page.getByRole('button', { name: 'Sign in with Browser wallet (Ethereum)' }).click();
    await page.locator('#status', { hasText: 'You rejected the signature request' }).waitFor(WAIT);
    assert.equal(await page.locator('#signed-in').isVisible(), false);
    await shot(page, 'rejected-ethereum.png');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('Ethereum: a wallet on an L2 signs in with the server defaults', async () => {
  const { context, page, ethKey, errors } = await openPage({ eth: 'ok', ethChainId: 8453 });
  try {
    await page.getByRole('button', { name: 'Sign in with Browser wallet (Ethereum)' }).click();
    await page.locator('#address', { hasText: ethKey.address }).waitFor(WAIT);
    assert.deepEqual(await page.evaluate(() => window.__ethSwitches), []);
    assert.equal(await page.locator('#chain-switch').isVisible(), false);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test(
  'Ethereum: on a chain the server does not accept, the page offers to switch, then signs in',
  { skip: !RESTRICTED_URL && 'WALLET_AUTH_RESTRICTED_URL is not set' },
  async () => {
    const { context, page, ethKey, errors } = await openPage({ eth: 'ok', ethChainId: 8453, url: RESTRICTED_URL });
    try {
      await page.getByRole('button', { name: 'Sign in with Browser wallet (Ethereum)' }).click();
      await page.locator('#status', { hasText: 'Your wallet is on chain 8453, which this server does not accept' }).waitFor(WAIT);
      const offer = page.getByRole('button', { name: 'Switch to chain 10 and sign in' });
      await offer.waitFor(WAIT);
      assert.deepEqual(await page.evaluate(() => window.__ethSwitches), [], 'no switch before the user asks');
      await shot(page, 'chain-switch-offer.png');
      await offer.click();
      await page.locator('#address', { hasText: ethKey.address }).waitFor(WAIT);
      assert.deepEqual(await page.evaluate(() => window.__ethSwitches), ['0xa']);
      assert.equal(await page.locator('#chain-switch').isVisible(), false);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  },
);

test('Solana: sign in with a wallet-standard wallet, then log out', async () => {
  const { context, page, solKey, errors } = await openPage({ sol: 'ok' });
  try {
    await page.getByRole('button', { name: 'Sign in with Test Solana Wallet (Solana)' }).click();
    await page.locator('#address', { hasText: solKey.address }).waitFor(WAIT);
    assert.equal(await page.locator('#chain').textContent(), 'Solana');
    await shot(page, 'signed-in-solana.png');
    await page.reload();
    await page.locator('#address', { hasText: solKey.address }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
    await page.locator('#status', { hasText: 'You are signed out.' }).waitFor(WAIT);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('Solana: a rejected sign-in shows the rejection message', async () => {
  const { context, page, errors } = await openPage({ sol: 'reject' });
  try {
    await page.getByRole('button', { name: 'Sign in with Test Solana Wallet (Solana)' }).click();
    await page.locator('#status', { hasText: 'You rejected the signature request' }).waitFor(WAIT);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

async function noHorizontalOverflow(page, width) {
  const scrollWidth = await page.evaluate(() => document.scrollingElement.scrollWidth);
  assert.ok(scrollWidth <= width, `the page is ${scrollWidth}px wide in a ${width}px viewport`);
}

// The account part of the signed-in page: its id, and the identity rows.
const identityRow = (page, chain, address) => page.locator(`#identities li[data-chain="${chain}"][data-address="${address}"]`);

test('Accounts: the page shows the account, links a Solana wallet to an Ethereum one, and unlinks it', async () => {
  const { context, page, ethKey, solKey, errors, consoleErrors } = await openPage({ eth: 'ok', sol: 'ok', viewport: PHONE });
  try {
    await page.getByRole('button', { name: 'Sign in with Browser wallet (Ethereum)' }).click();
    await identityRow(page, 'ethereum', ethKey.address).waitFor(WAIT);
    const account = await page.evaluate(async () => (await fetch('/auth/account')).json());
    assert.equal(await page.locator('#account-id').textContent(), account.accountId);
    assert.equal(await page.locator('#roles').textContent(), account.roles.length ? account.roles.join(', ') : 'none');
    assert.equal(await page.locator('#identities li').count(), 1);
    assert.equal(await page.locator('#identities button.unlink').count(), 0, 'the only identity has no unlink button');
    await page.locator('#identities li', { hasText: 'Signed in' }).waitFor(WAIT);
    // The other chain's wallet is offered first.
    assert.deepEqual(await page.locator('#link-wallets button').allTextContents(), [
      'Link Test Solana Wallet (Solana)',
      'Link Browser wallet (Ethereum)',
    ]);

    await page.getByRole('button', { name: 'Link Test Solana Wallet (Solana)' }).click();
    await identityRow(page, 'solana', solKey.address).waitFor(WAIT);
    await page.locator('#status', { hasText: 'Test Solana Wallet is linked' }).waitFor(WAIT);
    assert.equal(await page.locator('#identities li').count(), 2);
    assert.equal(await page.locator('#account-id').textContent(), account.accountId);
    // Linked: that wallet is no longer offered.
    assert.deepEqual(await page.locator('#link-wallets button').allTextContents(), ['Link Browser wallet (Ethereum)']);

    // Signing in with the Solana wallet elsewhere: the same account, whose sessions the page lists.
    const elsewhere = createClient({ baseUrl: BASE_URL, fetch: cookieFetch() });
    const s = await elsewhere.signInWithSolana(solKey.wallet());
    assert.equal(s.accountId, account.accountId);
    await page.reload();
    await identityRow(page, 'solana', solKey.address).waitFor(WAIT);
    const short = `Solana ${solKey.address.slice(0, 6)}…${solKey.address.slice(-4)}`;
    const solSession = page.locator('#sessions li', { hasText: short });
    await solSession.waitFor(WAIT);
    assert.equal(await solSession.locator('button.revoke').count(), 0, "another wallet's session is shown, not revoked from here");
    await noHorizontalOverflow(page, PHONE.width);
    await shot(page, 'account-linked.png');

    await page.getByRole('button', { name: `Unlink Solana wallet ${solKey.address}` }).click();
    await page.locator('#status', { hasText: `Solana wallet ${solKey.address.slice(0, 6)}` }).waitFor(WAIT);
    await identityRow(page, 'solana', solKey.address).waitFor({ state: 'detached', ...WAIT });
    await solSession.waitFor({ state: 'detached', ...WAIT });
    assert.equal(await elsewhere.session(), null, "the unlinked wallet's session ended");
    assert.equal(await page.locator('#signed-in').isVisible(), true);
    await page.getByRole('button', { name: 'Link Test Solana Wallet (Solana)' }).waitFor(WAIT);
    assert.deepEqual(errors, []);
    assert.deepEqual(consoleErrors, []);
    await page.getByRole('button', { name: 'Log out everywhere' }).click();
    await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
  } finally {
    await context.close();
  }
});

test('Accounts: a Solana account links an Ethereum wallet; unlinking the signed-in wallet signs out', async () => {
  const { context, page, ethKey, solKey, errors } = await openPage({ eth: 'ok', sol: 'ok' });
  try {
    await page.getByRole('button', { name: 'Sign in with Test Solana Wallet (Solana)' }).click();
    await identityRow(page, 'solana', solKey.address).waitFor(WAIT);
    assert.deepEqual(await page.locator('#link-wallets button').allTextContents(), ['Link Browser wallet (Ethereum)']);
    await page.getByRole('button', { name: 'Link Browser wallet (Ethereum)' }).click();
    await identityRow(page, 'ethereum', ethKey.address).waitFor(WAIT);
    const accountId = await page.locator('#account-id').textContent();
    const viaEthereum = createClient({ baseUrl: BASE_URL, fetch: cookieFetch() });
    assert.equal((await viaEthereum.signInWithEthereum(ethKey.provider())).accountId, accountId);

    // Unlinking the wallet this page is signed in with ends this session.
    await page.getByRole('button', { name: `Unlink Solana wallet ${solKey.address}` }).click();
    await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
    await page.locator('#status', { hasText: 'You unlinked the wallet you were signed in with' }).waitFor(WAIT);
    assert.deepEqual(
      (await viaEthereum.account()).identities,
      [{ type: 'wallet', chain: 'ethereum', address: ethKey.address }],
      'the account keeps its other wallet',
    );
    await viaEthereum.logout();
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test(
  'Accounts: a link that needs a recent sign-in offers to sign in again, then links',
  { skip: !REAUTH_URL && 'WALLET_AUTH_REAUTH_URL is not set' },
  async () => {
    const { context, page, ethKey, solKey, errors } = await openPage({ eth: 'ok', sol: 'ok', url: REAUTH_URL });
    try {
      await page.getByRole('button', { name: 'Sign in with Browser wallet (Ethereum)' }).click();
      await identityRow(page, 'ethereum', ethKey.address).waitFor(WAIT);
      const accountId = await page.locator('#account-id').textContent();
      await page.waitForTimeout(3500); // REAUTH_MAX_AGE=3s
      await page.getByRole('button', { name: 'Link Test Solana Wallet (Solana)' }).click();
      await page.locator('#status', { hasText: 'linking a wallet needs a recent sign-in' }).waitFor(WAIT);
      assert.equal(await identityRow(page, 'solana', solKey.address).count(), 0);
      await shot(page, 'account-reauthenticate.png');
      await page.getByRole('button', { name: 'Sign in again with Browser wallet' }).click();
      await identityRow(page, 'solana', solKey.address).waitFor(WAIT);
      assert.equal(await page.locator('#account-id').textContent(), accountId);
      assert.equal(await page.locator('#reauth').isVisible(), false);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  },
);

for (const [size, viewport] of [
  ['desktop', DESKTOP],
  ['phone', PHONE],
]) {
  test(`EIP-6963: the picker lists two injected wallets; the one picked signs in (${size})`, async () => {
    const { context, page, ethKey, errors, consoleErrors } = await openPage({ eth: 'ok', eip6963: true, viewport });
    try {
      const wallets = page.locator('#wallets button.wallet');
      await wallets.nth(1).waitFor(WAIT);
      assert.equal(await wallets.count(), 2);
      assert.deepEqual(await page.locator('#wallets .name').allTextContents(), ['Test Wallet A', 'Test Wallet B']);
      assert.deepEqual(
        await wallets.evaluateAll((bs) => bs.map((b) => b.dataset.rdns)),
        ['org.example.wallet-a', 'org.example.wallet-b'],
      );
      // Both icons are shown (data: URIs), and nothing waits for a legacy window.ethereum.
      assert.equal(await page.locator('#wallets img').count(), 2);
      assert.equal(await page.locator('#no-wallet').isVisible(), false);
      await noHorizontalOverflow(page, viewport.width);
      await shot(page, `picker-${size}.png`);

      // Another session of the wallet, from an iPhone, for the session list.
      const phone = cookieFetch();
      const iphone = (url, init = {}) => {
        const headers = new Headers(init.headers);
        headers.set(
          'user-agent',
          'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
        );
        return phone(url, { ...init, headers });
      };
      await createClient({ baseUrl: BASE_URL, fetch: iphone }).signInWithEthereum(ethKey.provider());

      await page.getByRole('button', { name: 'Sign in with Test Wallet B (Ethereum)' }).click();
      await page.locator('#address', { hasText: ethKey.address }).waitFor(WAIT);
      const used = await page.evaluate(() => window.__ethUsed);
      assert.ok(used.includes('B:personal_sign'), used.join());
      assert.ok(!used.some((u) => u.startsWith('A:')), `wallet A was not used: ${used.join()}`);
      await page.locator('#sessions .device', { hasText: /^Safari on iPhone$/ }).waitFor(WAIT);
      await page.locator('#sessions .device', { hasText: /^Chrome on Linux$/ }).waitFor(WAIT);
      await noHorizontalOverflow(page, viewport.width);
      await shot(page, `signed-in-${size}.png`);
      assert.deepEqual(errors, []);
      assert.deepEqual(consoleErrors, []);
      await page.getByRole('button', { name: 'Log out everywhere' }).click();
      await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
    } finally {
      await context.close();
    }
  });
}

for (const [how, noBroadcastChannel] of [
  ['BroadcastChannel', false],
  ['storage events', true],
]) {
  test(`cross-tab sync (${how}): a sign-in shows in the other tab, a logout signs it out`, async () => {
    const { context, page, ethKey, errors } = await openPage({ eth: 'ok', noBroadcastChannel });
    try {
      const other = await context.newPage();
      const otherErrors = [];
      other.on('pageerror', (e) => otherErrors.push(e));
      await other.goto(`${BASE_URL}/`);
      await other.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
      assert.equal(
        await other.evaluate(() => typeof window.BroadcastChannel),
        noBroadcastChannel ? 'undefined' : 'function',
      );

      await page.getByRole('button', { name: 'Sign in with Browser wallet (Ethereum)' }).click();
      await page.locator('#address', { hasText: ethKey.address }).waitFor(WAIT);
      await other.locator('#address', { hasText: ethKey.address }).waitFor(WAIT);

      await page.getByRole('button', { name: 'Log out', exact: true }).click();
      await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
      await other.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
      await other.locator('#status', { hasText: 'You signed out in another tab.' }).waitFor(WAIT);
      assert.equal(await other.locator('#signed-in').isVisible(), false);
      assert.deepEqual(errors, []);
      assert.deepEqual(otherErrors, []);
    } finally {
      await context.close();
    }
  });
}

test('the demo page imports the client; another origin cannot', async () => {
  const { context, page, errors } = await openPage();
  try {
    const own = await page.evaluate(async () => Object.keys(await import('/assets/wallet-auth.js')).sort());
    assert.ok(own.includes('createClient'), own.join());
    if (RESTRICTED_URL) {
      // The restricted server is another origin (another port): its page cannot import this
      // server's client.
      const foreign = await context.newPage();
      await foreign.goto(`${RESTRICTED_URL}/`);
      const result = await foreign.evaluate(async (url) => {
        try {
          await import(`${url}/assets/wallet-auth.js`);
          return 'imported';
        } catch (e) {
          return `refused: ${e.message}`;
        }
      }, BASE_URL);
      assert.match(result, /^refused/);
    }
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

// The React hook (`@wallet-auth/client/react`) in a tiny app, react-app.jsx, bundled with the
// pinned react, react-dom and esbuild (React's development build, which warns in the console
// about a misused useSyncExternalStore) and served on the server's own origin, so that cookies,
// the CSRF token and cross-tab sync behave as on a real app's page.
const REACT_APP = `${BASE_URL}/react-test/`;
let reactBundle;

async function serveReactApp(context) {
  if (!reactBundle) {
    const dir = path.dirname(fileURLToPath(import.meta.url));
    const out = await esbuild.build({
      entryPoints: [path.join(dir, 'react-app.jsx')],
      absWorkingDir: dir,
      bundle: true,
      write: false,
      format: 'iife',
      jsx: 'automatic',
      // One React for the app and the package's entry, which imports 'react' from outside
      // this folder.
      alias: { react: './node_modules/react', 'react-dom': './node_modules/react-dom' },
      define: { 'process.env.NODE_ENV': '"development"' },
      logLevel: 'error',
    });
    reactBundle = out.outputFiles[0].text;
  }
  await context.route(`${REACT_APP}**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/react-test/app.js') {
      return route.fulfill({ contentType: 'text/javascript; charset=utf-8', body: reactBundle });
    }
    return route.fulfill({
      contentType: 'text/html; charset=utf-8',
      body:
        '<!doctype html><html lang="en"><meta charset="utf-8"><title>wallet-auth React test</title>' +
        '<div id="root"></div><script src="/react-test/app.js"></script></html>',
    });
  });
}

async function openReactApp(context, query = '') {
  const page = await context.newPage();
  const seen = watch(page);
  await page.goto(REACT_APP + query);
  return { page, ...seen };
}

const state = (page) => page.locator('#state');

test('React: useWalletAuth signs in, follows a logout in another tab, and leaves no listener', async () => {
  const { context, ethKey } = await walletContext({ eth: 'ok' });
  try {
    await serveReactApp(context);
    const first = await openReactApp(context);
    const { page } = first;
    await state(page).filter({ hasText: 'anonymous' }).waitFor(WAIT);
    assert.equal(await page.locator('#badge').textContent(), 'nobody');
    assert.deepEqual(first.requests.filter((u) => u.includes('/auth/')), [], 'an anonymous visitor asks no session');

    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#address', { hasText: ethKey.address }).waitFor(WAIT);
    assert.equal(await state(page).textContent(), 'signed-in');
    assert.equal(await page.locator('#badge').textContent(), ethKey.address, 'both components see the session');
    // One subscription to the client for both components (StrictMode's extra mount included).
    assert.equal(await page.evaluate(() => window.__app.listeners()), 1);

    // A second tab restores the session, then logs out: the first tab's components go anonymous.
    const second = await openReactApp(context);
    await second.page.locator('#address', { hasText: ethKey.address }).waitFor(WAIT);
    await second.page.getByRole('button', { name: 'Log out' }).click();
    await state(second.page).filter({ hasText: 'anonymous' }).waitFor(WAIT);
    await state(page).filter({ hasText: 'anonymous' }).waitFor(WAIT);
    assert.equal(await page.locator('#badge').textContent(), 'nobody');
    assert.equal(await page.locator('#address').count(), 0);

    // Unmounted, the app keeps no listener on the client, and the client's later changes (a
    // sign-in in the other tab, which this tab's client hears) render nothing.
    await page.evaluate(() => window.__app.unmount());
    assert.equal(await page.evaluate(() => window.__app.listeners()), 0);
    const renders = await page.evaluate(() => window.__app.renders());
    await second.page.getByRole('button', { name: 'Sign in' }).click();
    await second.page.locator('#address', { hasText: ethKey.address }).waitFor(WAIT);
    await page.waitForFunction(() => window.__app.client.current !== null, null, WAIT);
    assert.equal(await page.evaluate(() => window.__app.renders()), renders);
    assert.equal(await page.locator('#root').innerHTML(), '');

    for (const tab of [first, second]) {
      assert.deepEqual(tab.errors, []);
      assert.deepEqual(tab.consoleErrors, []);
    }
    await second.page.getByRole('button', { name: 'Log out' }).click();
    await state(second.page).filter({ hasText: 'anonymous' }).waitFor(WAIT);
  } finally {
    await context.close();
  }
});

test('React: the hook reads the account and links a Solana wallet; signed out, no account', async () => {
  const { context, ethKey, solKey } = await walletContext({ eth: 'ok', sol: 'ok' });
  try {
    await serveReactApp(context);
    const { page, errors, consoleErrors } = await openReactApp(context, '?account');
    await state(page).filter({ hasText: 'anonymous' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Link Solana' }).waitFor(WAIT);
    assert.equal(await page.locator('#account').count(), 0);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#address', { hasText: ethKey.address }).waitFor(WAIT);
    const accountId = await page.evaluate(() => window.__app.client.current.accountId);
    await page.locator('#account', { hasText: `${accountId} ethereum` }).waitFor(WAIT);

    await page.getByRole('button', { name: 'Link Solana' }).click();
    await page.locator('#account', { hasText: `${accountId} ethereum+solana` }).waitFor(WAIT);
    const viaSolana = createClient({ baseUrl: BASE_URL, fetch: cookieFetch() });
    assert.equal((await viaSolana.signInWithSolana(solKey.wallet())).accountId, accountId);

    await page.getByRole('button', { name: 'Log out' }).click();
    await state(page).filter({ hasText: 'anonymous' }).waitFor(WAIT);
    assert.equal(await page.locator('#account').count(), 0, 'signed out: no account');
    await viaSolana.logoutAll({ scope: 'account' });
    assert.deepEqual(errors, []);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await context.close();
  }
});

test('React: a rejected signature is the hook\'s error, and the page stays anonymous', async () => {
  const { context } = await walletContext({ eth: 'reject' });
  try {
    await serveReactApp(context);
    const { page, errors, consoleErrors } = await openReactApp(context);
    await state(page).filter({ hasText: 'anonymous' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#error', { hasText: 'user_rejected' }).waitFor(WAIT);
    assert.equal(await state(page).textContent(), 'anonymous');
    assert.equal(await page.getByRole('button', { name: 'Sign in' }).isEnabled(), true, 'no longer loading');
    assert.deepEqual(errors, []);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await context.close();
  }
});
