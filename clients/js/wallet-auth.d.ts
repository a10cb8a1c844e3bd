// Types of wallet-auth.js.

/** Error codes: the server's (`unauthenticated`, `nonce_invalid`, ...) and the client's own. */
export type WalletAuthErrorCode =
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
  chain: 'ethereum' | 'solana';
  address: string;
  chainId?: number | string;
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
  /** The statement put in the `solana:signIn` request (default "Sign in with your wallet."). */
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
  logoutAll(): Promise<{ revoked: number }>;
  listSessions(): Promise<SessionInfo[]>;
  revoke(sessionId: string): Promise<void>;
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
