// Generates the package's CommonJS build (dist/*.cjs) and its types (dist/*.d.cts) from its ES
// modules: the main entry (wallet-auth.js) and the React entry (react.js). A module may hold
// only top-level `export function|class|const` declarations and named imports
// (`import { a, b as c } from 'x';`): each export becomes a plain declaration and a property of
// module.exports, each import a require() (a relative `./m.js` becomes `./m.cjs`). Any other
// export or import form stops the build.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const ENTRIES = ['wallet-auth', 'react'];

// './m.js' -> './m.cjs', for the CommonJS build's own modules; package names stay.
const cjsSpecifier = (spec) => (spec.startsWith('.') ? spec.replace(/\.js$/, '.cjs') : spec);

function fail(message) {
  console.error(`build-cjs: ${message}`);
  process.exit(1);
}

function build(entry) {
  const file = `${entry}.js`;
  const source = fs.readFileSync(path.join(dir, file), 'utf8');
  const names = [];
  const body = source
    .replace(/^import \{([^}]*)\} from '([^']+)';$/gm, (_, list, spec) => {
      const bindings = list
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean)
        .map((b) => {
          const m = b.match(/^([A-Za-z_$][\w$]*)(?: as ([A-Za-z_$][\w$]*))?$/);
          if (!m) fail(`${file}: unsupported import binding: ${b}`);
          return m[2] ? `${m[1]}: ${m[2]}` : m[1];
        });
      return `const { ${bindings.join(', ')} } = require('${cjsSpecifier(spec)}');`;
    })
    .replace(/^export (async function\*?|function\*?|class|const|let) ([A-Za-z_$][\w$]*)/gm, (_, kind, name) => {
      names.push(name);
      return `${kind} ${name}`;
    });
  const leftover = body.match(/^\s*(export|import)\b.*$/m);
  if (leftover) fail(`${file}: unsupported module syntax: ${leftover[0]}`);
  if (names.length === 0) fail(`${file}: no exports found`);
  const header = `'use strict';\n// Generated from ${file} by build-cjs.mjs: do not edit.\n`;
  const out = `${header}${body}\nmodule.exports = { ${names.join(', ')} };\n`;
  fs.writeFileSync(path.join(dir, 'dist', `${entry}.cjs`), out);
  // The types: the same declarations, importing the CommonJS build's types of the other modules.
  const types = fs
    .readFileSync(path.join(dir, `${entry}.d.ts`), 'utf8')
    .replace(/(\bfrom ')(\.[^']*)(')/g, (_, a, spec, b) => a + cjsSpecifier(spec) + b);
  fs.writeFileSync(path.join(dir, 'dist', `${entry}.d.cts`), types);
  console.log(`build-cjs: dist/${entry}.cjs (${names.join(', ')})`);
}

fs.mkdirSync(path.join(dir, 'dist'), { recursive: true });
for (const entry of ENTRIES) build(entry);
