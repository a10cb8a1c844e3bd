#!/usr/bin/env node
// Compiles the Solidity sources with the pinned solc (package.json) and writes, for each
// contract, its creation code as one line of hex in out/<Contract>.hex, plus out/compiler.json
// (compiler version and settings). With --check, compiles and compares with the committed
// files instead, exiting 1 on any difference: the committed bytecode is the one the sources
// give.
//
// src/SignatureCheck.sol is the validator the server runs through `eth_call`;
// test/TestWallets.sol holds wallets used only by the tests.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const ROOT = __dirname;
const OUT = path.join(ROOT, 'out');
const SOURCES = ['src/SignatureCheck.sol', 'test/TestWallets.sol'];
const CONTRACTS = {
  'src/SignatureCheck.sol': ['SignatureCheck'],
  'test/TestWallets.sol': ['OwnedWallet', 'OwnedWalletFactory'],
};
const EXPECTED_VERSION = require('./package.json').devDependencies.solc;

// "paris": no PUSH0 or later opcodes, so the validator runs on every EVM chain, including
// L2s that lag behind mainnet's hard forks. No metadata hash: the bytecode depends on the
// code, not on comments or file paths.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'paris',
  metadata: { bytecodeHash: 'none', appendCBOR: false },
  outputSelection: { '*': { '*': ['evm.bytecode.object'] } },
};

function compile() {
  const version = solc.version();
  if (!version.startsWith(EXPECTED_VERSION + '+')) {
    throw new Error(`solc ${version} is installed; package.json pins ${EXPECTED_VERSION} (run npm ci in contracts/)`);
  }
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(
      SOURCES.map((s) => [s, { content: fs.readFileSync(path.join(ROOT, s), 'utf8') }]),
    ),
    settings: SETTINGS,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = (output.errors || []).filter((e) => e.severity !== 'info');
  for (const e of problems) console.error(e.formattedMessage);
  if (problems.some((e) => e.severity === 'error')) throw new Error('compilation failed');
  if (problems.length > 0) throw new Error('compilation has warnings');
  const files = {};
  for (const [source, names] of Object.entries(CONTRACTS)) {
    for (const name of names) {
      const object = output.contracts[source][name].evm.bytecode.object;
      if (!object) throw new Error(`${name}: no bytecode`);
      files[`${name}.hex`] = `${object}\n`;
    }
  }
  files['compiler.json'] =
    JSON.stringify({ solc: version, settings: { ...SETTINGS, outputSelection: undefined } }, null, 2) + '\n';
  return files;
}

function main() {
  const check = process.argv.includes('--check');
  const files = compile();
  if (!check) {
    fs.mkdirSync(OUT, { recursive: true });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(OUT, name), text);
    console.log(`wrote ${Object.keys(files).map((f) => 'out/' + f).join(', ')}`);
    return;
  }
  let differ = 0;
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(OUT, name);
    const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (committed !== text) {
      console.error(`out/${name} differs from what the sources compile to (run: node contracts/build.js)`);
      differ++;
    }
  }
  if (differ > 0) process.exit(1);
  console.log(`contracts: ${Object.keys(files).length} files match the sources`);
}

try {
  main();
} catch (e) {
  console.error(`contracts/build.js: ${e.message}`);
  process.exit(1);
}
