// wallet-auth JavaScript client: sign in with an Ethereum (EIP-1193) or Solana (wallet-standard)
// wallet against a wallet-auth server, then use the cookie session.
//
// An ES module with no dependencies (the package's CommonJS build is generated from it by
// build-cjs.mjs). See wallet-auth.d.ts for the types and the README's "JavaScript client" section.
//
// A session belongs to an account, which may hold several wallets (and a password): the client
// reads the account, links a wallet to it (the wallet signs a link nonce exactly as it signs a
// sign-in nonce, through the same code) and unlinks one.

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const BASE58_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const DEFAULT_STATEMENT = 'Sign in with your wallet.';
const LINK_STATEMENT = 'Link this wallet to your account.';

/** An error from the server (`code` is its error code) or from the wallet (`user_rejected`, ...). */
export class WalletAuthError extends Error {
  constructor(code, message, status, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'WalletAuthError';
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}

/** Base58 (Bitcoin alphabet) encoding of bytes, as Solana writes keys and signatures. */
export function base58Encode(bytes) {
  const input = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
  let zeros = 0;
  while (zeros < input.length && input[zeros] === 0) zeros++;
  // Base-58 digits, least significant first.
  const digits = [];
  for (let i = zeros; i < input.length; i++) {
    let carry = input[i];
    for (let j = 0; j < digits.length; j++) {
      carry += digits[j] << 8;
      digits[j] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = (carry / 58) | 0;
    }
  }
  let out = '1'.repeat(zeros);
  for (let i = digits.length - 1; i >= 0; i--) out += BASE58_ALPHABET[digits[i]];
  return out;
}

function utf8ToHex(text) {
  let hex = '0x';
  for (const b of new TextEncoder().encode(text)) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** True when a wallet error means the user declined (EIP-1193 4001, wallet-standard rejections). */
export function isUserRejection(err) {
  if (!err || typeof err !== 'object') return false;
  if (err.code === 4001 || err.code === 'ACTION_REJECTED' || err.code === 'user_rejected') {
    return true;
  }
  const cause = err.cause;
  if (cause && cause !== err && isUserRejection(cause)) return true;
  const text = `${err.name || ''} ${err.message || ''}`;
  return /user ?rejected|rejected the request|denied|declined|cancel+ed/i.test(text);
}

function walletError(err, what) {
  if (err instanceof WalletAuthError) return err;
  if (isUserRejection(err)) {
    return new WalletAuthError('user_rejected', `The wallet request was rejected (${what}).`, undefined, err);
  }
  const detail = err && err.message ? `: ${err.message}` : '';
  return new WalletAuthError('wallet_error', `The wallet could not ${what}${detail}`, undefined, err);
}

async function errorFromResponse(res) {
  let code = 'http_error';
  let message = `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (body && body.error && typeof body.error.code === 'string') {
      code = body.error.code;
      message = body.error.message || message;
    }
  } catch {
    // not JSON: keep the generic code
  }
  return new WalletAuthError(code, message, res.status);
}

const HINT_PREFIX = 'wallet-auth:signed-in:';
const SYNC_PREFIX = 'wallet-auth:sync:';

function storage() {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled (privacy settings, sandboxed frame)
  }
}

/**
 * A short, friendly name of the device a User-Agent string describes, such as "Chrome on macOS"
 * or "Safari on iPhone"; "Unknown device" when it tells nothing useful.
 */
export function deviceName(userAgent) {
  const ua = typeof userAgent === 'string' ? userAgent.slice(0, 512) : '';
  if (!ua) return 'Unknown device';
  const browsers = [
    [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
    [/\bOPR\/|\bOpera\b/, 'Opera'],
    [/\bSamsungBrowser\//, 'Samsung Internet'],
    [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
    [/\bCriOS\/|\b(?:Headless)?Chrome\/|\bChromium\//, 'Chrome'],
    [/\bVersion\/[\d.]+.*\bSafari\/|\bAppleWebKit\/.*\bMobile\//, 'Safari'],
    [/^node\b|\bnode-fetch\b|\bundici\b/i, 'Node.js'],
    [/^curl\//, 'curl'],
  ];
  const systems = [
    [/\biPhone\b/, 'iPhone'],
    [/\biPad\b/, 'iPad'],
    [/\bAndroid\b/, 'Android'],
    [/\bCrOS\b/, 'ChromeOS'],
    [/\bWindows\b/, 'Windows'],
    [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
    [/\bLinux\b|\bX11\b/, 'Linux'],
  ];
  const browser = (browsers.find(([re]) => re.test(ua)) || [])[1];
  const system = (systems.find(([re]) => re.test(ua)) || [])[1];
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  if (system) return `Browser on ${system}`;
  return 'Unknown device';
}

// An EIP-6963 wallet icon is shown as an image: only data: URIs of images are kept (no remote
// fetch, no script).
function safeIcon(icon) {
  return typeof icon === 'string' &&
    icon.length <= 100000 &&
    /^data:image\/(?:svg\+xml|png|jpeg|gif|webp)[;,]/i.test(icon)
    ? icon
    : '';
}

function clip(value, max) {
  return typeof value === 'string' ? value.slice(0, max) : '';
}

/**
 * EIP-6963 discovery of the injected Ethereum wallets: asks the wallets to announce themselves
 * and calls `onChange(wallets)` with the whole list each time one appears (a wallet may announce
 * itself late). Each wallet is `{ info: { uuid, name, icon, rdns }, provider }`. When no wallet
 * has announced itself after `fallbackDelay` ms, a legacy `window.ethereum` is listed as one
 * wallet (uuid 'window.ethereum', rdns ''). Returns a function that stops listening.
 */
export function watchEthereumWallets(onChange, { target = globalThis.window, fallbackDelay = 300 } = {}) {
  const wallets = [];
  if (!target || typeof target.addEventListener !== 'function') return () => {};
  let fallback = null;
  const emit = () => {
    try {
      onChange([...wallets]);
    } catch {
      // the listener's error must not stop discovery
    }
  };
  const onAnnounce = (event) => {
    const detail = event && event.detail;
    if (!detail || !detail.info || !detail.provider || typeof detail.provider.request !== 'function') return;
    const info = {
      uuid: clip(detail.info.uuid, 64),
      name: clip(detail.info.name, 64) || 'Wallet',
      icon: safeIcon(detail.info.icon),
      rdns: clip(detail.info.rdns, 128),
    };
    if (!info.uuid || wallets.some((w) => w.info.uuid === info.uuid || w.provider === detail.provider)) return;
    if (fallback) {
      // an announced wallet replaces the legacy window.ethereum entry
      wallets.splice(wallets.indexOf(fallback), 1);
      fallback = null;
    }
    wallets.push(Object.freeze({ info: Object.freeze(info), provider: detail.provider }));
    emit();
  };
  target.addEventListener('eip6963:announceProvider', onAnnounce);
  target.dispatchEvent(new Event('eip6963:requestProvider'));
  const timer = setTimeout(() => {
    const legacy = target.ethereum;
    if (wallets.length === 0 && legacy && typeof legacy.request === 'function') {
      fallback = Object.freeze({
        info: Object.freeze({ uuid: 'window.ethereum', name: 'Browser wallet', icon: '', rdns: '' }),
        provider: legacy,
      });
      wallets.push(fallback);
      emit();
    }
  }, fallbackDelay);
  return () => {
    clearTimeout(timer);
    target.removeEventListener('eip6963:announceProvider', onAnnounce);
  };
}

/** The injected Ethereum wallets found within `timeout` ms (EIP-6963, else `window.ethereum`). */
export function discoverEthereumWallets({ timeout = 400, target } = {}) {
  return new Promise((resolve) => {
    let found = [];
    const stop = watchEthereumWallets((w) => (found = w), {
      target,
      fallbackDelay: Math.max(0, timeout - 50),
    });
    setTimeout(() => {
      stop();
      resolve(found);
    }, timeout);
  });
}

// Whether two descriptions of the session say the same (objects of strings, numbers and arrays
// of strings, such as `roles`).
function sameSession(a, b) {
  if (a === b) return true;
  if (!a || !b) return false;
  const same = (x, y) =>
    Object.is(x, y) ||
    (Array.isArray(x) && Array.isArray(y) && x.length === y.length && x.every((v, i) => Object.is(v, y[i])));
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => same(a[k], b[k]));
}

// Whether a session (or identity) and a wallet identity are the same wallet: Ethereum addresses
// in any case (the server shows them in EIP-55 form, an app may hold them in lower case).
function sameWallet(session, chain, address) {
  if (!session || session.chain !== chain || typeof session.address !== 'string') return false;
  return chain === 'ethereum'
    ? session.address.toLowerCase() === String(address).toLowerCase()
    : session.address === address;
}

// The (chain, address) of a wallet identity given as `{ chain, address }` (an entry of the
// account's `identities`) or as two arguments.
function walletIdentity(identityOrChain, address) {
  const id =
    identityOrChain !== null && typeof identityOrChain === 'object'
      ? identityOrChain
      : { chain: identityOrChain, address };
  if (id.type !== undefined && id.type !== 'wallet') {
    throw new TypeError(`unlink: only a wallet identity can be unlinked (this one is "${id.type}")`);
  }
  if (typeof id.chain !== 'string' || !id.chain || typeof id.address !== 'string' || !id.address) {
    throw new TypeError('unlink: pass a wallet identity { chain, address } or unlink(chain, address)');
  }
  return { chain: id.chain, address: id.address };
}

/**
 * Creates a client for the wallet-auth server at `baseUrl` ('' = this page's origin).
 * Options: `onRefresh({expiresAt})`, called when the server extended the session;
 * `fetch`, a fetch implementation (default: the global one); `sync` (default true in a browser),
 * cross-tab session sync: a sign-in or logout in one tab is announced to the other tabs of the
 * same origin (BroadcastChannel, else `storage` events), whose clients then call
 * `onSessionChange(session | null)`.
 *
 * `client.subscribe(listener)` adds a listener of every change of `client.current`, whatever
 * its cause (this client's sign-in, logout or revoke, a session read from the server, an
 * extended expiry, another tab's sign-in or logout); it returns the function that removes it.
 *
 * The session cookie and the CSRF token go only to the server's own origin: `client.fetch` of
 * another origin's URL is a plain fetch (no token, the browser's default credentials).
 */
export function createClient({ baseUrl = '', onRefresh, onSessionChange, fetch: fetchImpl, sync } = {}) {
  const base = String(baseUrl).replace(/\/+$/, '');
  const pageUrl = typeof location !== 'undefined' && location && location.href ? String(location.href) : null;
  // The server's origin: baseUrl's, or the page's when baseUrl is a path or ''.
  let serverOrigin = null;
  try {
    serverOrigin = new URL(base || '/', pageUrl || undefined).origin;
  } catch {
    serverOrigin = null; // a relative baseUrl outside a browser: only paths are the server's
  }
  if (serverOrigin === 'null') serverOrigin = null;
  let current = null; // the session as the server last described it (without the token)
  let csrfToken = null;
  let expiresAt = null;
  let refreshListener = onRefresh || null;
  let changeListener = onSessionChange || null;
  // subscribe()'s listeners: one entry per call, so that the same function subscribed twice is
  // removed once per unsubscribe.
  const subscribers = new Set();
  const hintKey = HINT_PREFIX + (serverOrigin || base);
  const channelName = SYNC_PREFIX + (serverOrigin || base);

  const doFetch = (input, init) => (fetchImpl || globalThis.fetch)(input, init);

  // The URL a request goes to, and whether it is the server's own origin.
  function target(input) {
    if (typeof input === 'string' && input.startsWith('/') && !input.startsWith('//')) {
      return { url: base + input, own: true };
    }
    const raw = typeof input === 'string' || input instanceof URL ? String(input) : input && input.url;
    let origin = null;
    try {
      origin = new URL(String(raw), pageUrl || undefined).origin; // as fetch resolves it
    } catch {
      origin = null;
    }
    return { url: input, own: serverOrigin !== null && origin === serverOrigin };
  }

  function hint(signedIn) {
    const s = storage();
    if (!s) return;
    try {
      if (signedIn) s.setItem(hintKey, '1');
      else s.removeItem(hintKey);
    } catch {
      // storage full or disabled: the hint is only an optimization
    }
  }

  // False only when this browser surely has no session opened by this client: the hint is
  // absent from a working localStorage. Without storage (Node), unknown: true.
  function hinted() {
    const s = storage();
    if (!s) return true;
    try {
      return s.getItem(hintKey) === '1';
    } catch {
      return true;
    }
  }

  // Sets the session this client knows of; an equal description keeps the current object, so
  // that `current` changes (and the subscribers hear of it) only when the session did.
  function setCurrent(session) {
    if (sameSession(current, session)) return;
    current = session;
    for (const entry of [...subscribers]) {
      if (!subscribers.has(entry)) continue; // removed by an earlier listener
      try {
        entry.listener(current);
      } catch {
        // a listener's error must not break the client or the other listeners
      }
    }
  }

  function subscribe(listener) {
    if (typeof listener !== 'function') throw new TypeError('subscribe(listener): the listener must be a function');
    const entry = { listener };
    subscribers.add(entry);
    return () => {
      subscribers.delete(entry);
    };
  }

  function notify() {
    if (!changeListener) return;
    try {
      changeListener(current);
    } catch {
      // a listener's error must not break the client
    }
  }

  // Cross-tab sync: BroadcastChannel where there is one, else `storage` events of localStorage.
  let channel = null;
  let onStorage = null;
  const syncOn = sync === undefined ? typeof window !== 'undefined' : !!sync;
  function announce(type) {
    if (!syncOn) return;
    const msg = { type, at: Date.now(), id: Math.random().toString(36).slice(2) };
    if (channel) {
      try {
        channel.postMessage(msg);
      } catch {
        // closed channel
      }
      return;
    }
    const s = storage();
    if (s) {
      try {
        s.setItem(channelName, JSON.stringify(msg));
      } catch {
        // storage disabled
      }
    }
  }
  async function received(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'signed-out') {
      remember(null);
      notify();
    } else if (msg.type === 'signed-in') {
      try {
        await loadSession();
      } catch {
        return; // unreachable server: keep the state as it is
      }
      notify();
    }
  }
  if (syncOn) {
    if (typeof BroadcastChannel === 'function') {
      channel = new BroadcastChannel(channelName);
      channel.onmessage = (event) => received(event.data);
    } else if (typeof window !== 'undefined' && storage()) {
      onStorage = (event) => {
        if (event.key !== channelName || !event.newValue) return;
        try {
          received(JSON.parse(event.newValue));
        } catch {
          // not ours
        }
      };
      window.addEventListener('storage', onStorage);
    }
  }

  // The listeners run last, when the token, the expiry and the hint are already the session's.
  function remember(session) {
    csrfToken = session ? session.csrfToken || null : null;
    expiresAt = session ? session.expiresAt || null : null;
    hint(!!session);
    setCurrent(session);
  }

  // The wrapper every call goes through: cookies, CSRF token, expiry tracking; for the server's
  // own origin only.
  async function authFetch(input, init = {}) {
    const { url, own } = target(input);
    if (!own) {
      try {
        return await doFetch(input, init);
      } catch (err) {
        throw new WalletAuthError('network_error', `Could not reach the server: ${err.message}`, undefined, err);
      }
    }
    const method = String(
      init.method || (typeof Request !== 'undefined' && input instanceof Request ? input.method : 'GET'),
    ).toUpperCase();
    const headers = new Headers(init.headers || (input instanceof Object && input.headers) || undefined);
    if (UNSAFE_METHODS.has(method) && !headers.has('x-csrf-token')) {
      // The token of a session opened before this page loaded; not asked for when this
      // browser has no session (a sign-in's own requests need none), so no 401 is logged.
      if (!csrfToken && hinted()) await loadSession();
      if (csrfToken) headers.set('x-csrf-token', csrfToken);
    }
    let res;
    try {
      res = await doFetch(url, { ...init, method, headers, credentials: 'include' });
    } catch (err) {
      throw new WalletAuthError('network_error', `Could not reach the server: ${err.message}`, undefined, err);
    }
    const newExpiry = res.headers.get('x-session-expires-at');
    if (newExpiry) {
      expiresAt = newExpiry;
      if (current && current.expiresAt !== newExpiry) setCurrent({ ...current, expiresAt: newExpiry });
    }
    if ((res.headers.get('x-session-refreshed') || '').toLowerCase() === 'true' && refreshListener) {
      try {
        refreshListener({ expiresAt: newExpiry || expiresAt });
      } catch {
        // a listener's error must not break the request
      }
    }
    return res;
  }

  async function call(path, { method = 'GET', body } = {}) {
    const init = { method };
    if (body !== undefined) {
      init.headers = { 'content-type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    const res = await authFetch(path, init);
    if (!res.ok) throw await errorFromResponse(res);
    if (res.status === 204) return null;
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }

  // GET /auth/session without a CSRF token (GET needs none): the session or null.
  async function loadSession() {
    try {
      const s = await call('/auth/session');
      remember(s);
      return s;
    } catch (err) {
      if (err.code === 'unauthenticated' || err.code === 'session_binding_mismatch') {
        remember(null);
        return null;
      }
      throw err;
    }
  }

  async function verify(body) {
    const s = await call('/auth/verify', { method: 'POST', body });
    const { token: _token, ...session } = s;
    remember(session);
    announce('signed-in');
    return session;
  }

  // Adds the signed wallet to the session's account: the account, with the wallet among its
  // identities. The session itself is unchanged.
  function link(body) {
    return call('/auth/link', { method: 'POST', body });
  }

  // What a wallet signs a nonce for. A sign-in: a nonce of /auth/nonce, the signed message to
  // /auth/verify, a new session. A link: a nonce of /auth/link/nonce (bound to the session's
  // account, useless for signing in), the signed message to /auth/link, the account. The
  // message is built and signed the same way for both.
  const SIGN_IN = Object.freeze({ noncePath: '/auth/nonce', statement: DEFAULT_STATEMENT, submit: verify });
  const LINK = Object.freeze({ noncePath: '/auth/link/nonce', statement: LINK_STATEMENT, submit: link });

  // The server refused the wallet's chain (`refusal`, a chain_not_allowed error). A nonce asked
  // for without a chain id is for the server's first allowed chain: that tells which chain to
  // switch to, and gives the message to sign there. With the caller's consent (`switchChain`:
  // true, or a function of {chainId, allowedChainId} answering true), the wallet is asked to
  // switch (EIP-3326 wallet_switchEthereumChain, which the wallet confirms with the user);
  // otherwise the error is thrown with `chainId` and `allowedChainId` set, so that the page can
  // offer the switch itself.
  async function offerChainSwitch(purpose, provider, address, chainId, switchChain, refusal) {
    const n = await call(purpose.noncePath, { method: 'POST', body: { chain: 'ethereum', address } });
    const allowedChainId = Number(n.chainId);
    if (!Number.isSafeInteger(allowedChainId) || allowedChainId <= 0 || allowedChainId === chainId) throw refusal;
    const info = { chainId, allowedChainId };
    const withChains = (err) => Object.assign(err, info);
    const consent = typeof switchChain === 'function' ? await switchChain({ ...info }) : switchChain === true;
    if (!consent) {
      throw withChains(
        new WalletAuthError(
          'chain_not_allowed',
          `This server does not accept chain ${chainId}; switch the wallet to chain ${allowedChainId} to ${purpose === LINK ? 'link it' : 'sign in'}.`,
          refusal.status,
          refusal,
        ),
      );
    }
    try {
      await provider.request({
        method: 'wallet_switchEthereumChain',
        params: [{ chainId: `0x${allowedChainId.toString(16)}` }],
      });
    } catch (err) {
      if (err && err.code === 4902) {
        throw withChains(
          new WalletAuthError(
            'wallet_error',
            `The wallet does not know chain ${allowedChainId}: add it to the wallet, then try again.`,
            undefined,
            err,
          ),
        );
      }
      throw withChains(walletError(err, `switch to chain ${allowedChainId}`));
    }
    return n;
  }

  // An Ethereum wallet signs a nonce of `purpose` (SIGN_IN or LINK), which is then submitted.
  async function withEthereum(purpose, provider, opts = {}) {
    if (!provider || typeof provider.request !== 'function') {
      throw new WalletAuthError('no_wallet', 'No Ethereum wallet was found.');
    }
    let address = opts.address;
    if (!address) {
      let accounts;
      try {
        accounts = await provider.request({ method: 'eth_requestAccounts' });
      } catch (err) {
        throw walletError(err, 'share an account');
      }
      if (!Array.isArray(accounts) || accounts.length === 0) {
        throw new WalletAuthError('no_account', 'The wallet has no account to use.');
      }
      address = accounts[0];
    }
    let chainId = opts.chainId;
    if (chainId === undefined) {
      try {
        const hex = await provider.request({ method: 'eth_chainId' });
        const n = Number.parseInt(hex, 16);
        if (Number.isSafeInteger(n) && n > 0) chainId = n;
      } catch {
        // the server picks its first allowed chain
      }
    }
    const nonceBody = { chain: 'ethereum', address };
    if (chainId !== undefined) nonceBody.chainId = chainId;
    let message;
    try {
      ({ message } = await call(purpose.noncePath, { method: 'POST', body: nonceBody }));
    } catch (err) {
      if (err.code !== 'chain_not_allowed' || chainId === undefined) throw err;
      ({ message } = await offerChainSwitch(purpose, provider, address, chainId, opts.switchChain, err));
    }
    let signature;
    try {
      signature = await provider.request({ method: 'personal_sign', params: [utf8ToHex(message), address] });
    } catch (err) {
      throw walletError(err, 'sign the message');
    }
    return purpose.submit({ chain: 'ethereum', message, signature });
  }

  async function solanaAccount(wallet) {
    if (wallet.accounts && wallet.accounts.length > 0) return wallet.accounts[0];
    const connect = wallet.features && wallet.features['standard:connect'];
    if (!connect) throw new WalletAuthError('no_account', 'The wallet has no account to use.');
    let out;
    try {
      out = await connect.connect();
    } catch (err) {
      throw walletError(err, 'connect');
    }
    const accounts = (out && out.accounts) || wallet.accounts || [];
    if (accounts.length === 0) throw new WalletAuthError('no_account', 'The wallet has no account to use.');
    return accounts[0];
  }

  // A Solana wallet signs a nonce of `purpose` (SIGN_IN or LINK), which is then submitted.
  async function withSolana(purpose, wallet, opts = {}) {
    const features = wallet && wallet.features;
    if (!features) throw new WalletAuthError('no_wallet', 'No Solana wallet was found.');
    const decoder = new TextDecoder('utf-8', { fatal: true });
    if (features['solana:signIn'] && !opts.useSignMessage) {
      const n = await call(purpose.noncePath, { method: 'POST', body: { chain: 'solana' } });
      const input = {
        domain: n.domain,
        uri: n.uri,
        version: '1',
        nonce: n.nonce,
        issuedAt: new Date().toISOString(),
        statement: opts.statement || purpose.statement,
      };
      if (n.chainId !== undefined && n.chainId !== null) input.chainId = `solana:${n.chainId}`;
      if (opts.address) input.address = opts.address;
      let outputs;
      try {
        outputs = await features['solana:signIn'].signIn(input);
      } catch (err) {
        throw walletError(err, 'sign in');
      }
      const out = Array.isArray(outputs) ? outputs[0] : outputs;
      if (!out || !out.signedMessage || !out.signature) {
        throw new WalletAuthError('wallet_error', 'The wallet returned no signature.');
      }
      return purpose.submit({
        chain: 'solana',
        message: decoder.decode(out.signedMessage),
        signature: base58Encode(out.signature),
        publicKey: base58Encode(out.account.publicKey),
      });
    }
    const signMessage = features['solana:signMessage'];
    if (!signMessage) {
      throw new WalletAuthError('unsupported_wallet', 'The wallet can neither sign in nor sign messages.');
    }
    const account = await solanaAccount(wallet);
    const { message } = await call(purpose.noncePath, {
      method: 'POST',
      body: { chain: 'solana', address: account.address },
    });
    let outputs;
    try {
      outputs = await signMessage.signMessage({ account, message: new TextEncoder().encode(message) });
    } catch (err) {
      throw walletError(err, 'sign the message');
    }
    const out = Array.isArray(outputs) ? outputs[0] : outputs;
    if (!out || !out.signature) throw new WalletAuthError('wallet_error', 'The wallet returned no signature.');
    return purpose.submit({
      chain: 'solana',
      message: out.signedMessage ? decoder.decode(out.signedMessage) : message,
      signature: base58Encode(out.signature),
      publicKey: account.address,
    });
  }

  async function signedOut(promise) {
    try {
      return await promise;
    } finally {
      remember(null);
      announce('signed-out');
    }
  }

  return {
    signInWithEthereum: (provider, opts) => withEthereum(SIGN_IN, provider, opts),
    signInWithSolana: (wallet, opts) => withSolana(SIGN_IN, wallet, opts),
    /** The current session (re-read from the server), or null when signed out. */
    session: loadSession,
    /**
     * The session at page load without a request for a visitor who never signed in: asks the
     * server only when this browser signed in with this client before (a hint in localStorage),
     * so an anonymous visitor's console shows no 401. Null when signed out.
     */
    async restore() {
      if (!hinted()) {
        remember(null);
        return null;
      }
      return loadSession();
    },
    async logout() {
      await signedOut(call('/auth/logout', { method: 'POST' }));
    },
    /** Ends every session of this wallet, or with `{ scope: 'account' }` of the whole account. */
    async logoutAll({ scope } = {}) {
      const init = scope === undefined ? { method: 'POST' } : { method: 'POST', body: { scope } };
      return signedOut(call('/auth/logout-all', init));
    },
    /** This wallet's sessions, or with `{ scope: 'account' }` those of every identity of the account. */
    async listSessions({ scope } = {}) {
      const r = await call(scope === undefined ? '/auth/sessions' : `/auth/sessions?scope=${encodeURIComponent(scope)}`);
      return r.sessions;
    },
    /** The session's account: `{ accountId, roles, identities, createdAt }`. */
    account: () => call('/auth/account'),
    /** Links an Ethereum wallet to the session's account (signed like a sign-in); the account. */
    linkEthereum: (provider, opts) => withEthereum(LINK, provider, opts),
    /** Links a Solana wallet to the session's account (signed like a sign-in); the account. */
    linkSolana: (wallet, opts) => withSolana(LINK, wallet, opts),
    /** Adds a username and password to the (wallet) session's account; the account. */
    linkPassword: (username, password) =>
      call('/auth/link/password', { method: 'POST', body: { username, password } }),
    /**
     * Removes a wallet from the session's account; the account. The server ends that wallet's
     * sessions: when it is the wallet of this client's session, the client is signed out too.
     */
    async unlink(identityOrChain, address) {
      const id = walletIdentity(identityOrChain, address);
      const account = await call(
        `/auth/identities/${encodeURIComponent(id.chain)}/${encodeURIComponent(id.address)}`,
        { method: 'DELETE' },
      );
      if (sameWallet(current, id.chain, id.address)) {
        remember(null);
        announce('signed-out');
      }
      return account;
    },
    async revoke(sessionId) {
      await call(`/auth/sessions/${encodeURIComponent(sessionId)}`, { method: 'DELETE' });
      if (current && current.sessionId === sessionId) {
        remember(null);
        announce('signed-out');
      }
    },
    fetch: authFetch,
    subscribe,
    /** Stops the cross-tab sync of this client (its subscribers stay). */
    close() {
      if (channel) channel.close();
      channel = null;
      if (onStorage) window.removeEventListener('storage', onStorage);
      onStorage = null;
    },
    /** The session this client knows of, without asking the server. */
    get current() {
      return current;
    },
    get csrfToken() {
      return csrfToken;
    },
    get expiresAt() {
      return expiresAt;
    },
    set onRefresh(fn) {
      refreshListener = fn || null;
    },
    get onRefresh() {
      return refreshListener;
    },
    set onSessionChange(fn) {
      changeListener = fn || null;
    },
    get onSessionChange() {
      return changeListener;
    },
  };
}
