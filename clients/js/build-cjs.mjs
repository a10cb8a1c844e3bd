// Generates the package's CommonJS build (dist/wallet-auth.cjs) and its types
// (dist/wallet-auth.d.cts) from the ES module, which has no imports and only top-level
// `export function|class|const` declarations: each export becomes a plain declaration and a
// property of module.exports. Any other export or import form stops the build.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const source = fs.readFileSync(path.join(dir, 'wallet-auth.js'), 'utf8');
const names = [];
const body = source.replace(
  /^export (async function\*?|function\*?|class|const|let) ([A-Za-z_$][\w$]*)/gm,
  (_, kind, name) => {
    names.push(name);
    return `${kind} ${name}`;
  },
);
const leftover = body.match(/^\s*(export|import)\b.*$/m);
if (leftover) {
  console.error(`build-cjs: unsupported module syntax: ${leftover[0]}`);
  process.exit(1);
}
if (names.length === 0) {
  console.error('build-cjs: no exports found');
  process.exit(1);
}
const out = `'use strict';\n// Generated from wallet-auth.js by build-cjs.mjs: do not edit.\n${body}\nmodule.exports = { ${names.join(', ')} };\n`;
fs.mkdirSync(path.join(dir, 'dist'), { recursive: true });
fs.writeFileSync(path.join(dir, 'dist', 'wallet-auth.cjs'), out);
fs.copyFileSync(path.join(dir, 'wallet-auth.d.ts'), path.join(dir, 'dist', 'wallet-auth.d.cts'));
console.log(`build-cjs: dist/wallet-auth.cjs (${names.join(', ')})`);
