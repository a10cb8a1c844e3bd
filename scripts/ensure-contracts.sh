#!/usr/bin/env bash
# Makes sure contracts/node_modules holds the npm packages pinned in contracts/package-lock.json:
# solc (the pinned Solidity compiler), @foundry-rs/anvil (a local chain; the package ships the
# binary) and @safe-global/safe-contracts (Safe 1.4.1). The contract-wallet tests start anvil
# from there, and the test suite recompiles contracts/ and compares the committed bytecode.
# Does nothing when they are present.
set -euo pipefail
cd "$(dirname "$0")/../contracts"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) anvil=node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ;;
  Linux-aarch64) anvil=node_modules/@foundry-rs/anvil-linux-arm64/bin/anvil ;;
  Darwin-arm64) anvil=node_modules/@foundry-rs/anvil-darwin-arm64/bin/anvil ;;
  Darwin-x86_64) anvil=node_modules/@foundry-rs/anvil-darwin-amd64/bin/anvil ;;
  *) anvil="" ;;
esac

if [ -n "$anvil" ] && [ -x "$anvil" ] && [ -f node_modules/solc/package.json ] \
  && [ -d node_modules/@safe-global/safe-contracts/build ]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "ensure-contracts: npm is missing; install Node.js (>= 18) and npm" >&2
  exit 1
fi

npm ci --no-audit --no-fund
if [ -n "$anvil" ]; then
  "$anvil" --version | head -1
fi
