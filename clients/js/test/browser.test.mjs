// The demo page in a real headless Chromium, with test wallets injected into the page: an
// EIP-1193 provider and a wallet-standard Solana wallet whose keys stay in Node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { createClient } from '../wallet-auth.js';
import { BASE_URL, RESTRICTED_URL, EthKey, SolKey, cookieFetch, siwsText } from './wallets.mjs';

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
function installWallets({ eth, sol }) {
  if (eth) {
    let chainId = eth.chainId || 1;
    window.__ethSwitches = [];
    window.ethereum = {
      isTestWallet: true,
      async request({ method, params }) {
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
    };
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

async function openPage({ eth, sol, ethChainId, url = BASE_URL } = {}) {
  const context = await browser.newContext();
  const ethKey = eth ? new EthKey() : null;
  const solKey = sol ? new SolKey() : null;
  if (ethKey) await context.exposeFunction('__signEth', (dataHex) => ethKey.personalSign(dataHex));
  if (solKey) await context.exposeFunction('__signSol', (bytes) => Array.from(solKey.sign(Uint8Array.from(bytes))));
  await context.addInitScript(installWallets, {
    eth: ethKey && { address: ethKey.address, mode: eth, chainId: ethChainId },
    sol: solKey && {
      address: solKey.address,
      publicKey: Array.from(solKey.publicKey),
      mode: sol,
      siwsText: siwsText.toString(),
    },
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(`${url}/`);
  await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
  return { context, page, ethKey, solKey, errors };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

test('no wallet installed: clear messages, signed-out page', async () => {
  const { context, page, errors } = await openPage();
  try {
    await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
    await page.locator('#status', { hasText: 'No Ethereum wallet was found' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Sign in with Solana' }).click();
    await page.locator('#status', { hasText: 'No Solana wallet was found' }).waitFor(WAIT);
    await shot(page, 'signed-out-no-wallet.png');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('Ethereum: sign in, reload, revoke another session, log out everywhere', async () => {
  const { context, page, ethKey, errors } = await openPage({ eth: 'ok' });
  try {
    await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
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
    const rows = page.locator('#sessions tr');
    await rows.nth(1).waitFor(WAIT);
    assert.equal(await rows.count(), 2);
    assert.equal(await page.locator('#sessions button.revoke').count(), 1, 'no revoke button for the current session');
    await page.locator('#sessions td', { hasText: 'this session' }).waitFor(WAIT);
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
    await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
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
    await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
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
      await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
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
    await page.locator('#sol-wallets', { hasText: 'Test Solana Wallet' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Sign in with Solana' }).click();
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
    await page.getByRole('button', { name: 'Sign in with Solana' }).click();
    await page.locator('#status', { hasText: 'You rejected the signature request' }).waitFor(WAIT);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
