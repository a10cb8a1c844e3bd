// The demo sign-in page's script: uses the wallet-auth client served at /assets/wallet-auth.js.
import { createClient } from '/assets/wallet-auth.js';

const $ = (id) => document.getElementById(id);
const client = createClient({ onRefresh: () => show(client.current) });
const solanaWallets = [];
let timer = null;

function say(text, kind = 'info') {
  const el = $('status');
  el.textContent = text;
  el.className = text ? kind : '';
}

function explain(err) {
  switch (err && err.code) {
    case 'user_rejected':
      if (err.allowedChainId) {
        return `You declined to switch your wallet to chain ${err.allowedChainId}, so you are not signed in.`;
      }
      return 'You rejected the signature request in your wallet, so you are not signed in.';
    case 'no_wallet':
      return err.message;
    case 'network_error':
      return 'The server could not be reached. Please try again.';
    case 'chain_not_allowed':
      if (err.allowedChainId) {
        return `Your wallet is on chain ${err.chainId}, which this server does not accept. Switch your wallet to chain ${err.allowedChainId} to sign in.`;
      }
      return `Sign-in failed: ${err.message} (${err.code})`;
    default:
      return `Sign-in failed: ${(err && err.message) || err}${err && err.code ? ` (${err.code})` : ''}`;
  }
}

function countdown(expiresAt) {
  const left = Math.max(0, Math.floor((Date.parse(expiresAt) - Date.now()) / 1000));
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  $('countdown').textContent = `${h}h ${String(m).padStart(2, '0')}m ${String(s).padStart(2, '0')}s`;
  if (left === 0) refresh();
}

async function show(session) {
  clearInterval(timer);
  $('signed-in').hidden = !session;
  $('signed-out').hidden = !!session;
  if (!session) return;
  $('chain').textContent = session.chain === 'ethereum' ? 'Ethereum' : 'Solana';
  $('address').textContent = session.address;
  const exp = client.expiresAt || session.expiresAt;
  $('expires-at').textContent = `(at ${new Date(exp).toLocaleString()})`;
  countdown(exp);
  timer = setInterval(() => countdown(client.expiresAt || session.expiresAt), 1000);
  await listSessions();
}

async function listSessions() {
  const body = $('sessions');
  let sessions;
  try {
    sessions = await client.listSessions();
  } catch (err) {
    if (err.code === 'unauthenticated') return refresh();
    say(`Could not list the sessions: ${err.message}`, 'error');
    return;
  }
  body.replaceChildren();
  for (const s of sessions) {
    const tr = document.createElement('tr');
    tr.dataset.sessionId = s.sessionId;
    for (const text of [new Date(s.createdAt).toLocaleString(), new Date(s.lastSeenAt).toLocaleString(), s.userAgent || '—']) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    const td = document.createElement('td');
    if (s.current) {
      td.textContent = 'this session';
    } else {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'revoke';
      b.textContent = 'Revoke';
      b.setAttribute('aria-label', `Revoke the session signed in at ${new Date(s.createdAt).toLocaleString()}`);
      b.addEventListener('click', async () => {
        try {
          await client.revoke(s.sessionId);
          say('Session revoked.');
        } catch (err) {
          say(`Could not revoke: ${err.message}`, 'error');
        }
        await listSessions();
      });
      td.append(b);
    }
    tr.append(td);
    body.append(tr);
  }
}

async function refresh() {
  try {
    await show(await client.session());
  } catch (err) {
    say(explain(err), 'error');
    await show(null);
  }
}

// Offers to switch the wallet to the chain the server accepts (after a chain_not_allowed), or
// withdraws the offer (null).
function offerChainSwitch(allowedChainId) {
  $('chain-switch').hidden = !allowedChainId;
  if (allowedChainId) $('switch-chain').textContent = `Switch to chain ${allowedChainId} and sign in`;
}

async function signIn(kind, opts = {}) {
  offerChainSwitch(null);
  say(kind === 'ethereum' ? 'Waiting for your Ethereum wallet…' : 'Waiting for your Solana wallet…');
  try {
    let session;
    if (kind === 'ethereum') {
      if (!window.ethereum) {
        say('No Ethereum wallet was found. Install a browser wallet such as MetaMask, then reload this page.', 'error');
        return;
      }
      session = await client.signInWithEthereum(window.ethereum, opts);
    } else {
      const wallet = solanaWallets.find((w) => w.features && (w.features['solana:signIn'] || w.features['solana:signMessage']));
      if (!wallet) {
        say('No Solana wallet was found. Install a wallet-standard wallet such as Phantom or Solflare, then reload this page.', 'error');
        return;
      }
      session = await client.signInWithSolana(wallet);
    }
    say('');
    await show(session);
  } catch (err) {
    say(explain(err), 'error');
    // The server accepts another chain than the wallet's: offer the switch (again, after a
    // declined or failed one: the user may add the chain to the wallet, or change their mind).
    if (err && err.allowedChainId) offerChainSwitch(err.allowedChainId);
  }
}

// Wallet-standard discovery: announce that the app is ready and accept wallets that register,
// before or after this script runs.
function registerWallets(...wallets) {
  for (const w of wallets) {
    if (w && !solanaWallets.includes(w) && (w.chains || []).some((c) => String(c).startsWith('solana:'))) {
      solanaWallets.push(w);
    }
  }
  const names = solanaWallets.map((w) => w.name).filter(Boolean);
  $('sol-wallets').textContent = names.length ? `Solana wallet found: ${names.join(', ')}` : '';
  return () => {
    for (const w of wallets) {
      const i = solanaWallets.indexOf(w);
      if (i >= 0) solanaWallets.splice(i, 1);
    }
  };
}
const appApi = Object.freeze({ register: registerWallets });
window.addEventListener('wallet-standard:register-wallet', (event) => {
  if (typeof event.detail === 'function') event.detail(appApi);
});
window.dispatchEvent(new CustomEvent('wallet-standard:app-ready', { detail: appApi }));

$('signin-eth').addEventListener('click', () => signIn('ethereum'));
$('signin-sol').addEventListener('click', () => signIn('solana'));
$('switch-chain').addEventListener('click', () => signIn('ethereum', { switchChain: true }));
$('logout').addEventListener('click', async () => {
  try {
    await client.logout();
    say('You are signed out.');
  } catch (err) {
    say(`Logout failed: ${err.message}`, 'error');
  }
  await refresh();
});
$('logout-all').addEventListener('click', async () => {
  try {
    const { revoked } = await client.logoutAll();
    say(`Signed out of ${revoked} session${revoked === 1 ? '' : 's'}.`);
  } catch (err) {
    say(`Logout failed: ${err.message}`, 'error');
  }
  await refresh();
});

refresh();
