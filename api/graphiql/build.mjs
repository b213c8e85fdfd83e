// Bundles src/index.jsx (GraphiQL, React, graphql-ws, their CSS and fonts) into
// <outdir>/graphiql.js and <outdir>/graphiql.css: no source maps, no outside URLs.
//
//   node build.mjs --outdir <dir> [--node-modules <dir>]
//
// api/build.rs runs it with the node_modules that `npm ci` installed into a cache outside the
// repository; run by hand (`npm ci && npm run build`) it uses ./node_modules.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
function option(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? path.resolve(args[i + 1]) : fallback;
}
const outdir = option('--outdir', path.join(here, 'dist'));
const nodeModules = option('--node-modules', path.join(here, 'node_modules'));

// esbuild lives in the (possibly external) node_modules, not next to this file.
const require = createRequire(path.join(nodeModules, 'noop.js'));
const esbuild = require('esbuild');

const result = await esbuild.build({
  entryPoints: { graphiql: path.join(here, 'src', 'index.jsx') },
  outdir,
  bundle: true,
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  format: 'iife',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  nodePaths: [nodeModules],
  define: { 'process.env.NODE_ENV': '"production"' },
  // Fonts and images end up inside the CSS: nothing is fetched from anywhere else.
  loader: {
    '.woff': 'dataurl',
    '.woff2': 'dataurl',
    '.ttf': 'dataurl',
    '.eot': 'dataurl',
    '.svg': 'dataurl',
    '.png': 'dataurl',
  },
  logLevel: 'warning',
  metafile: true,
});

// Refuse a bundle that would load anything from another host: @import of a remote stylesheet,
// url(http…) in CSS, or a script/style/font URL in JS.
const css = readFileSync(path.join(outdir, 'graphiql.css'), 'utf8');
const remoteCss = css.match(/@import|url\(\s*['"]?(https?:)?\/\//gi);
if (remoteCss) {
  console.error(`graphiql.css refers to another host: ${remoteCss.join(', ')}`);
  process.exit(1);
}
const outputs = Object.entries(result.metafile.outputs).map(
  ([file, meta]) => `${path.relative(outdir, file)} ${(meta.bytes / 1024).toFixed(0)} KiB`,
);
console.log(`built ${outputs.join(', ')} in ${outdir}`);
