import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportAll, foreignKeys, seedAuditLog } from './support/audit-chain';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

const run = promisify(execFile);
const MAIN = join(__dirname, '..');

type CliRun = Promise<{ code: number; result: any }>;

/**
 * `portico audit verify` checks an export file offline, against the public key, without the server. The CLI runs
 * (a few seconds each on a busy machine) start together in beforeAll; each test checks its own.
 */
describe.each(testDialects())('audit export verified offline by the CLI (%s)', (dialect) => {
  let t: TestGateway;
  let all: any[];
  let target: any;
  const runs: Record<string, CliRun> = {};

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await seedAuditLog(t);
    const dir = mkdtempSync(join(tmpdir(), 'portico-audit-'));
    const write = (name: string, content: unknown) => (
      writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content)),
      join(dir, name)
    );
    const cli = (file: string, key: string, ...more: string[]): CliRun =>
      run('node', ['cli/portico.js', 'audit', 'verify', '--file', file, '--public-key', key, ...more], { cwd: MAIN })
        .then(
          (r) => ({ code: 0, stdout: r.stdout }),
          (e) => ({ code: e.code as number, stdout: e.stdout as string }),
        )
        .then((out) => ({ code: out.code, result: JSON.parse(out.stdout) }));
    all = await exportAll(t);
    target = all[Math.floor(all.length / 3)];
    const beta = (await t.api('GET', '/v1/admin/audit/events/export/json?tenant_id=beta')).body;
    const pem = write('key.pem', (await t.api('GET', '/v1/admin/audit/public-key')).text);
    const other = write('other.pem', foreignKeys().publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const whole = write('all.json', all);
    const gap = write(
      'gap.json',
      all.filter((e) => e.seq !== target.seq),
    );
    Object.assign(runs, {
      ok: cli(whole, pem),
      fullOk: cli(whole, pem, '--full'),
      tamperedType: cli(
        write(
          'tampered.json',
          all.map((e) => (e.seq === target.seq ? { ...e, type: 'TENANT_DELETED' } : e)),
        ),
        pem,
      ),
      wrongKey: cli(whole, other),
      partial: cli(write('beta.json', beta), pem),
      partialTampered: cli(
        write(
          'beta-tampered.json',
          beta.map((e: any) => (e.seq === 5 ? { ...e, changes: { name: { from: 'Beta', to: 'Mallory' } } } : e)),
        ),
        pem,
      ),
      fullGap: cli(gap, pem, '--full'),
      looseGap: cli(gap, pem),
    });
    await Promise.allSettled(Object.values(runs));
  }, 180_000);
  afterAll(() => t?.close());

  test('a whole export verifies, with and without --full', async () => {
    expect(await runs.ok).toEqual({ code: 0, result: { valid: true, checked: all.length, first_invalid_seq: null } });
    expect(await runs.fullOk).toEqual({
      code: 0,
      result: { valid: true, checked: all.length, first_invalid_seq: null },
    });
  });

  test('a tampered event fails at its seq', async () => {
    expect(await runs.tamperedType).toMatchObject({ code: 1, result: { valid: false, first_invalid_seq: target.seq } });
  });

  test('the wrong key fails at the first event', async () => {
    expect(await runs.wrongKey).toMatchObject({ code: 1, result: { valid: false, first_invalid_seq: 1 } });
  });

  test('a filtered export verifies event by event; a tampered one fails at its seq', async () => {
    expect(await runs.partial).toEqual({ code: 0, result: { valid: true, checked: 3, first_invalid_seq: null } });
    expect(await runs.partialTampered).toMatchObject({ code: 1, result: { valid: false, first_invalid_seq: 5 } });
  });

  // --full: the file is the whole chain, so an event taken out of it is found; without it, a gap reads as a filter
  test('with --full an event taken out is found at its seq; without it the gap reads as a filter', async () => {
    expect(await runs.fullGap).toMatchObject({ code: 1, result: { valid: false, first_invalid_seq: target.seq } });
    expect(await runs.looseGap).toMatchObject({ code: 0, result: { valid: true } });
  });
});
