// The demo sign-in page's script: uses the wallet-auth client served at /assets/wallet-auth.js.
import { createClient, deviceName, watchEthereumWallets } from '/assets/wallet-auth.js';

const $ = (id) => document.getElementById(id);
const client = createClient({
  onRefresh: () => show(client.current),
  // Another tab of this site signed in or out.
  onSessionChange: (session) => {
    say(session ? '' : 'You signed out in another tab.');
    show(session);
  },
});
let ethereumWallets = [];
const solanaWallets = [];
let lastEthereumWallet = null;
let timer = null;
let discoveryDone = false; // the no-wallet note waits for late wallets

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

// A colour gradient derived from the address, as a recognizable avatar.
function avatar(address) {
  let h = 0;
  for (const c of address) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const a = h % 360;
  const b = (a + 40 + ((h >>> 9) % 100)) % 360;
  return `linear-gradient(135deg, hsl(${a} 70% 55%), hsl(${b} 70% 45%))`;
}

// "just now", "5 min ago", "3 h ago", else a short date.
function when(iso) {
  const t = Date.parse(iso);
  const ago = Math.max(0, Math.round((Date.now() - t) / 60000));
  if (ago < 1) return 'just now';
  if (ago < 60) return `${ago} min ago`;
  if (ago < 24 * 60) return `${Math.floor(ago / 60)} h ago`;
  return new Date(t).toLocaleDateString(undefined, { dateStyle: 'medium' });
}

async function show(session) {
  clearInterval(timer);
  $('signed-in').hidden = !session;
  $('signed-out').hidden = !!session;
  if (!session) return;
  $('chain').textContent = session.chain === 'ethereum' ? 'Ethereum' : 'Solana';
  $('address').textContent = session.address;
  $('avatar').style.background = avatar(session.address);
  const exp = client.expiresAt || session.expiresAt;
  $('expires-at').textContent = `(at ${new Date(exp).toLocaleTimeString(undefined, { timeStyle: 'short' })})`;
  countdown(exp);
  timer = setInterval(() => countdown(client.expiresAt || session.expiresAt), 1000);
  await listSessions();
}

async function listSessions() {
  const list = $('sessions');
  let sessions;
  try {
    sessions = await client.listSessions();
  } catch (err) {
    if (err.code === 'unauthenticated') return refresh();
    say(`Could not list the sessions: ${err.message}`, 'error');
    return;
  }
  list.replaceChildren();
  // This device first, then the most recently seen.
  sessions.sort((a, b) => (b.current - a.current) || Date.parse(b.lastSeenAt) - Date.parse(a.lastSeenAt));
  for (const s of sessions) {
    const li = document.createElement('li');
    li.dataset.sessionId = s.sessionId;
    const what = document.createElement('div');
    what.className = 'what';
    const device = document.createElement('div');
    device.className = 'device';
    device.textContent = deviceName(s.userAgent);
    if (s.userAgent) device.title = s.userAgent;
    const seen = document.createElement('div');
    seen.className = 'when';
    seen.textContent = `Signed in ${when(s.createdAt)} · active ${when(s.lastSeenAt)}`;
    seen.title = `Signed in ${new Date(s.createdAt).toLocaleString()}, last seen ${new Date(s.lastSeenAt).toLocaleString()}`;
    what.append(device, seen);
    li.append(what);
    if (s.current) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'This device';
      li.append(badge);
    } else {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn revoke';
      b.textContent = 'Revoke';
      b.setAttribute('aria-label', `Revoke the session of ${deviceName(s.userAgent)} signed in ${when(s.createdAt)}`);
      b.addEventListener('click', async () => {
        try {
          await client.revoke(s.sessionId);
          say('Session revoked.');
        } catch (err) {
          say(`Could not revoke: ${err.message}`, 'error');
        }
        await listSessions();
      });
      li.append(b);
    }
    list.append(li);
  }
}

async function refresh() {
  try {
    // Asks the server only when this browser signed in before: no 401 for a new visitor.
    await show(await client.restore());
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

async function signIn(wallet, opts = {}) {
  offerChainSwitch(null);
  say(`Waiting for ${wallet.name}…`);
  try {
    let session;
    if (wallet.kind === 'ethereum') {
      lastEthereumWallet = wallet;
      session = await client.signInWithEthereum(wallet.provider, opts);
    } else {
      session = await client.signInWithSolana(wallet.wallet);
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

// The picker: every EIP-6963 Ethereum wallet (or the legacy window.ethereum) and every
// wallet-standard Solana wallet, one button each.
function renderWallets() {
  const entries = [
    ...ethereumWallets.map((w) => ({
      kind: 'ethereum',
      id: w.info.uuid,
      name: w.info.name,
      icon: w.info.icon,
      rdns: w.info.rdns,
      provider: w.provider,
    })),
    ...solanaWallets.map((w, i) => ({
      kind: 'solana',
      id: `solana-${i}`,
      name: String(w.name || 'Solana wallet').slice(0, 64),
      icon: typeof w.icon === 'string' && /^data:image\//i.test(w.icon) ? w.icon : '',
      rdns: '',
      wallet: w,
    })),
  ];
  const list = $('wallets');
  list.replaceChildren();
  for (const e of entries) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'wallet';
    b.dataset.kind = e.kind;
    if (e.rdns) b.dataset.rdns = e.rdns;
    b.setAttribute('aria-label', `Sign in with ${e.name} (${e.kind === 'ethereum' ? 'Ethereum' : 'Solana'})`);
    if (e.icon) {
      const img = document.createElement('img');
      img.src = e.icon;
      img.alt = '';
      b.append(img);
    } else {
      const i = document.createElement('span');
      i.className = 'icon';
      i.textContent = e.name.slice(0, 1).toUpperCase();
      b.append(i);
    }
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = e.name;
    const kind = document.createElement('span');
    kind.className = 'kind';
    kind.textContent = e.kind === 'ethereum' ? 'Ethereum' : 'Solana';
    b.append(name, kind);
    b.addEventListener('click', () => signIn(e));
    li.append(b);
    list.append(li);
  }
  list.hidden = entries.length === 0;
  $('no-wallet').hidden = entries.length > 0 || !discoveryDone;
}

watchEthereumWallets((wallets) => {
  ethereumWallets = wallets;
  renderWallets();
});
setTimeout(() => {
  discoveryDone = true;
  renderWallets();
}, 400);

// Wallet-standard discovery: announce that the app is ready and accept wallets that register,
// before or after this script runs.
function registerWallets(...wallets) {
  for (const w of wallets) {
    if (w && !solanaWallets.includes(w) && (w.chains || []).some((c) => String(c).startsWith('solana:'))) {
      const f = w.features || {};
      if (f['solana:signIn'] || f['solana:signMessage']) solanaWallets.push(w);
    }
  }
  renderWallets();
  return () => {
    for (const w of wallets) {
      const i = solanaWallets.indexOf(w);
      if (i >= 0) solanaWallets.splice(i, 1);
    }
    renderWallets();
  };
}
const appApi = Object.freeze({ register: registerWallets });
window.addEventListener('wallet-standard:register-wallet', (event) => {
  if (typeof event.detail === 'function') event.detail(appApi);
});
window.dispatchEvent(new CustomEvent('wallet-standard:app-ready', { detail: appApi }));

$('switch-chain').addEventListener('click', () => {
  if (lastEthereumWallet) signIn(lastEthereumWallet, { switchChain: true });
});
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
