// Compiles the `portico` command (cli/main.ts, the server it loads and the packages they use) to one CommonJS file,
// dist/portico.cjs, so a start loads plain JavaScript from one file: tsx transpiles each of ~300 modules on every
// start (most of a second), and even compiled, resolving and reading ~600 package files one by one cost ~150 ms.
// `npm run build:server` (run by `prepare`, so `npm ci` builds it); cli/portico.js calls `freshBundle()` and builds
// again when a source file (or the installed packages) changed since, then loads it through scripts/load-bundle.js.
const { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, 'dist');
const OUT = join(DIST, 'portico.cjs');
/** The source files the bundle was built from (esbuild's metafile inputs, our own), to tell when it is stale. */
const INPUTS = join(DIST, 'portico.inputs.json');
/** npm rewrites this on every install: a package added, removed or upgraded makes the bundle stale. */
const INSTALLED = join(ROOT, 'node_modules', '.package-lock.json');

/**
 * Packages left out of the bundle and required from node_modules as usual: PGlite finds its WebAssembly and data
 * files beside its own modules (and runs in a worker thread from server/store/dialects/pglite-worker.mjs), esbuild
 * and tsx are build tools, ioredis reads its package.json at run time, pg-native is an optional native binding.
 */
const EXTERNAL = ['@electric-sql/pglite', 'esbuild', 'tsx', 'ioredis', 'pg-native'];

/** Builds the bundle now (synchronously: the CLI waits for it before it loads it). */
function buildBundle() {
  const esbuild = require('esbuild');
  const result = esbuild.buildSync({
    absWorkingDir: ROOT,
    entryPoints: ['cli/main.ts'],
    outfile: OUT,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: EXTERNAL,
    // import() becomes require(): the bundle runs from a V8 code cache (scripts/load-bundle.js), where Node 20 has
    // no loader for an import(); every package it imports at run time (PGlite, nodemailer, esbuild) has a CommonJS build
    supported: { 'dynamic-import': false },
    // whitespace only: fewer bytes to read and parse, while names stay readable in stack traces
    minifyWhitespace: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    write: false,
  });
  mkdirSync(DIST, { recursive: true });
  // each file is written aside and renamed into place: two starts building at once never read a half-written one
  const put = (file, contents) => {
    const aside = `${file}.${process.pid}.tmp`;
    writeFileSync(aside, contents);
    renameSync(aside, file);
  };
  for (const f of result.outputFiles) if (f.path !== OUT) put(f.path, f.contents);
  put(OUT, result.outputFiles.find((f) => f.path === OUT).contents);
  removeCodeCaches();
  // the inputs last: a bundle is only taken as fresh once the list it is checked against is its own
  const ours = Object.keys(result.metafile.inputs)
    .map((p) => relative(ROOT, join(ROOT, p)))
    .filter((p) => !p.split(/[\\/]/).includes('node_modules'));
  put(INPUTS, JSON.stringify(ours));
  return OUT;
}

/** V8 code caches of earlier bundles (scripts/load-bundle.js): they belong to a bundle that is gone. */
function removeCodeCaches() {
  for (const name of readdirSync(DIST))
    if (name.startsWith('portico.cjs.') && name.endsWith('.cache')) rmSync(join(DIST, name), { force: true });
}

/** Whether the bundle exists and no file it was built from changed (or went) since: a stat per source file. */
function isFresh() {
  let built;
  let inputs;
  try {
    built = statSync(OUT).mtimeMs;
    inputs = JSON.parse(readFileSync(INPUTS, 'utf8'));
  } catch {
    return false;
  }
  for (const file of inputs) {
    const stat = statSync(join(ROOT, file), { throwIfNoEntry: false });
    if (!stat || stat.mtimeMs > built) return false;
  }
  const installed = statSync(INSTALLED, { throwIfNoEntry: false });
  return !installed || installed.mtimeMs <= built;
}

/**
 * The compiled bundle's path, built first when missing or stale; undefined when it cannot be built (esbuild
 * missing, a read-only install), and the caller falls back to tsx.
 */
function freshBundle() {
  if (isFresh()) return OUT;
  try {
    return buildBundle();
  } catch (err) {
    process.stderr.write(`portico: could not compile (${err && err.message}); running the TypeScript through tsx\n`);
    return undefined;
  }
}

module.exports = { buildBundle, freshBundle, isFresh, OUT };

if (require.main === module) buildBundle();
