// wallet-auth for React (`@wallet-auth/client/react`): the useWalletAuth hook, which keeps a
// component in step with a client's session through React's useSyncExternalStore.
//
// React is the app's own (a peer dependency, never bundled here); the package's main entry does
// not import this file, so apps without React do not need it. The package's CommonJS build
// (dist/react.cjs) is generated from this module by build-cjs.mjs. See react.d.ts for the types.
import { useMemo, useSyncExternalStore } from 'react';

// What a server render shows: the session is not known there.
const SERVER_STATE = Object.freeze({ session: null, account: null, loading: true, error: null });

// One store per client, shared by every component that uses the client: the session is read
// once, and the loading and error state of the client's actions is the same everywhere.
const stores = new WeakMap();

function storeOf(client) {
  let store = stores.get(client);
  if (!store) {
    store = createStore(client);
    stores.set(client, store);
  }
  return store;
}

function createStore(client) {
  const listeners = new Set();
  let unsubscribeClient = null; // the store's one subscription to the client, while it has listeners
  let pending = 0; // actions in progress, the first read of the session included
  let error = null;
  // The account as the last account action answered it (loadAccount, a link, an unlink).
  let account = null;
  // Whether the session was asked for already (or the client knew it when the store was made).
  let started = client.current !== null;
  let state = Object.freeze({ session: client.current, account: null, loading: !started, error: null });

  // The account shown: the one last read, while it is the current session's (none once signed
  // out, or signed in to another account).
  function currentAccount() {
    const session = client.current;
    return session && account && account.accountId === session.accountId ? account : null;
  }

  // The current state, as one object that stays the same until something changed (what
  // useSyncExternalStore requires). The session is always the client's own `current`, which
  // the client replaces only when the session changed.
  function getSnapshot() {
    const loading = pending > 0 || !started;
    const shown = currentAccount();
    if (state.session !== client.current || state.account !== shown || state.loading !== loading || state.error !== error) {
      state = Object.freeze({ session: client.current, account: shown, loading, error });
    }
    return state;
  }

  // Keeps an account an action answered.
  function keep(answer) {
    account = answer || null;
    return answer;
  }

  function emit() {
    for (const listener of [...listeners]) listener();
  }

  // Runs one of the client's actions: `loading` while it runs, its failure in `error`. Resolves
  // to the action's result, or undefined when it failed: a click handler needs no catch.
  async function run(action) {
    pending++;
    error = null;
    emit();
    try {
      return await action();
    } catch (err) {
      error = err;
      return undefined;
    } finally {
      pending--;
      emit();
    }
  }

  function subscribe(listener) {
    listeners.add(listener);
    if (!unsubscribeClient) unsubscribeClient = client.subscribe(emit);
    if (!started) {
      started = true;
      run(() => client.restore());
    }
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && unsubscribeClient) {
        unsubscribeClient();
        unsubscribeClient = null;
      }
    };
  }

  const actions = Object.freeze({
    signInWithEthereum: (provider, opts) => run(() => client.signInWithEthereum(provider, opts)),
    signInWithSolana: (wallet, opts) => run(() => client.signInWithSolana(wallet, opts)),
    logout: () => run(() => client.logout()),
    // An event handler's argument (a click event) is not options: only a scope is read from it.
    logoutAll: (opts) => run(() => client.logoutAll(opts && opts.scope ? { scope: opts.scope } : undefined)),
    refresh: () => run(() => client.session()),
    loadAccount: () => run(async () => keep(await client.account())),
    linkEthereum: (provider, opts) => run(async () => keep(await client.linkEthereum(provider, opts))),
    linkSolana: (wallet, opts) => run(async () => keep(await client.linkSolana(wallet, opts))),
    linkPassword: (username, password) => run(async () => keep(await client.linkPassword(username, password))),
    unlink: (identityOrChain, address) => run(async () => keep(await client.unlink(identityOrChain, address))),
  });

  return { subscribe, getSnapshot, actions };
}

function getServerSnapshot() {
  return SERVER_STATE;
}

/**
 * The session of a wallet-auth client (`createClient()` of '@wallet-auth/client'), kept up to
 * date in a React component: `{ session, account, loading, error, signInWithEthereum,
 * signInWithSolana, logout, logoutAll, refresh, loadAccount, linkEthereum, linkSolana,
 * linkPassword, unlink }`. `session` is null when signed out (and while it is read at first);
 * it follows this client's sign-ins and logouts and, with the client's cross-tab sync, the other
 * tabs'. `account` is the session's account as `loadAccount`, a link or an unlink last answered
 * it (null before, and once the session is gone or of another account). The actions call the
 * client's and never reject: a failure is in `error`. Pass the same client on every render
 * (create it once, outside the component).
 */
export function useWalletAuth(client) {
  if (!client || typeof client.subscribe !== 'function') {
    throw new TypeError('useWalletAuth(client): pass a client made by createClient() of @wallet-auth/client');
  }
  const store = storeOf(client);
  const state = useSyncExternalStore(store.subscribe, store.getSnapshot, getServerSnapshot);
  return useMemo(() => ({ ...state, ...store.actions }), [state, store]);
}
