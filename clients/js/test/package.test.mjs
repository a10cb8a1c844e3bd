// The npm package as a consumer sees it: `npm pack`, installed into fresh ESM and CommonJS
// projects in a temporary directory, each importing the package and calling the real server;
// and its React entry point in fresh ESM and CommonJS projects that have React.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BASE_URL } from './wallets.mjs';

const TEST_DIR = path.dirname(fileURLToPath(import.meta.url));
const PKG_DIR = path.resolve(TEST_DIR, '..');
const ARTIFACTS = process.env.ARTIFACTS_DIR || path.resolve(PKG_DIR, '../../test-artifacts');
let tmp;
let tarball;
let reactTarballs; // react, react-dom and scheduler, packed from the tests' own pinned copies

const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 });

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wallet-auth-consumer-'));
  const out = run('npm', ['pack', '--json', '--pack-destination', tmp], PKG_DIR);
  const [info] = JSON.parse(out.slice(out.indexOf('[')));
  tarball = path.join(tmp, info.filename);
  assert.equal(info.name, '@wallet-auth/client');
  const files = info.files.map((f) => f.path).sort();
  assert.deepEqual(files, [
    'dist/react.cjs',
    'dist/react.d.cts',
    'dist/wallet-auth.cjs',
    'dist/wallet-auth.d.cts',
    'package.json',
    'react.d.ts',
    'react.js',
    'wallet-auth.d.ts',
    'wallet-auth.js',
  ]);
  // React is the app's: a peer dependency that apps without React need not install, not a
  // dependency, and not bundled.
  const manifest = JSON.parse(fs.readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8'));
  assert.equal(manifest.dependencies, undefined);
  assert.ok(manifest.peerDependencies.react);
  assert.deepEqual(manifest.peerDependenciesMeta, { react: { optional: true } });
  assert.ok(info.size < 40000, `the package is ${info.size} bytes packed`);
  reactTarballs = ['react', 'react-dom', 'scheduler'].map((name) => {
    const packed = run('npm', ['pack', '--json', '--pack-destination', tmp, path.join(TEST_DIR, 'node_modules', name)], tmp);
    return path.join(tmp, JSON.parse(packed.slice(packed.indexOf('[')))[0].filename);
  });
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// A new project of the given module type with the packed tarball installed, and `withReact`
// React too (no registry: the package has no dependencies, and React comes packed).
function consumer(name, type, file, source, { withReact = false } = {}) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', private: true, type }, null, 2),
  );
  const packages = withReact ? [tarball, ...reactTarballs] : [tarball];
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', ...packages], dir);
  // Without React, the optional peer dependency is not installed.
  assert.equal(fs.existsSync(path.join(dir, 'node_modules', 'react')), withReact);
  fs.writeFileSync(path.join(dir, file), source);
  const output = run(process.execPath, [file], dir);
  fs.appendFileSync(path.join(ARTIFACTS, 'consumer-import.txt'), `$ node ${file}   # ${type} project\n${output}\n`);
  return JSON.parse(output);
}

// The consumer's program: imports the client, asks the server for a nonce through it, and
// reports what it saw.
const program = (importLine) => `${importLine}
const client = createClient({ baseUrl: process.env.WALLET_AUTH_URL });
const res = await client.fetch('/auth/nonce', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ chain: 'solana' }),
});
const body = await res.json();
console.log(JSON.stringify({
  exports: Object.keys(pkg).sort(),
  status: res.status,
  nonce: body.nonce,
  domain: body.domain,
  session: await client.session(),
  device: deviceName('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36'),
  error: new WalletAuthError('x', 'y') instanceof Error,
}));
`;

const EXPORTS = [
  'WalletAuthError',
  'base58Encode',
  'createClient',
  'deviceName',
  'discoverEthereumWallets',
  'isUserRejection',
  'watchEthereumWallets',
];

