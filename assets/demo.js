// The demo sign-in page's script: uses the wallet-auth client served at /assets/wallet-auth.js.
// Signed in, it shows the session's account (its id, roles, wallets and password), lets the
// person link another wallet (of the other chain, typically) and unlink one, and lists the
// account's sessions.
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
let account = null; // the session's account, as the server last answered it
let retryAfterSignIn = null; // the link or unlink to run again once signed in again
let timer = null;
let discoveryDone = false; // the no-wallet note waits for late wallets

function say(text, kind = 'info') {
  const el = $('status');
  el.textContent = text;
  el.className = text ? kind : '';
}

const CHAIN_NAMES = { ethereum: 'Ethereum', solana: 'Solana' };
const chainName = (chain) => CHAIN_NAMES[chain] || String(chain);
const shortAddress = (a) => (a.length > 14 ? `${a.slice(0, 6)}…${a.slice(-4)}` : a);

// What the person reads when an action failed. `task` says what was attempted: 'sign-in',
// 'link' or 'unlink'.
function explain(err, task = 'sign-in') {
  const undone = { 'sign-in': 'you are not signed in', link: 'the wallet is not linked', unlink: 'nothing was unlinked' }[task];
  const failed = { 'sign-in': 'Sign-in failed', link: 'Linking failed', unlink: 'Unlinking failed' }[task];
  switch (err && err.code) {
    case 'user_rejected':
      if (err.allowedChainId) {
        return `You declined to switch your wallet to chain ${err.allowedChainId}, so ${undone}.`;
      }
      return `You rejected the signature request in your wallet, so ${undone}.`;
    case 'no_wallet':
      return err.message;
    case 'network_error':
      return 'The server could not be reached. Please try again.';
    case 'chain_not_allowed':
      if (err.allowedChainId) {
        return `Your wallet is on chain ${err.chainId}, which this server does not accept. Switch your wallet to chain ${err.allowedChainId} to ${task === 'link' ? 'link it' : 'sign in'}.`;
      }
      return `${failed}: ${err.message} (${err.code})`;
    case 'reauthentication_required':
      return `For your security, ${task === 'link' ? 'linking' : 'unlinking'} a wallet needs a recent sign-in. Sign in again with your wallet, then it is done.`;
    case 'identity_in_use':
      return 'This wallet already belongs to another account, which has other wallets or a password: unlink it there first.';
    case 'last_identity':
      return "This is your account's only wallet: link another one before you unlink it.";
    default:
      return `${failed}: ${(err && err.message) || err}${err && err.code ? ` (${err.code})` : ''}`;
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
  if (!session) {
    account = null;
    offerSignInAgain(null);
    return;
  }
  $('chain').textContent = chainName(session.chain);
  $('address').textContent = session.address;
  $('avatar').style.background = avatar(session.address);
  const exp = client.expiresAt || session.expiresAt;
  $('expires-at').textContent = `(at ${new Date(exp).toLocaleTimeString(undefined, { timeStyle: 'short' })})`;
  countdown(exp);
  timer = setInterval(() => countdown(client.expiresAt || session.expiresAt), 1000);
  if (await loadAccount()) await listSessions();
}

// Reads the session's account and shows it; false when the session is gone (the page then
// shows itself signed out).
async function loadAccount() {
  try {
    renderAccount(await client.account());
    return true;
  } catch (err) {
    if (err.code === 'unauthenticated') {
      await refresh();
      return false;
    }
    say(`Could not read your account: ${err.message}`, 'error');
    return true;
  }
}

function renderAccount(acc) {
  account = acc;
  const session = client.current;
  $('account-id').textContent = acc.accountId;
  $('roles').textContent = acc.roles.length ? acc.roles.join(', ') : 'none';
  const list = $('identities');
  list.replaceChildren();
  for (const id of acc.identities) {
    const li = document.createElement('li');
    const what = document.createElement('div');
    what.className = 'what';
    const kind = document.createElement('span');
    kind.className = 'chain';
    const value = document.createElement('span');
    value.className = 'addr';
    if (id.type === 'wallet') {
      li.dataset.chain = id.chain;
      li.dataset.address = id.address;
      kind.textContent = chainName(id.chain);
      value.textContent = id.address;
    } else {
      kind.textContent = 'Password';
      value.textContent = id.username;
    }
    what.append(kind, value);
    li.append(what);
    if (id.type === 'wallet' && session && isSessionWallet(id, session)) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'Signed in';
      li.append(badge);
    }
    // The only identity cannot go (the server says last_identity): no button for it.
    if (id.type === 'wallet' && acc.identities.length > 1) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn unlink';
      b.textContent = 'Unlink';
      b.setAttribute('aria-label', `Unlink ${chainName(id.chain)} wallet ${id.address}`);
      b.addEventListener('click', () => unlinkWallet(id));
      li.append(b);
    }
    list.append(li);
  }
  renderLinkButtons();
}

// Whether an identity (or a session's `identity`) is the wallet of the session: Ethereum
// addresses in any case.
function isSessionWallet(id, session) {
  if (id.chain !== session.chain) return false;
  return id.chain === 'ethereum' ? id.address.toLowerCase() === session.address.toLowerCase() : id.address === session.address;
}

