import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { terraformBench } from './terraform';

/** `npm run bench`: runs every benchmark and rewrites bench/RESULTS.md with the figures and their peers. */
async function main(): Promise<void> {
  const tfVersion = execFileSync('terraform', ['version'], { env: { ...process.env, CHECKPOINT_DISABLE: '1' } }).toString().split('\n')[0];
  const tf = await terraformBench(200);
  const [floor, portico] = tf;
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const lines = [
    '# Benchmark results',
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${tfVersion}. Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '## Terraform provider: 200 resources',
    '',
    'Gateway on loopback (embedded PGlite), provider installed in the local mirror, default parallelism (10).',
    'The floor is the same count of built-in `terraform_data` resources: what Terraform itself costs with no provider work.',
    '',
    '| configuration | resources | apply (s) | plan with refresh (s) | destroy (s) |',
    '|---|---|---|---|---|',
    ...tf.map((r) => `| ${r.label} | ${r.resources} | ${r.applySeconds.toFixed(2)} | ${r.planSeconds.toFixed(2)} | ${r.destroySeconds.toFixed(2)} |`),
    '',
    `Portico against the floor: apply ${ratio(portico!.applySeconds, floor!.applySeconds)}, plan ${ratio(portico!.planSeconds, floor!.planSeconds)}, destroy ${ratio(portico!.destroySeconds, floor!.destroySeconds)}.`,
    '',
  ];
  writeFileSync(join(__dirname, 'RESULTS.md'), lines.join('\n'));
  process.stdout.write(lines.join('\n'));
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
