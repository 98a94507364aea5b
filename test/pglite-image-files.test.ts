import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { removePgliteImage, testPgliteImage, writeTestPgliteImage } from './support/pglite-image';

/*
 * server/store/dialects/pglite-image-files.mjs: the PGlite worker writes a new data directory from the starting
 * image itself. Checked against the real image (a migrated PGlite dumped by dumpDataDir) unpacked by the system's
 * tar: the same files with the same bytes, zero tails left as holes. (The module is an ES module of the worker's:
 * it runs in a child Node process here, as in the worker.)
 */
const MODULE = join(__dirname, '..', 'server', 'store', 'dialects', 'pglite-image-files.mjs');

/** Runs writeImageFiles(image file's bytes, dir) in a new Node process; returns what it returned. */
function writeImage(imageFile: string, dir: string): boolean {
  const script = `import { readFileSync } from 'node:fs';
    import { writeImageFiles } from ${JSON.stringify(MODULE)};
    process.stdout.write(JSON.stringify(writeImageFiles(readFileSync(${JSON.stringify(imageFile)}), ${JSON.stringify(dir)})));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
}

/** Every file under `dir`, by its path relative to it. */
function filesUnder(dir: string, root = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), root) : [relative(root, join(dir, e.name))],
  );
}

describe('writing the starting image into a new data directory', () => {
  let imageFile: string;
  let scratch: string;
  let made: string | undefined;
  let reference: string;
  beforeAll(async () => {
    // the run's image (global setup), or one made here when this suite runs on its own
    imageFile = testPgliteImage() ?? (made = await writeTestPgliteImage());
    scratch = mkdtempSync(join(tmpdir(), 'portico-image-files-'));
    reference = join(scratch, 'reference');
    mkdirSync(reference);
    execFileSync('tar', ['-xf', imageFile, '-C', reference]);
  });
  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
    if (made) removePgliteImage(made);
  });

  const expectLikeReference = (dir: string) => {
    const expected = filesUnder(reference).sort();
    expect(filesUnder(dir).sort()).toEqual(expected);
    for (const file of expected)
      expect(readFileSync(join(dir, file)).equals(readFileSync(join(reference, file)))).toBe(true);
    return expected.length;
  };

  test('the files tar unpacks, byte for byte; the WAL segment mostly a hole', () => {
    const dir = join(scratch, 'plain');
    expect(writeImage(imageFile, dir)).toBe(true);
    expect(expectLikeReference(dir)).toBeGreaterThan(500);
    const [segment] = readdirSync(join(dir, 'pg_wal')).filter((f) => /^[0-9A-F]{24}$/.test(f));
    const stat = statSync(join(dir, 'pg_wal', segment!));
    expect(stat.size).toBe(16 * 1024 * 1024);
    expect(stat.blocks * 512).toBeLessThan(stat.size / 2); // not written out: the file system keeps the zeros
  });

  test('a gzipped image too; something that is no tar is left to PGlite, nothing written', () => {
    const gzipped = join(scratch, 'image.tar.gz');
    writeFileSync(gzipped, gzipSync(readFileSync(imageFile)));
    const dir = join(scratch, 'gzip');
    expect(writeImage(gzipped, dir)).toBe(true);
    expectLikeReference(dir);

    const junk = join(scratch, 'junk');
    writeFileSync(junk, 'not a tar at all'.repeat(100));
    expect(writeImage(junk, join(scratch, 'none'))).toBe(false);
    expect(readdirSync(scratch)).not.toContain('none');
  });
});
