import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { stringify as toYaml } from 'yaml';
import type { ImportResult } from '../server/control/config-sync';
import { adminCall, adminSettings, CliError, type AdminSettings } from './admin-client';
import { readConfigInput } from './config-input';
import { hasChanges, paintFor, renderPlan } from './plan-render';

const BOOLEAN_FLAGS = new Set(['json', 'yes', 'dry-run']);

/** Positional arguments and `--name value` / `--name=value` / boolean flags. */
export function parseArgs(
  args: string[],
  allowed: string[],
): { positional: string[]; flags: Record<string, string | true> } {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]!);
    if (!m) {
      positional.push(args[i]!);
      continue;
    }
    const name = m[1]!;
    if (!allowed.includes(name) && name !== 'endpoint' && name !== 'token')
      throw new CliError(`unknown flag --${name}`);
    if (BOOLEAN_FLAGS.has(name)) flags[name] = true;
    else {
      const value = m[2] ?? args[++i];
      if (value === undefined || value.startsWith('--')) throw new CliError(`--${name} needs a value`);
      flags[name] = value;
    }
  }
  return { positional, flags };
}

function oneOf<T extends string>(flag: string, value: string | true | undefined, values: T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (values as string[]).includes(value)) return value as T;
  throw new CliError(`--${flag} must be ${values.join(' or ')}`);
}

interface PlanRun {
  settings: AdminSettings;
  doc: Record<string, unknown>;
  query: string;
  result: ImportResult;
}

/** Reads the input and asks the gateway for a dry run: the plan, with nothing written. */
async function makePlan(
  args: string[],
  allowed: string[],
): Promise<PlanRun & { flags: Record<string, string | true> }> {
  const { positional, flags } = parseArgs(args, ['mode', 'tenant', ...allowed]);
  if (positional.length !== 1) throw new CliError('give one input: a config file, a directory, or a cdk.tf.json');
  const mode = oneOf('mode', flags.mode, ['merge', 'replace'], 'merge');
  const settings = adminSettings(flags);
  const { doc, notes } = readConfigInput(positional[0]!);
  for (const note of notes) process.stderr.write(`note: ${note}\n`);
  const params = new URLSearchParams({ mode });
  if (typeof flags.tenant === 'string') params.set('tenant_id', flags.tenant);
  const query = params.toString();
  const result = await adminCall<ImportResult>(settings, 'POST', `/config/import?${query}&dry_run=true`, doc);
  return { settings, doc, query, result, flags };
}

/** `portico plan <input>`: exit 0 no changes, 2 changes, 1 error (as `terraform plan -detailed-exitcode`). */
export async function planCommand(args: string[]): Promise<number> {
  const { result, flags } = await makePlan(args, ['json']);
  if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else process.stdout.write(renderPlan(result, paintFor(process.stdout)));
  return hasChanges(result) ? 2 : 0;
}

/** `portico apply <input>`: the plan, a confirmation (unless --yes), then the import in one transaction. */
export async function applyCommand(args: string[]): Promise<number> {
  const { settings, doc, query, result, flags } = await makePlan(args, ['yes']);
  const paint = paintFor(process.stdout);
  process.stdout.write(renderPlan(result, paint));
  if (!hasChanges(result)) return 0;
  if (!flags.yes) {
    if (!process.stdin.isTTY) throw new CliError('stdin is not a terminal, so apply cannot ask: pass --yes to apply');
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question('\nApply these changes? Only "yes" applies: ');
    rl.close();
    if (answer.trim() !== 'yes') {
      process.stdout.write('Apply cancelled; nothing was written.\n');
      return 1;
    }
  }
  const total = result.created.length + result.updated.length + result.deleted.length;
  const stop = progress(`Applying ${total} change${total === 1 ? '' : 's'} in one transaction`);
  let applied: ImportResult;
  try {
    applied = await adminCall<ImportResult>(settings, 'POST', `/config/import?${query}`, doc);
  } finally {
    stop();
  }
  for (const s of applied.generated_secrets)
    process.stdout.write(`${s.kind} ${s.id}: new ${s.field}, shown only now: ${s.value}\n`);
  const line = `Applied: ${applied.created.length} created, ${applied.updated.length} updated, ${applied.deleted.length} deleted.`;
  process.stdout.write(`${paint.green(line)} Audit event: ${applied.audit_event_id}\n`);
  return 0;
}

/**
 * Progress while the one atomic request runs: the server applies everything in a single transaction, so the CLI
 * shows the time elapsed (on a terminal, updated every second) rather than a per-entity count it cannot know.
 */
function progress(what: string): () => void {
  const started = Date.now();
  if (!process.stderr.isTTY) {
    process.stderr.write(`${what}...\n`);
    return () => process.stderr.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  const draw = () => process.stderr.write(`\r${what}... ${Math.round((Date.now() - started) / 1000)} s`);
  draw();
  const timer = setInterval(draw, 1000);
  return () => {
    clearInterval(timer);
    process.stderr.write(`\r${what}... done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  };
}

/** `portico export [--tenant T] [--format json|yaml] [-o file]`. */
export async function exportCommand(args: string[]): Promise<number> {
  const normalized = args.map((a) => (a === '-o' ? '--output' : a));
  const { positional, flags } = parseArgs(normalized, ['tenant', 'format', 'output']);
  if (positional.length) throw new CliError(`unexpected argument "${positional[0]}"`);
  const format = oneOf('format', flags.format, ['json', 'yaml'], 'json');
  const tenant = typeof flags.tenant === 'string' ? `?tenant_id=${encodeURIComponent(flags.tenant)}` : '';
  const doc = await adminCall<unknown>(adminSettings(flags), 'GET', `/config/export${tenant}`);
  const text = format === 'yaml' ? toYaml(doc) : JSON.stringify(doc, null, 2) + '\n';
  if (typeof flags.output === 'string') writeFileSync(flags.output, text);
  else process.stdout.write(text);
  return 0;
}

/** `portico import <file> [--mode …] [--dry-run]`: the import endpoint as is; prints its JSON answer. */
export async function importCommand(args: string[]): Promise<number> {
  const { positional, flags } = parseArgs(args, ['mode', 'tenant', 'dry-run']);
  if (positional.length !== 1) throw new CliError('give one input file (or directory)');
  const mode = oneOf('mode', flags.mode, ['merge', 'replace'], 'merge');
  const settings = adminSettings(flags);
  const { doc } = readConfigInput(positional[0]!);
  const params = new URLSearchParams({ mode, dry_run: flags['dry-run'] ? 'true' : 'false' });
  if (typeof flags.tenant === 'string') params.set('tenant_id', flags.tenant);
  const result = await adminCall<ImportResult>(settings, 'POST', `/config/import?${params}`, doc);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  return 0;
}
