import { readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

/**
 * The installed provider's entry (start.cjs, beside the two bundles). Node 20 keeps no compiled code between runs, so
 * each start would parse about 1 MB of bundle again; this compiles our bundles with the V8 code cache written at
 * install (`<bundle>.v8cache`), which V8 checks against the source and its own version and flags, and ignores (we
 * then compile as usual) when they differ. With PORTICO_WRITE_CODE_CACHE=1 (install.ts) it writes those caches once
 * the provider has started and loaded its handlers, so they hold the functions a start runs, then stops it.
 */

interface CompiledModule {
  exports: unknown;
  require: (id: string) => unknown;
}
type Loader = (module: CompiledModule, filename: string) => void;

const here = __dirname;
const extensions = (Module as unknown as { _extensions: Record<string, Loader> })._extensions;
const plainLoader = extensions['.cjs'] ?? extensions['.js']!;
const compiled = new Map<string, Script>();
const writeCaches = process.env.PORTICO_WRITE_CODE_CACHE === '1';
const SERVICE_BUNDLE = join(here, 'provider-service.cjs');

function readCache(filename: string): Buffer | undefined {
  try {
    return readFileSync(`${filename}.v8cache`);
  } catch {
    return undefined;
  }
}

function writeAllCaches(): void {
  for (const [filename, script] of compiled) writeFileSync(`${filename}.v8cache`, script.createCachedData());
  process.kill(process.pid, 'SIGTERM'); // the plugin host's own stop: it removes its socket
}

extensions['.cjs'] = (module, filename) => {
  if (dirname(filename) !== here) return plainLoader(module, filename);
  const script = new Script(Module.wrap(readFileSync(filename, 'utf8')), {
    filename,
    cachedData: writeCaches ? undefined : readCache(filename),
  });
  compiled.set(filename, script);
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  const requireFromBundle = (id: string) => module.require(id);
  wrapper.call(module.exports, module.exports, requireFromBundle, module, filename, here);
  // The handlers' bundle comes last, just after the handshake: by then both bundles have run what a start runs.
  if (writeCaches && filename === SERVICE_BUNDLE) setImmediate(writeAllCaches);
};

require(join(here, 'provider.cjs'));
