// Test wallets backed by local keys: an Ethereum EIP-1193 provider (secp256k1, personal_sign) and
// a Solana wallet-standard wallet (ed25519), plus a cookie-jar fetch for Node.
import crypto from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { base58Encode } from '../wallet-auth.js';

export const BASE_URL = process.env.WALLET_AUTH_URL || 'http://127.0.0.1:8080';
/** A second server that accepts only some Ethereum chains (ETH_CHAIN_IDS=10,1); unset: skipped. */
export const RESTRICTED_URL = process.env.WALLET_AUTH_RESTRICTED_URL || '';
/** A server whose links and unlinks need a sign-in of the last 3 s (REAUTH_MAX_AGE=3s); unset: skipped. */
export const REAUTH_URL = process.env.WALLET_AUTH_REAUTH_URL || '';

const hex = (bytes) => Buffer.from(bytes).toString('hex');

function toChecksumAddress(lower) {
  const h = hex(keccak_256(new TextEncoder().encode(lower)));
  let out = '0x';
  for (let i = 0; i < 40; i++) out += parseInt(h[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
  return out;
}

export class EthKey {
  constructor() {
    this.secret = secp256k1.utils.randomSecretKey();
    const pub = secp256k1.getPublicKey(this.secret, false); // 0x04 || X || Y
    this.address = toChecksumAddress(hex(keccak_256(pub.subarray(1)).subarray(12)));
  }

  /** EIP-191 personal_sign of the bytes given as 0x-hex: 0x r || s || v (v = 27 / 28). */
  personalSign(dataHex) {
    const data = Buffer.from(dataHex.replace(/^0x/, ''), 'hex');
    const prefix = Buffer.from(`\x19Ethereum Signed Message:\n${data.length}`, 'utf8');
    const digest = keccak_256(Buffer.concat([prefix, data]));
    const sig = secp256k1.sign(digest, this.secret, { prehash: false, format: 'recovered' });
    // `recovered` is recovery || r || s
    return `0x${hex(sig.subarray(1))}${(27 + sig[0]).toString(16)}`;
  }

  /**
   * An EIP-1193 provider; `mode` 'reject' makes personal_sign fail as a user rejection. The
   * wallet starts on `chainId` and switches (wallet_switchEthereumChain) to any of `chains`;
   * `switchMode` 'reject' declines a switch as the user would. `switches` records the chain ids
   * it was asked to switch to.
   */
  provider(mode = 'ok', { chainId = 1, chains = [1, 10, 137, 8453, 42161], switchMode = 'ok' } = {}) {
    let current = chainId;
    const switches = [];
    return {
      switches,
      get chainId() {
        return current;
      },
      request: async ({ method, params }) => {
        switch (method) {
          case 'eth_requestAccounts':
          case 'eth_accounts':
            return [this.address.toLowerCase()];
          case 'eth_chainId':
            return `0x${current.toString(16)}`;
          case 'wallet_switchEthereumChain': {
            const wanted = Number.parseInt(params[0].chainId, 16);
            switches.push(wanted);
            if (switchMode === 'reject') throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
            if (!chains.includes(wanted)) throw Object.assign(new Error('Unrecognized chain ID.'), { code: 4902 });
            current = wanted;
            return null;
          }
          case 'personal_sign':
            if (mode === 'reject') throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
            if (mode === 'garbage') return `0x${'11'.repeat(64)}1b`;
            return this.personalSign(params[0]);
          default:
            throw Object.assign(new Error(`unsupported method ${method}`), { code: 4200 });
        }
      },
    };
  }
}

export class SolKey {
  constructor() {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
    this.privateKey = privateKey;
    this.publicKey = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url'));
    this.address = base58Encode(this.publicKey);
  }

  sign(bytes) {
    return new Uint8Array(crypto.sign(null, Buffer.from(bytes), this.privateKey));
  }

  /** A wallet-standard wallet; `features` picks 'signIn' and / or 'signMessage'. */
  wallet({ features = ['signIn', 'signMessage'], reject = false } = {}) {
    const account = { address: this.address, publicKey: this.publicKey, chains: ['solana:mainnet'], features: [] };
    const f = {};
    const check = () => {
      if (reject) throw Object.assign(new Error('User rejected the request'), { name: 'WalletSignInError' });
    };
    if (features.includes('signIn')) {
      f['solana:signIn'] = {
        version: '1.0.0',
        signIn: async (input) => {
          check();
          const text = siwsText({ ...input, address: this.address });
          const signedMessage = new TextEncoder().encode(text);
          return [{ account, signedMessage, signature: this.sign(signedMessage) }];
        },
      };
    }
    if (features.includes('signMessage')) {
      f['solana:signMessage'] = {
        version: '1.0.0',
        signMessage: async ({ message }) => {
          check();
          return [{ signedMessage: message, signature: this.sign(message) }];
        },
      };
    }
    f['standard:connect'] = { version: '1.0.0', connect: async () => ({ accounts: [account] }) };
    return { version: '1.0.0', name: 'Test Wallet', chains: ['solana:mainnet'], accounts: [], features: f };
  }
}

/** The SIWS message text a wallet builds from a `solana:signIn` input (wallet-standard format). */
export function siwsText(input) {
  let text = `${input.domain} wants you to sign in with your Solana account:\n${input.address}`;
  if (input.statement) text += `\n\n${input.statement}`;
  const fields = [];
  if (input.uri) fields.push(`URI: ${input.uri}`);
  if (input.version) fields.push(`Version: ${input.version}`);
  if (input.chainId) fields.push(`Chain ID: ${input.chainId}`);
  if (input.nonce) fields.push(`Nonce: ${input.nonce}`);
  if (input.issuedAt) fields.push(`Issued At: ${input.issuedAt}`);
  if (input.expirationTime) fields.push(`Expiration Time: ${input.expirationTime}`);
  if (input.notBefore) fields.push(`Not Before: ${input.notBefore}`);
  if (input.requestId) fields.push(`Request ID: ${input.requestId}`);
  if (fields.length) text += `\n\n${fields.join('\n')}`;
  return text;
}

/** A fetch that keeps cookies like a browser would for one origin; `log` records every request. */
export function cookieFetch(log = []) {
  const jar = new Map();
  const f = async (url, init = {}) => {
    const headers = new Headers(init.headers);
    if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    log.push({ url: String(url), method: init.method || 'GET', headers });
    const res = await fetch(url, { ...init, headers });
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const i = kv.indexOf('=');
      const name = kv.slice(0, i).trim();
      const value = kv.slice(i + 1).trim();
      if (!value || /max-age=0\b/i.test(c) || /expires=[^;]*1970/i.test(c)) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  };
  f.jar = jar;
  f.log = log;
  return f;
}
