// wallet-auth JavaScript client: sign in with an Ethereum (EIP-1193) or Solana (wallet-standard)
// wallet against a wallet-auth server, then use the cookie session.
//
// An ES module with no dependencies and no build step. See wallet-auth.d.ts for the types and the
// README's "JavaScript client" section for usage.

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const BASE58_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const DEFAULT_STATEMENT = 'Sign in with your wallet.';

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

/**
 * Creates a client for the wallet-auth server at `baseUrl` ('' = this page's origin).
 * Options: `onRefresh({expiresAt})`, called when the server extended the session;
 * `fetch`, a fetch implementation (default: the global one).
 */
export function createClient({ baseUrl = '', onRefresh, fetch: fetchImpl } = {}) {
  const base = String(baseUrl).replace(/\/+$/, '');
  let current = null; // the session as the server last described it (without the token)
  let csrfToken = null;
  let expiresAt = null;
  let refreshListener = onRefresh || null;

  const doFetch = (input, init) => (fetchImpl || globalThis.fetch)(input, init);

  function resolve(input) {
    if (typeof input === 'string' && input.startsWith('/')) return base + input;
    return input;
  }

  function remember(session) {
    current = session;
    csrfToken = session ? session.csrfToken || null : null;
    expiresAt = session ? session.expiresAt || null : null;
  }

  // The wrapper every call goes through: cookies, CSRF token, expiry tracking.
  async function authFetch(input, init = {}) {
    const method = String(
      init.method || (typeof Request !== 'undefined' && input instanceof Request ? input.method : 'GET'),
    ).toUpperCase();
    const headers = new Headers(init.headers || (input instanceof Object && input.headers) || undefined);
    if (UNSAFE_METHODS.has(method) && !headers.has('x-csrf-token')) {
      if (!csrfToken) await loadSession();
      if (csrfToken) headers.set('x-csrf-token', csrfToken);
    }
    let res;
    try {
      res = await doFetch(resolve(input), { ...init, method, headers, credentials: 'include' });
    } catch (err) {
      throw new WalletAuthError('network_error', `Could not reach the server: ${err.message}`, undefined, err);
    }
    const newExpiry = res.headers.get('x-session-expires-at');
    if (newExpiry) {
      expiresAt = newExpiry;
      if (current) current = { ...current, expiresAt: newExpiry };
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
    return session;
  }

  // The server refused the wallet's chain (`refusal`, a chain_not_allowed error). A nonce asked
  // for without a chain id is for the server's first allowed chain: that tells which chain to
  // switch to, and gives the message to sign there. With the caller's consent (`switchChain`:
  // true, or a function of {chainId, allowedChainId} answering true), the wallet is asked to
  // switch (EIP-3326 wallet_switchEthereumChain, which the wallet confirms with the user);
  // otherwise the error is thrown with `chainId` and `allowedChainId` set, so that the page can
  // offer the switch itself.
  async function offerChainSwitch(provider, address, chainId, switchChain, refusal) {
    const n = await call('/auth/nonce', { method: 'POST', body: { chain: 'ethereum', address } });
    const allowedChainId = Number(n.chainId);
    if (!Number.isSafeInteger(allowedChainId) || allowedChainId <= 0 || allowedChainId === chainId) throw refusal;
    const info = { chainId, allowedChainId };
    const withChains = (err) => Object.assign(err, info);
    const consent = typeof switchChain === 'function' ? await switchChain({ ...info }) : switchChain === true;
    if (!consent) {
      throw withChains(
        new WalletAuthError(
          'chain_not_allowed',
          `This server does not accept chain ${chainId}; switch the wallet to chain ${allowedChainId} to sign in.`,
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
            `The wallet does not know chain ${allowedChainId}: add it to the wallet, then sign in again.`,
            undefined,
            err,
          ),
        );
      }
      throw withChains(walletError(err, `switch to chain ${allowedChainId}`));
    }
    return n;
  }

  async function signInWithEthereum(provider, opts = {}) {
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
        throw new WalletAuthError('no_account', 'The wallet has no account to sign in with.');
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
      ({ message } = await call('/auth/nonce', { method: 'POST', body: nonceBody }));
    } catch (err) {
      if (err.code !== 'chain_not_allowed' || chainId === undefined) throw err;
      ({ message } = await offerChainSwitch(provider, address, chainId, opts.switchChain, err));
    }
    let signature;
    try {
      signature = await provider.request({ method: 'personal_sign', params: [utf8ToHex(message), address] });
    } catch (err) {
      throw walletError(err, 'sign the message');
    }
    return verify({ chain: 'ethereum', message, signature });
  }

  async function solanaAccount(wallet) {
    if (wallet.accounts && wallet.accounts.length > 0) return wallet.accounts[0];
    const connect = wallet.features && wallet.features['standard:connect'];
    if (!connect) throw new WalletAuthError('no_account', 'The wallet has no account to sign in with.');
    let out;
    try {
      out = await connect.connect();
    } catch (err) {
      throw walletError(err, 'connect');
    }
    const accounts = (out && out.accounts) || wallet.accounts || [];
    if (accounts.length === 0) throw new WalletAuthError('no_account', 'The wallet has no account to sign in with.');
    return accounts[0];
  }

  async function signInWithSolana(wallet, opts = {}) {
    const features = wallet && wallet.features;
    if (!features) throw new WalletAuthError('no_wallet', 'No Solana wallet was found.');
    const decoder = new TextDecoder('utf-8', { fatal: true });
    if (features['solana:signIn'] && !opts.useSignMessage) {
      const n = await call('/auth/nonce', { method: 'POST', body: { chain: 'solana' } });
      const input = {
        domain: n.domain,
        uri: n.uri,
        version: '1',
        nonce: n.nonce,
        issuedAt: new Date().toISOString(),
        statement: opts.statement || DEFAULT_STATEMENT,
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
      return verify({
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
    const { message } = await call('/auth/nonce', {
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
    return verify({
      chain: 'solana',
      message: out.signedMessage ? decoder.decode(out.signedMessage) : message,
      signature: base58Encode(out.signature),
      publicKey: account.address,
    });
  }

  return {
    signInWithEthereum,
    signInWithSolana,
    /** The current session (re-read from the server), or null when signed out. */
    session: loadSession,
    async logout() {
      try {
        await call('/auth/logout', { method: 'POST' });
      } finally {
        remember(null);
      }
    },
    async logoutAll() {
      try {
        return await call('/auth/logout-all', { method: 'POST' });
      } finally {
        remember(null);
      }
    },
    async listSessions() {
      const r = await call('/auth/sessions');
      return r.sessions;
    },
    async revoke(sessionId) {
      await call(`/auth/sessions/${encodeURIComponent(sessionId)}`, { method: 'DELETE' });
    },
    fetch: authFetch,
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
  };
}
