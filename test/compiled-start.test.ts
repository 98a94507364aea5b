import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { once } from 'node:events';

/*
 * `npm ci && npm start` as a fresh clone meets it: the package's tracked files in a new directory (node_modules
 * linked, nothing built), `portico pglite-image` (the last step of `prepare`), then `portico serve` on a new data
 * directory. The start must run the compiled bundle, report its start-up times, and load the shipped database image
 * rather than run initdb (told by a marker table put into the image here).
 */
const ROOT = join(__dirname, '..');

function freshCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portico-clone-'));
  const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).split('\0');
  for (const file of tracked) {
    // (node_modules: a worktree's may be a symlink, which git lists as an untracked file; it is linked below)
    if (!file || file.startsWith('dist/') || file === 'node_modules' || !existsSync(join(ROOT, file))) continue;
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(ROOT, file), join(dir, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** Runs `portico serve` in `dir` until its "serving" log line, which it returns. */
async function serve(dir: string, dataDir: string): Promise<{ child: ChildProcess; line: any }> {
  const child = spawn(process.execPath, ['cli/portico.js', 'serve'], {
    cwd: dir,
    env: {
      ...process.env,
      PORTICO_TSX: '',
      PORTICO_DATA_DIR: dataDir,
      PORTICO_DATABASE_URL: '',
      DATABASE_URL: '',
      PORTICO_ADMIN_PORT: '0',
      PORTICO_DATA_PORT: '0',
      PORTICO_ADMIN_TOKEN: 'pt_compiled_start_owner_token_0123456789',
      PORTICO_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const line = await new Promise<any>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      for (const text of out.split('\n')) {
        if (!text.includes('portico is serving')) continue;
        resolve(JSON.parse(text));
        return;
      }
    });
    child.on('exit', (code) => reject(new Error(`portico exited (${code}) before serving:\n${out}\n${err}`)));
  });
  return { child, line };
}

describe('compiled start from a fresh copy of the package', () => {
  let dir: string;
  beforeAll(() => {
    dir = freshCopy();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the published package holds every file `portico` loads before the bundle', () => {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' }),
    ) as { files: { path: string }[] }[];
    const files = new Set(packed!.files.map((f) => f.path));
    const entry = readFileSync(join(ROOT, 'cli/portico.js'), 'utf8');
    const local = [...entry.matchAll(/require\('(\.\.?\/[^']+)'\)/g)].map((m) => join('cli', m[1]!));
    expect(local).toEqual(expect.arrayContaining(['scripts/build-server.js', 'scripts/load-bundle.js']));
    for (const file of local) expect(files).toContain(file);
  });

  test('builds the bundle, starts from the shipped database image, runs compiled JavaScript', async () => {
    expect(existsSync(join(dir, 'dist'))).toBe(false);
    execFileSync(process.execPath, ['cli/portico.js', 'pglite-image'], {
      cwd: dir,
      env: { ...process.env, PORTICO_TSX: '' },
    });
    const image = join(dir, 'dist', 'pglite-image.tar');
    expect(existsSync(join(dir, 'dist', 'portico.cjs'))).toBe(true);
    expect(existsSync(image)).toBe(true);

    // mark the image, so a start that loads it is told apart from one that ran initdb
    const { PGlite } = await import('@electric-sql/pglite');
    const marking = await PGlite.create({ loadDataDir: new Blob([readFileSync(image)]) });
    await marking.exec(`create table image_marker (note text); insert into image_marker values ('shipped')`);
    writeFileSync(image, Buffer.from(await (await marking.dumpDataDir('none')).arrayBuffer()));
    await marking.close();

    const dataDir = join(dir, 'data');
    const { child, line } = await serve(dir, dataDir);
    try {
      expect(line.runtime).toBe('compiled');
      expect(line.database).toBe('pglite');
      expect(line.startup_ms.modules).toBeGreaterThan(0);
      expect(line.startup_ms.total).toBeGreaterThanOrEqual(line.startup_ms.modules);
      const ready = await fetch(`${line.admin}/health/ready`);
      expect(ready.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    const started = await PGlite.create({ dataDir });
    const marker = await started.query<{ note: string }>('select note from image_marker');
    expect(marker.rows).toEqual([{ note: 'shipped' }]);
    // and the gateway's own tables are there and migrated on top of it
    const migrated = await started.query<{ n: number }>('select count(*)::int as n from kysely_migration');
    expect(migrated.rows[0]!.n).toBeGreaterThan(5);
    await started.close();
  }, 180_000);
});
