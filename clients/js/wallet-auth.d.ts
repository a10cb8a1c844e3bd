// Types of wallet-auth.js.

/**
 * Error codes: the server's (`unauthenticated`, `nonce_invalid`, ...) and the client's own. Those
 * an account's calls answer:
 * - `reauthentication_required` (403): linking or unlinking needs a session signed in recently
 *   (the server's `REAUTH_MAX_AGE`, 10 minutes by default); ask the person to sign in again
 *   (`signInWithEthereum` / `signInWithSolana` with the session's wallet), then retry;
 * - `identity_in_use` (409): the wallet (or username) belongs to another account that has other
 *   identities (a wallet alone in its account is moved over instead);
 * - `last_identity` (409): the account's only identity cannot be unlinked.
 */
export type WalletAuthErrorCode =
  | 'reauthentication_required'
  | 'identity_in_use'
  | 'last_identity'
  | 'unauthenticated'
  | 'nonce_invalid'
  | 'invalid_signature'
  | 'chain_not_allowed'
  | 'user_rejected'
  | 'no_wallet'
  | 'no_account'
  | 'unsupported_wallet'
  | 'wallet_error'
  | 'network_error'
  | 'http_error'
  | (string & {});

export class WalletAuthError extends Error {
  readonly code: WalletAuthErrorCode;
  /** The HTTP status, for errors answered by the server. */
  readonly status?: number;
  /**
   * On an Ethereum sign-in the server refused for its chain (`chain_not_allowed`), and on a
   * failed or declined chain switch: the wallet's chain id...
   */
  readonly chainId?: number;
  /** ...and the chain id the server accepts (its first allowed chain). */
  readonly allowedChainId?: number;
  constructor(code: string, message: string, status?: number, cause?: unknown);
}

/** What `switchChain` is asked when the server does not accept the wallet's chain. */
export interface ChainSwitchRequest {
  /** The wallet's chain id, which the server refused. */
  chainId: number;
  /** The chain id the server accepts. */
  allowedChainId: number;
}

export interface Session {
  sessionId: string;
  /** The account the session belongs to: the same for every identity of the account. */
  accountId: string;
  /** The account's roles, as cached in the session (short lowercase names). */
  roles: string[];
  chain: 'ethereum' | 'solana';
  address: string;
  chainId?: number | string;
  walletType?: 'eoa' | 'contract';
  createdAt: string;
  expiresAt: string;
  refreshAfter: string;
  csrfToken: string;
}

export interface SessionInfo {
  sessionId: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  userAgent: string;
  ip: string;
  current: boolean;
  /** Whose session it is; listed with `{ scope: 'account' }`. */
  identity?: Identity;
}

export interface WalletIdentity {
  type: 'wallet';
  chain: 'ethereum' | 'solana';
  /** EIP-55 for Ethereum (one identity on every EVM chain), base58 for Solana. */
  address: string;
}

export interface PasswordIdentity {
  type: 'password';
  username: string;
}

export type Identity = WalletIdentity | PasswordIdentity;

/** An account: what `GET /auth/account`, a link and an unlink answer. */
export interface Account {
  accountId: string;
  roles: string[];
  /** One or more: wallets on any chain, and at most one username/password. */
  identities: Identity[];
  createdAt: string;
}

/**
 * `'account'`: every identity of the account (the sessions of all its wallets and its
 * password); without a scope, this wallet's.
 */
export interface ScopeOptions {
  scope?: 'account';
}

/** An EIP-1193 provider (window.ethereum, viem/wagmi connectors' `getProvider()`). */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] | object }): Promise<unknown>;
}

export interface WalletStandardAccount {
  readonly address: string;
  readonly publicKey: Uint8Array;
  readonly chains?: readonly string[];
  readonly features?: readonly string[];
}

export interface SolanaSignInInput {
  domain?: string;
  address?: string;
  statement?: string;
  uri?: string;
  version?: string;
  chainId?: string;
  nonce?: string;
  issuedAt?: string;
}

