// The npm package as a consumer sees it: `npm pack`, installed into fresh ESM and CommonJS
// projects in a temporary directory, each importing the package and calling the real server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BASE_URL } from './wallets.mjs';

const PKG_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ARTIFACTS = process.env.ARTIFACTS_DIR || path.resolve(PKG_DIR, '../../test-artifacts');
let tmp;
let tarball;

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
    'dist/wallet-auth.cjs',
    'dist/wallet-auth.d.cts',
    'package.json',
    'wallet-auth.d.ts',
    'wallet-auth.js',
  ]);
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// A new project of the given module type with the packed tarball installed (no registry: the
// package has no dependencies).
function consumer(name, type, file, source) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', private: true, type }, null, 2),
  );
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], dir);
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
