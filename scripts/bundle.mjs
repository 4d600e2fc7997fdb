#!/usr/bin/env node
// Build step: the single-file builds, every dependency bundled by esbuild and the files the package
// ships (policies/, dist/trusted_root.json, the version) embedded (src/embedded.ts), so each runs
// with no node_modules and no file beside it.
//   dist/kamal-gate.mjs       ES module, what the package's `kamal-gate` command runs; also usable
//                             on its own: `node kamal-gate.mjs verify`
//   dist/sea/kamal-gate.cjs   with --sea: CommonJS, the script scripts/build-binary.mjs embeds in
//                             the standalone executable (Node's single executable applications
//                             run CommonJS and load only built-in modules)
// Run after `tsc` and scripts/trusted-root.mjs (it embeds dist/trusted_root.json).
import { mkdirSync, readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const sea = process.argv.includes('--sea');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const files = { 'package.json': `${JSON.stringify({ name: pkg.name, version: pkg.version })}\n` };
for (const name of ['policies/baseline.yml', 'policies/strict.yml', 'policies/starter.yml', 'policies/schema.json', 'dist/trusted_root.json']) {
  files[name] = readFileSync(join(root, name), 'utf8');
}
// The shipped policies also as tsc's build (dist/policy/parse.js) compiles them, under the name a run
// shows them by: a run under one then parses nothing (src/policy/load.ts). They name no file, so the
// folder they are compiled in is not in them; a build where it is would embed this machine's path.
const { parsePolicy } = await import(pathToFileURL(join(root, 'dist', 'policy', 'parse.js')).href);
for (const name of ['baseline', 'strict']) {
  const compiled = JSON.stringify(parsePolicy(files[`policies/${name}.yml`], `built-in policies/${name}.yml`, { dir: join(root, 'policies'), exists: () => false }));
  if (compiled.includes(root)) throw new Error(`policies/${name}.yml compiles to something naming ${root}: it cannot be embedded precompiled`);
  files[`policies/${name}.compiled.json`] = compiled;
}

/** Replaces src/embedded.ts with the files' text, BUNDLED = true and, for the binary, STANDALONE = true. */
const embed = {
  name: 'kamal-gate-embedded',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]embedded\.ts$/ }, () => ({
      contents: `export const EMBEDDED = ${JSON.stringify(files)};\nexport const BUNDLED = true;\nexport const STANDALONE = ${sea};\n`,
      loader: 'js',
    }));
  },
};

/**
 * Built-in modules through require(), not ES imports. An ES import of a built-in makes Node build
 * its ES facade, which reads every export, and reading node:http's exports loads Node's own copy of
 * undici (about 30 ms of every run, for a module only `drift --watch` uses). require() reads only
 * what the code uses. The ES bundle's banner gives it a require(); the binary's is CommonJS already.
 */
const builtinsByRequire = {
  name: 'kamal-gate-builtins-by-require',
  setup(b) {
    const names = builtinModules.map((m) => m.replace(/[/]/g, '\\/')).join('|');
    b.onResolve({ filter: new RegExp(`^(node:)?(${names})$`) }, (args) => (args.kind === 'import-statement' ? { path: args.path, namespace: 'kamal-gate-builtin' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'kamal-gate-builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});\n`, loader: 'js' }));
  },
};

/**
 * undici's HTTP/2 client module loads node:http2 (about 30 ms) as undici loads, for ten constants;
 * it connects over HTTP/2 only when a dispatcher is made with allowH2, which kamal-gate never does.
 * Here it gets those constants (read from this Node at build time) and a connect() that loads
 * node:http2 when called.
 */
const http2Constants = [
  'HTTP2_HEADER_AUTHORITY',
  'HTTP2_HEADER_METHOD',
  'HTTP2_HEADER_PATH',
  'HTTP2_HEADER_SCHEME',
  'HTTP2_HEADER_CONTENT_LENGTH',
  'HTTP2_HEADER_EXPECT',
  'HTTP2_HEADER_STATUS',
  'HTTP2_HEADER_PROTOCOL',
  'NGHTTP2_REFUSED_STREAM',
  'NGHTTP2_CANCEL',
];
const lazyHttp2ForUndici = {
  name: 'kamal-gate-lazy-http2-for-undici',
  setup(b) {
    b.onResolve({ filter: /^node:http2$/ }, (args) =>
      /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js$/.test(args.importer) ? { path: 'http2', namespace: 'kamal-gate-lazy-http2' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'kamal-gate-lazy-http2' }, () => {
      const real = createRequire(import.meta.url)('node:http2').constants;
      const constants = Object.fromEntries(http2Constants.map((k) => [k, real[k]]));
      return { contents: `module.exports = { constants: ${JSON.stringify(constants)}, connect: (...args) => require('node:http2').connect(...args) };\n`, loader: 'js' };
    });
  },
};

const out = sea ? join(root, 'dist', 'sea', 'kamal-gate.cjs') : join(root, 'dist', 'kamal-gate.mjs');
mkdirSync(dirname(out), { recursive: true });
const result = await build({
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20.18',
  outfile: out,
  // pg's optional native binding: loaded only on request (NODE_PG_FORCE_NATIVE, pg.native); the pure-JS client is used.
  external: ['pg-native'],
  plugins: [embed, lazyHttp2ForUndici, builtinsByRequire],
  legalComments: 'eof',
  minify: true,
  keepNames: true,
  metafile: true,
  logLevel: 'warning',
  ...(sea
    ? {
        // CommonJS, no top-level await: a small entry instead of src/cli.ts. import.meta.url (used to find
        // files beside the module, all embedded here) becomes the executable's own URL.
        format: 'cjs',
        stdin: {
          contents:
            "import { commandProcessFlags, exitWhenWritten } from './src/cli/io.ts';\nimport { main } from './src/cli/main.ts';\ncommandProcessFlags();\nmain(process.argv).then(exitWhenWritten, () => exitWhenWritten(3));\n",
          resolveDir: root,
          sourcefile: 'sea-entry.ts',
          loader: 'ts',
        },
        define: { 'import.meta.url': '__kgModuleUrl' },
        banner: { js: "const __kgModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
      }
    : {
        format: 'esm',
        entryPoints: ['src/cli.ts'],
        // CommonJS dependencies call require() for built-in modules: give the ES module one.
        banner: { js: "import { createRequire as __kgCreateRequire } from 'node:module';\nconst require = __kgCreateRequire(import.meta.url);" },
      }),
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`${out.slice(root.length + 1)}: ${(bytes / 1024 / 1024).toFixed(1)} MiB, ${Object.keys(result.metafile.inputs).length} modules`);