export interface SolanaSignInOutput {
  account: WalletStandardAccount;
  signedMessage: Uint8Array;
  signature: Uint8Array;
}

/** The parts of a wallet-standard wallet the client uses. */
export interface WalletStandardWallet {
  readonly name?: string;
  readonly accounts: readonly WalletStandardAccount[];
  readonly features: {
    'solana:signIn'?: {
      signIn(...inputs: SolanaSignInInput[]): Promise<readonly SolanaSignInOutput[]>;
    };
    'solana:signMessage'?: {
      signMessage(
        ...inputs: { account: WalletStandardAccount; message: Uint8Array }[]
      ): Promise<readonly { signedMessage: Uint8Array; signature: Uint8Array }[]>;
    };
    'standard:connect'?: {
      connect(input?: { silent?: boolean }): Promise<{ accounts: readonly WalletStandardAccount[] }>;
    };
    readonly [name: string]: unknown;
  };
}

export interface EthereumSignInOptions {
  /** The account to sign with (default: the first of `eth_requestAccounts`). */
  address?: string;
  /** The EIP-155 chain id to sign in on (default: the wallet's `eth_chainId`). */
  chainId?: number;
  /**
   * When the server does not accept that chain (`chain_not_allowed`): `true` asks the wallet to
   * switch to the server's chain (`wallet_switchEthereumChain`, EIP-3326; the wallet confirms
   * with the user) and signs in there; a function decides (e.g. after asking the user);
   * `false` (the default) throws the `chain_not_allowed` error with `chainId` and
   * `allowedChainId` set, so that the page can offer the switch and call again with `true`.
   */
  switchChain?: boolean | ((request: ChainSwitchRequest) => boolean | Promise<boolean>);
}

export interface SolanaSignInOptions {
  /**
   * The statement put in the `solana:signIn` request (default "Sign in with your wallet.", or
   * "Link this wallet to your account." for a link).
   */
  statement?: string;
  /** The account to sign in with, for wallets that hold several. */
  address?: string;
  /** Use `solana:signMessage` even when the wallet supports `solana:signIn`. */
  useSignMessage?: boolean;
}

export interface ClientOptions {
  /** The server's origin and path prefix; '' (the default) is this page's origin. */
  baseUrl?: string;
  /** Called when a response says the server extended the session (`X-Session-Refreshed`). */
  onRefresh?: (info: { expiresAt: string | null }) => void;
  /** A fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
  /**
   * Called when another tab of this origin signed in (the session) or out (null). One listener;
   * `client.subscribe` adds any number, of every change.
   */
  onSessionChange?: (session: Session | null) => void;
  /** Cross-tab session sync (BroadcastChannel, else storage events); default: true in a browser. */
  sync?: boolean;
}

