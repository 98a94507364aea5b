// Compiles the `portico` command (cli/main.ts and the server it loads) to one CommonJS file, dist/portico.cjs, so a
// start loads plain JavaScript: tsx transpiles each of ~300 modules on every start, which costs most of a second.
// `npm run build:server` (run by `prepare`, so `npm ci` builds it); cli/portico.js calls `freshBundle()` and builds
// again when a source file changed since. Packages stay in node_modules (required as usual), only our code is bundled.
const { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');

const ROOT = join(__dirname, '..');
const OUT = join(ROOT, 'dist', 'portico.cjs');
/** The source files the bundle was built from (esbuild's metafile inputs), to tell when it is stale. */
const INPUTS = join(ROOT, 'dist', 'portico.inputs.json');

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
    packages: 'external',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    write: false,
  });
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  // each file is written aside and renamed into place: two starts building at once never read a half-written one
  const put = (file, contents) => {
    const aside = `${file}.${process.pid}.tmp`;
    writeFileSync(aside, contents);
    renameSync(aside, file);
  };
  for (const f of result.outputFiles) if (f.path !== OUT) put(f.path, f.contents);
  put(OUT, result.outputFiles.find((f) => f.path === OUT).contents);
  // the inputs last: a bundle is only taken as fresh once the list it is checked against is its own
  put(INPUTS, JSON.stringify(Object.keys(result.metafile.inputs).map((p) => relative(ROOT, join(ROOT, p)))));
  return OUT;
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
  return true;
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
