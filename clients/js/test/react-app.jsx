// A tiny React app of the browser tests (browser.test.mjs bundles it with esbuild and serves it
// on the server's own origin): two components that use one client through useWalletAuth.
import { StrictMode } from 'react';
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

const root = createRoot(document.getElementById('root'));
root.render(
  <StrictMode>
    <Badge />
    <Account />
  </StrictMode>,
);

window.__app = {
  client,
  listeners: () => listeners,
  renders: () => renders,
  unmount: () => root.unmount(),
};
