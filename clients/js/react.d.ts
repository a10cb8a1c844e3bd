// Types of react.js: `@wallet-auth/client/react`, the React hook of the wallet-auth client.
//
// ```jsx
// import { createClient, watchEthereumWallets } from '@wallet-auth/client';
// import { useWalletAuth } from '@wallet-auth/client/react';
//
// const auth = createClient(); // once, outside the components ('' = this page's origin)
//
// function Account({ wallet }) {
//   const { session, loading, error, signInWithEthereum, logout } = useWalletAuth(auth);
//   if (session) return <button onClick={logout}>Log out {session.address}</button>;
//   return (
//     <>
//       <button disabled={loading} onClick={() => signInWithEthereum(wallet.provider, { switchChain: true })}>
//         Sign in with {wallet.info.name}
//       </button>
//       {error && error.code !== 'user_rejected' && <p role="alert">{error.message}</p>}
//     </>
//   );
// }
// ```
//
// - The first component that uses a client reads its session with `client.restore()` (no
//   request for a visitor who never signed in here); `loading` is true until it is known.
// - Every component of the same client shares one state: a sign-in in one updates the others,
//   and so does a sign-in or logout in another tab of the same origin (the client's cross-tab
//   sync, on by default in a browser).
// - The hook subscribes to the client while a component is mounted (`client.subscribe`) and
//   unsubscribes when the last one unmounts; it never closes the client.
// - The account (its id, roles and identities) is read on demand: `loadAccount()`, e.g. in an
//   effect on `session?.accountId`; a link or an unlink updates it too. An action that needs a
//   recent sign-in fails with `error.code === 'reauthentication_required'`: sign in again with
//   the session's wallet, then retry.
// - React 18 or later is a peer dependency, needed only by this entry point; server rendering
//   shows `{ session: null, account: null, loading: true }`.
import type {
  Account,
  EthereumSignInOptions,
  Eip1193Provider,
  ScopeOptions,
  Session,
  SolanaSignInOptions,
  WalletAuthClient,
  WalletAuthError,
  WalletIdentity,
  WalletStandardWallet,
} from './wallet-auth.js';

export interface WalletAuthState {
  /** The session, or null when signed out (and while it is read at first). */
  readonly session: Session | null;
  /**
   * The session's account as `loadAccount`, a link or an unlink last answered it; null before
   * the first of them, and once the session is gone or belongs to another account.
   */
  readonly account: Account | null;
  /** True while the session is read at first, and while one of the actions runs. */
  readonly loading: boolean;
  /**
   * The last action's failure (a `WalletAuthError` with its `code`, such as `user_rejected`
   * or `chain_not_allowed`; any other error as thrown), or null; cleared when an action starts.
   */
  readonly error: WalletAuthError | Error | null;
}

/**
 * The hook's value: the state and the client's actions. The actions never reject: each
 * resolves to the client's result, or to undefined when it failed (the failure is in `error`).
 */
export interface WalletAuth extends WalletAuthState {
  signInWithEthereum(provider: Eip1193Provider, opts?: EthereumSignInOptions): Promise<Session | undefined>;
  signInWithSolana(wallet: WalletStandardWallet, opts?: SolanaSignInOptions): Promise<Session | undefined>;
  logout(): Promise<void>;
  /** This wallet's sessions end, or with `{ scope: 'account' }` the whole account's. */
  logoutAll(options?: ScopeOptions): Promise<{ revoked: number } | undefined>;
  /** Reads the session from the server again (`client.session()`). */
  refresh(): Promise<Session | null | undefined>;
  /** Reads the session's account (`client.account()`) into `account`. */
  loadAccount(): Promise<Account | undefined>;
  linkEthereum(provider: Eip1193Provider, opts?: EthereumSignInOptions): Promise<Account | undefined>;
  linkSolana(wallet: WalletStandardWallet, opts?: SolanaSignInOptions): Promise<Account | undefined>;
  linkPassword(username: string, password: string): Promise<Account | undefined>;
  unlink(identity: WalletIdentity | { chain: string; address: string }): Promise<Account | undefined>;
  unlink(chain: string, address: string): Promise<Account | undefined>;
}

/**
 * The session of `client` in a React component, kept up to date (useSyncExternalStore). Pass
 * the same client on every render.
 */
export function useWalletAuth(client: WalletAuthClient): WalletAuth;