function check(out) {
  assert.deepEqual(out.exports, EXPORTS);
  assert.equal(out.status, 200);
  assert.match(out.nonce, /^[A-Za-z0-9]{8,}$/);
  assert.equal(out.domain, new URL(BASE_URL).host);
  assert.equal(out.session, null);
  assert.equal(out.device, 'Chrome on macOS');
  assert.equal(out.error, true);
}

test('an ES module project imports the package and calls the server', () => {
  process.env.WALLET_AUTH_URL = BASE_URL;
  const src = program(
    "import * as pkg from '@wallet-auth/client';\nimport { createClient, deviceName, WalletAuthError } from '@wallet-auth/client';",
  );
  check(consumer('esm-consumer', 'module', 'index.mjs', src));
});

test('a CommonJS project require()s the package and calls the server', () => {
  process.env.WALLET_AUTH_URL = BASE_URL;
  const src = `(async () => {\n${program(
    "const pkg = require('@wallet-auth/client');\nconst { createClient, deviceName, WalletAuthError } = pkg;",
  )}})().catch((e) => { console.error(e); process.exit(1); });\n`;
  const out = consumer('cjs-consumer', 'commonjs', 'index.js', src);
  check(out);
  // require() got the CommonJS build, not the ES module.
  const resolved = run(process.execPath, ['-p', "require.resolve('@wallet-auth/client')"], path.join(tmp, 'cjs-consumer'));
  assert.match(resolved.trim(), /dist[\\/]wallet-auth\.cjs$/);
});

// The consumer's React program: imports the hook, renders a component that uses it on the
// server (react-dom/server: the session is not known there) and reports what it saw. One React
// for the app and the package, or the hook would throw.
const reactProgram = (importLines) => `${importLines}
const client = createClient({ baseUrl: process.env.WALLET_AUTH_URL });
function Account() {
  const auth = useWalletAuth(client);
  return createElement('p', null, auth.loading ? 'loading' : auth.session ? auth.session.address : 'anonymous',
    ' ', Object.keys(auth).sort().join(','));
}
let misuse = null;
try {
  renderToString(createElement(function Bad() { useWalletAuth({}); return null; }));
} catch (e) {
  misuse = e.constructor.name;
}
console.log(JSON.stringify({
  exports: Object.keys(hook).sort(),
  html: renderToString(createElement(Account)),
  session: await client.session(),
  misuse,
}));
`;

function checkReact(out) {
  assert.deepEqual(out.exports, ['useWalletAuth']);
  assert.equal(
    out.html,
    '<p>loading<!-- --> <!-- -->account,error,linkEthereum,linkPassword,linkSolana,loadAccount,loading,logout,logoutAll,refresh,session,signInWithEthereum,signInWithSolana,unlink</p>',
  );
  assert.equal(out.session, null);
  assert.equal(out.misuse, 'TypeError');
}

test('an ES module project with React imports @wallet-auth/client/react', () => {
  process.env.WALLET_AUTH_URL = BASE_URL;
  const src = reactProgram(`import * as hook from '@wallet-auth/client/react';
import { useWalletAuth } from '@wallet-auth/client/react';
import { createClient } from '@wallet-auth/client';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';`);
  checkReact(consumer('esm-react-consumer', 'module', 'index.mjs', src, { withReact: true }));
});

test('a CommonJS project with React require()s @wallet-auth/client/react', () => {
  process.env.WALLET_AUTH_URL = BASE_URL;
  const src = `(async () => {\n${reactProgram(`const hook = require('@wallet-auth/client/react');
const { useWalletAuth } = hook;
const { createClient } = require('@wallet-auth/client');
const { createElement } = require('react');
const { renderToString } = require('react-dom/server');`)}})().catch((e) => { console.error(e); process.exit(1); });\n`;
  checkReact(consumer('cjs-react-consumer', 'commonjs', 'index.js', src, { withReact: true }));
  const dir = path.join(tmp, 'cjs-react-consumer');
  const resolved = run(process.execPath, ['-p', "require.resolve('@wallet-auth/client/react')"], dir);
  assert.match(resolved.trim(), /dist[\\/]react\.cjs$/);
});
