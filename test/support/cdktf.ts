import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TerraformGateway } from './terraform';

/** Running commands as a CDKTF user would: the cdktf CLI (or any program) with colours stripped from its output. */

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
export const CDKTF = join(ROOT, 'node_modules', '.bin', 'cdktf');
export const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

export interface CommandResult {
  code: number;
  /** stdout then stderr, with ANSI colour codes removed. */
  out: string;
}

const stripColours = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

/** Runs `file` in `cwd`; a failure is a result with its exit code, not a throw. */
export async function exec(
  file: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, out: stripColours(stdout + stderr) };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: stripColours(`${e.stdout ?? ''}${e.stderr ?? ''}`) };
  }
}

/**
 * The environment of a user's shell with nothing but HOME (where the provider is installed) and the provider's
 * endpoint and token set: what the plain `cdktf deploy` / `diff` / `destroy` suites run with.
 */
export function cdktfEnv(home: string, gateway: TerraformGateway): Record<string, string> {
  return {
    PATH: process.env.PATH!,
    HOME: home,
    CHECKPOINT_DISABLE: '1',
    CI: '1',
    FORCE_COLOR: '0',
    PORTICO_ENDPOINT: gateway.url,
    PORTICO_TOKEN: gateway.token,
  };
}
