// Bundles the dashboard (src/index.jsx with Preact, src/style.css) into <outdir>/dashboard.js and
// <outdir>/dashboard.css, and writes <outdir>/operations.json: the dashboard's GraphQL
// operations as `{ "<sha256>": "<query>" }`, the allow-list format of CDTG_PERSISTED_OPERATIONS.
// No source maps, no outside URLs.
//
//   node build.mjs --outdir <dir> [--node-modules <dir>]
//
// api/build.rs runs it with the node_modules that `npm ci` installed into a cache outside the
// repository; run by hand (`npm ci && npm run build`) it uses ./node_modules.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { OPERATIONS } from './src/operations.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
function option(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? path.resolve(args[i + 1]) : fallback;
}
const outdir = option('--outdir', path.join(here, 'dist'));
const nodeModules = option('--node-modules', path.join(here, 'node_modules'));

const require = createRequire(path.join(nodeModules, 'noop.js'));
const esbuild = require('esbuild');

// The operations with their hashes, computed once here: the browser never hashes anything (so
// the page also works on plain http, where crypto.subtle is unavailable).
const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex');
const operations = Object.fromEntries(
  Object.entries(OPERATIONS).map(([name, query]) => [name, { query, hash: sha256(query) }]),
);
const operationsPlugin = {
  name: 'cdtg-operations',
  setup(build) {
    build.onResolve({ filter: /^cdtg:operations$/ }, () => ({
      path: 'operations',
      namespace: 'cdtg',
    }));
    build.onLoad({ filter: /.*/, namespace: 'cdtg' }, () => ({
      contents: `export default ${JSON.stringify(operations)};`,
      loader: 'js',
    }));
  },
};

const result = await esbuild.build({
  entryPoints: { dashboard: path.join(here, 'src', 'index.jsx') },
  outdir,
  bundle: true,
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  format: 'iife',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  nodePaths: [nodeModules],
  plugins: [operationsPlugin],
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
  metafile: true,
});

writeFileSync(
  path.join(outdir, 'operations.json'),
  `${JSON.stringify(Object.fromEntries(Object.values(operations).map((o) => [o.hash, o.query])), null, 2)}\n`,
);

const css = readFileSync(path.join(outdir, 'dashboard.css'), 'utf8');
if (/@import|url\(/i.test(css)) {
  console.error('dashboard.css loads something: no @import or url() allowed');
  process.exit(1);
}
const outputs = Object.keys(result.metafile.outputs).map((file) => {
  const body = readFileSync(file);
  return `${path.relative(outdir, file)} ${(body.length / 1024).toFixed(1)} KiB (${(gzipSync(body, { level: 9 }).length / 1024).toFixed(1)} KiB gzipped)`;
});
console.log(`built ${outputs.join(', ')} and ${Object.keys(operations).length} operations in ${outdir}`);
