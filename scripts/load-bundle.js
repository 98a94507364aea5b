// Runs the compiled bundle (dist/portico.cjs) with a V8 code cache beside it. Node 20 has no module compile cache
// (module.enableCompileCache is Node 22), and parsing and compiling the ~6 MB bundle is a good part of a start's
// module load. So the bundle is compiled here as Node's own loader would (the CommonJS wrapper, in this context),
// with the code V8 produced on an earlier start, and a start without a usable cache leaves one for the next: written
// once the gateway serves (`portico:serving`), so it holds the functions a start compiled, not only the top level.
const { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { basename, dirname, join } = require('node:path');
const vm = require('node:vm');

/**
 * The cache file of this very bundle: V8 only checks a cache against the source's length, so the name carries the
 * bundle file's identity (inode, mtime, size), and a rebuilt bundle never runs with the code of the one before it.
 */
function cachePath(bundle) {
  const s = statSync(bundle);
  return `${bundle}.${s.ino}-${Math.round(s.mtimeMs)}-${s.size}.cache`;
}

/**
 * Loads and runs the bundle as the module `bundle`. Returns its exports and what became of the code cache: `used`,
 * `rejected` (V8 would not take it: another Node version or flags) or `none` (a first start).
 */
function loadBundle(bundle) {
  const cacheFile = cachePath(bundle);
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined; // first start of this bundle
  }
  const script = new vm.Script(Module.wrap(readFileSync(bundle, 'utf8')), {
    filename: bundle,
    // no importModuleDynamically: Node 20 loses it on a script made from a code cache, so the bundle has no
    // import() (scripts/build-server.js turns each into a require)
    cachedData,
  });
  if (!cachedData || script.cachedDataRejected) process.once('portico:serving', () => writeCache(script, cacheFile));
  const mod = new Module(bundle, module);
  mod.filename = bundle;
  mod.paths = Module._nodeModulePaths(dirname(bundle));
  Module._cache[bundle] = mod;
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, dirname(bundle));
  mod.loaded = true;
  return { exports: mod.exports, cache: !cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'used' };
}

/** Writes the code cache aside and renames it into place; a read-only install just goes without. */
function writeCache(script, cacheFile) {
  setImmediate(() => {
    try {
      const aside = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(aside, script.createCachedData());
      renameSync(aside, cacheFile);
      // the caches of earlier builds of this bundle are of no use again
      const [dir, name] = [dirname(cacheFile), basename(cacheFile)];
      const bundleName = name.slice(0, name.lastIndexOf('.', name.length - '.cache'.length - 1));
      for (const f of readdirSync(dir))
        if (f !== name && f.startsWith(`${bundleName}.`) && f.endsWith('.cache')) rmSync(join(dir, f), { force: true });
    } catch {
      // no cache: the next start compiles the bundle again, as without one
    }
  });
}

module.exports = { loadBundle };