export interface WalletAuthClient {
  signInWithEthereum(provider: Eip1193Provider, opts?: EthereumSignInOptions): Promise<Session>;
  signInWithSolana(wallet: WalletStandardWallet, opts?: SolanaSignInOptions): Promise<Session>;
  /** The current session, re-read from the server; null when signed out. */
  session(): Promise<Session | null>;
  /**
   * The session at page load; asks the server only when this browser signed in with this client
   * before, so an anonymous visitor causes no 401. Null when signed out.
   */
  restore(): Promise<Session | null>;
  logout(): Promise<void>;
  /** Ends every session of this wallet, or with `{ scope: 'account' }` of the whole account. */
  logoutAll(options?: ScopeOptions): Promise<{ revoked: number }>;
  /**
   * This wallet's sessions, or with `{ scope: 'account' }` those of every identity of the
   * account (each with its `identity`).
   */
  listSessions(options?: ScopeOptions): Promise<SessionInfo[]>;
  revoke(sessionId: string): Promise<void>;
  /** The session's account: its id, roles and identities. */
  account(): Promise<Account>;
  /**
   * Links an Ethereum wallet to the session's account: the wallet signs an EIP-4361 message
   * with a link nonce, exactly as for a sign-in (same options). Resolves to the account. The
   * session must be recent (`reauthentication_required` otherwise); `identity_in_use` when the
   * wallet belongs to another account with other identities. This client's session is
   * unchanged; signing in with the linked wallet gives the same `accountId`.
   */
  linkEthereum(provider: Eip1193Provider, opts?: EthereumSignInOptions): Promise<Account>;
  /** Links a Solana wallet to the session's account, as `linkEthereum` (SIWS, same options as a sign-in). */
  linkSolana(wallet: WalletStandardWallet, opts?: SolanaSignInOptions): Promise<Account>;
  /**
   * Adds a username and password to the account of a wallet session (recent); `identity_in_use`
   * when the username is taken or the account has a password already.
   */
  linkPassword(username: string, password: string): Promise<Account>;
  /**
   * Removes a wallet from the session's account (recent session) and ends its sessions; its
   * next sign-in creates a new account. `last_identity` for the account's only identity. When
   * it is the wallet of this client's session, the client is signed out (`current` null, other
   * tabs told). Resolves to the account without the wallet.
   */
  unlink(identity: WalletIdentity | { chain: string; address: string }): Promise<Account>;
  unlink(chain: string, address: string): Promise<Account>;
  /**
   * fetch with the session cookie, the CSRF token on unsafe methods, and expiry tracking, for
   * the server's own origin; any other origin gets a plain fetch, without token or cookie.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /**
   * Adds a listener of every change of `current`, whatever its cause: this client's sign-in,
   * logout or revoke of its own session, a session read from the server that differs, a new
   * expiry, another tab's sign-in or logout (cross-tab sync). Any number of listeners; the same
   * function subscribed twice is called twice. Returns the function that removes this one.
   * (`@wallet-auth/client/react`'s useWalletAuth is built on it.)
   */
  subscribe(listener: (session: Session | null) => void): () => void;
  /** Stops this client's cross-tab sync (its subscribers stay). */
  close(): void;
  /**
   * The session this client knows of, without asking the server. The object is replaced only
   * when the session changed, so it can be compared by identity.
   */
  readonly current: Session | null;
  readonly csrfToken: string | null;
  /** The session's expiry as last told by the server (RFC 3339). */
  readonly expiresAt: string | null;
  onRefresh: ((info: { expiresAt: string | null }) => void) | null;
  onSessionChange: ((session: Session | null) => void) | null;
}

/** An injected Ethereum wallet (EIP-6963 provider detail). */
export interface EthereumWalletInfo {
  uuid: string;
  name: string;
  /** A data: URI of an image, or '' (other icons are dropped). */
  icon: string;
  /** Reverse-DNS id such as 'io.metamask'; '' for the legacy window.ethereum. */
  rdns: string;
}

export interface EthereumWallet {
  readonly info: EthereumWalletInfo;
  readonly provider: Eip1193Provider;
}

export interface DiscoveryOptions {
  /** The window to listen on (default: globalThis.window). */
  target?: EventTarget & { ethereum?: Eip1193Provider };
}

export function createClient(options?: ClientOptions): WalletAuthClient;
export function base58Encode(bytes: Uint8Array | ArrayLike<number>): string;
export function isUserRejection(err: unknown): boolean;
/** "Chrome on macOS", "Safari on iPhone", ...; "Unknown device" when the string tells nothing. */
export function deviceName(userAgent: string | null | undefined): string;
/**
 * EIP-6963 discovery: `onChange` gets the whole list each time a wallet announces itself; the
 * legacy window.ethereum is listed when none did within `fallbackDelay` ms. Returns a stop function.
 */
export function watchEthereumWallets(
  onChange: (wallets: EthereumWallet[]) => void,
  options?: DiscoveryOptions & { fallbackDelay?: number },
): () => void;
/** The injected Ethereum wallets found within `timeout` ms (default 400). */
export function discoverEthereumWallets(options?: DiscoveryOptions & { timeout?: number }): Promise<EthereumWallet[]>;