// One "Link" button per wallet of this browser, the other chain's first; a Solana wallet whose
// account is linked already is left out (an Ethereum wallet tells its account only when asked).
function renderLinkButtons() {
  const box = $('link-wallets');
  box.replaceChildren();
  const session = client.current;
  if (!session || !account) return;
  const linked = (e) =>
    e.kind === 'solana' &&
    (e.wallet.accounts || []).some((a) =>
      account.identities.some((id) => id.type === 'wallet' && id.chain === 'solana' && id.address === a.address),
    );
  const entries = walletEntries()
    .filter((e) => !linked(e))
    .sort((a, b) => (a.kind === session.chain) - (b.kind === session.chain));
  for (const e of entries) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn link';
    b.dataset.kind = e.kind;
    b.textContent = `Link ${e.name} (${chainName(e.kind)})`;
    b.addEventListener('click', () => linkWallet(e));
    box.append(b);
  }
}

async function linkWallet(e) {
  offerSignInAgain(null);
  say(`Waiting for ${e.name}…`);
  try {
    const acc =
      e.kind === 'ethereum'
        ? await client.linkEthereum(e.provider)
        : await client.linkSolana(e.wallet);
    say(`${e.name} is linked: sign in with it and you are in this account.`);
    renderAccount(acc);
    await listSessions();
  } catch (err) {
    failed(err, 'link', () => linkWallet(e));
  }
}

async function unlinkWallet(id) {
  offerSignInAgain(null);
  try {
    const acc = await client.unlink(id);
    if (!client.current) {
      // The wallet of this session: the server ended its sessions, this one included.
      say('You unlinked the wallet you were signed in with, so you are signed out.');
      await show(null);
      return;
    }
    say(`${chainName(id.chain)} wallet ${shortAddress(id.address)} is unlinked.`);
    renderAccount(acc);
    await listSessions();
  } catch (err) {
    failed(err, 'unlink', () => unlinkWallet(id));
  }
}

// Says why a link or unlink failed; when it needs a recent sign-in, offers to sign in again and
// then do it.
function failed(err, task, retry) {
  say(explain(err, task), 'error');
  if (err && err.code === 'reauthentication_required') offerSignInAgain(retry);
  else if (err && err.code === 'unauthenticated') refresh();
}

// The wallet of this browser that holds the session's wallet (as far as the page can tell).
function sessionWalletEntry() {
  const session = client.current;
  if (!session) return null;
  const entries = walletEntries().filter((e) => e.kind === session.chain);
  if (session.chain === 'solana') {
    return entries.find((e) => (e.wallet.accounts || []).some((a) => a.address === session.address)) || entries[0] || null;
  }
  return entries.find((e) => lastEthereumWallet && e.provider === lastEthereumWallet.provider) || entries[0] || null;
}

function offerSignInAgain(retry) {
  retryAfterSignIn = retry;
  const entry = retry && sessionWalletEntry();
  $('reauth').hidden = !entry;
  if (entry) $('reauth-button').textContent = `Sign in again with ${entry.name}`;
}

async function listSessions() {
  const list = $('sessions');
  const session = client.current;
  let sessions;
  try {
    sessions = await client.listSessions({ scope: 'account' });
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
    // Another identity's session is shown with its wallet (or username); this wallet's can be
    // revoked from here.
    const mine = !s.identity || (s.identity.type === 'wallet' && session && isSessionWallet(s.identity, session));
    if (!mine) {
      const who = document.createElement('div');
      who.className = 'who';
      who.textContent =
        s.identity.type === 'wallet'
          ? `${chainName(s.identity.chain)} ${shortAddress(s.identity.address)}`
          : `Password: ${s.identity.username}`;
      what.append(who);
    }
    li.append(what);
    if (s.current) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'This device';
      li.append(badge);
    } else if (mine) {
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

// Signs in with a wallet; true when signed in.
async function signIn(wallet, opts = {}) {
  offerChainSwitch(null);
  say(`Waiting for ${wallet.name}…`);
  try {
    let session;
    if (wallet.kind === 'ethereum') {
      lastEthereumWallet = wallet;
      session = await client.signInWithEthereum(wallet.provider, opts);
    } else {
      session = await client.signInWithSolana(wallet.wallet, opts);
    }
    say('');
    await show(session);
    return true;
  } catch (err) {
    say(explain(err), 'error');
    // The server accepts another chain than the wallet's: offer the switch (again, after a
    // declined or failed one: the user may add the chain to the wallet, or change their mind).
    if (err && err.allowedChainId) offerChainSwitch(err.allowedChainId);
    return false;
  }
}

// Every wallet of this browser: each EIP-6963 Ethereum wallet (or the legacy window.ethereum)
// and each wallet-standard Solana wallet.
function walletEntries() {
  return [
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
}

// The picker: one button per wallet. Signed in, the same wallets are offered for linking.
function renderWallets() {
  const entries = walletEntries();
  renderLinkButtons();
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
$('reauth-button').addEventListener('click', async () => {
  const retry = retryAfterSignIn;
  const entry = sessionWalletEntry();
  const session = client.current;
  offerSignInAgain(null);
  if (!entry || !session) return;
  // The same wallet (and account of it) as the session's: the account stays the same.
  if (await signIn(entry, { address: session.address }) && retry) await retry();
});
$('logout-all').addEventListener('click', async () => {
  try {
    // Every session of the account: of each of its wallets and its password.
    const { revoked } = await client.logoutAll({ scope: 'account' });
    say(`Signed out of ${revoked} session${revoked === 1 ? '' : 's'}.`);
  } catch (err) {
    say(`Logout failed: ${err.message}`, 'error');
  }
  await refresh();
});

refresh();
