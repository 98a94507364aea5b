import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * scripts/load-bundle.js: a start runs the bundle with the V8 code cache an earlier start left beside it, and a
 * rebuilt bundle never runs with the cache of the one before it. Each start here is a new Node process, as a real one.
 */
const LOADER = join(__dirname, '..', 'scripts', 'load-bundle.js');

/** Loads `bundle` in a new process, tells it it is serving, and returns what it printed: the cache and its value. */
function start(bundle: string): { cache: string; value: string } {
  const script = `const r = require(${JSON.stringify(LOADER)}).loadBundle(${JSON.stringify(bundle)});
    process.emit('portico:serving');
    setImmediate(() => setImmediate(() => console.log(JSON.stringify({ cache: r.cache, value: r.exports.value() }))));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}

describe('the compiled bundle is loaded with a V8 code cache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'portico-code-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const caches = () => readdirSync(dir).filter((f) => f.endsWith('.cache'));

  test('a first start writes the cache, the next one uses it, a rebuilt bundle does not', () => {
    const bundle = join(dir, 'bundle.cjs');
    const source = (word: string) =>
      `const path = require('node:path'); exports.value = () => ${JSON.stringify(word)} + ':' + path.basename(__filename);`;
    writeFileSync(bundle, source('first'));
    expect(start(bundle)).toEqual({ cache: 'none', value: 'first:bundle.cjs' });
    expect(caches()).toHaveLength(1);
    expect(start(bundle)).toEqual({ cache: 'used', value: 'first:bundle.cjs' });

    // same length, other code, and an mtime of its own: the old cache (V8 checks only the length) is not taken
    writeFileSync(bundle, source('other'));
    utimesSync(bundle, new Date(), new Date(Date.now() + 5000));
    expect(start(bundle)).toEqual({ cache: 'none', value: 'other:bundle.cjs' });
    expect(start(bundle)).toEqual({ cache: 'used', value: 'other:bundle.cjs' });
  });

  test('the real bundle has no import(): Node 20 has no loader for one in a script made from a code cache', () => {
    const { freshBundle } = require('../scripts/build-server.js') as { freshBundle(): string | undefined };
    const bundle = freshBundle();
    expect(bundle).toBeDefined();
    const source = readFileSync(bundle!, 'utf8');
    // a call of import(), not a method named import (`.import(`, `async import(`) nor a word ending in it
    expect(source.match(/(?<![\w$.])(?<!async )import\(/g) ?? []).toEqual([]);
  }, 120_000);
});
