// A tiny React app of the browser tests (browser.test.mjs bundles it with esbuild and serves it
// on the server's own origin): components that use one client through useWalletAuth.
import { StrictMode, useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { createClient } from '../wallet-auth.js';
import { useWalletAuth } from '../react.js';

const client = createClient();

// The client's listeners, counted, for the test that unmounting leaves none.
let listeners = 0;
const subscribe = client.subscribe;
client.subscribe = (listener) => {
  const off = subscribe(listener);
  listeners++;
  let on = true;
  return () => {
    if (on) listeners--;
    on = false;
    off();
  };
};
let renders = 0;

// The test's wallet-standard Solana wallet, registered by the page's test wallets.
let solanaWallet = null;
const walletApp = Object.freeze({
  register: (...wallets) => {
    solanaWallet = solanaWallet || wallets[0] || null;
    return () => {};
  },
});
window.addEventListener('wallet-standard:register-wallet', (event) => event.detail(walletApp));
window.dispatchEvent(new CustomEvent('wallet-standard:app-ready', { detail: walletApp }));

function Badge() {
  const { session } = useWalletAuth(client);
  return <p id="badge">{session ? session.address : 'nobody'}</p>;
}

function Account() {
  const { session, loading, error, signInWithEthereum, logout } = useWalletAuth(client);
  renders++;
  return (
    <main>
      <p id="state">{loading ? 'loading' : session ? 'signed-in' : 'anonymous'}</p>
      {session && <p id="address">{session.address}</p>}
      {error && <p id="error">{error.code}</p>}
      <button type="button" disabled={loading || !!session} onClick={() => signInWithEthereum(window.ethereum)}>
        Sign in
      </button>
      <button type="button" disabled={loading || !session} onClick={logout}>
        Log out
      </button>
    </main>
  );
}

// The session's account: read when the session's account changes, and after a link. Rendered
// when the page's URL asks for it (?account), so that the other tests' states are not
// interleaved with its reads.
function AccountPanel() {
  const { session, account, loadAccount, linkSolana } = useWalletAuth(client);
  const accountId = session && session.accountId;
  useEffect(() => {
    if (accountId) loadAccount();
  }, [accountId, loadAccount]);
  return (
    <section>
      {account && (
        <p id="account">
          {account.accountId} {account.identities.map((i) => i.chain).sort().join('+')}
        </p>
      )}
      <button type="button" disabled={!session || !solanaWallet} onClick={() => linkSolana(solanaWallet)}>
        Link Solana
      </button>
    </section>
  );
}

const root = createRoot(document.getElementById('root'));
root.render(
  <StrictMode>
    <Badge />
    <Account />
    {new URLSearchParams(location.search).has('account') && <AccountPanel />}
  </StrictMode>,
);

window.__app = {
  client,
  listeners: () => listeners,
  renders: () => renders,
  unmount: () => root.unmount(),
};
