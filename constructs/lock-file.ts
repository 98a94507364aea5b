import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The dependency lock file for the locally installed portico provider. cdktf runs `terraform providers lock` (which
 * asks the public registry, where portico/portico is not) for a stack whose directory has no `.terraform.lock.hcl`
 * naming every required provider; with this one written at synth it skips that, and `terraform init` checks the
 * installed package against the hash and goes on offline.
 */

export const LOCK_FILE = '.terraform.lock.hcl';
const PROVIDER_ADDRESS = 'registry.terraform.io/portico/portico';

/** Terraform's platform name for this machine (`linux_amd64`); provider/install.ts's own, which the package lacks. */
function platform(): string {
  const arch = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm' }[process.arch as string] ?? process.arch;
  return `${process.platform}_${arch}`;
}

/** Every file under `dir`, as `/`-separated paths relative to it; a symlink counts as a file, as Go's Walk has it. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix)).flatMap((name) => {
    const rel = prefix ? `${prefix}/${name}` : name;
    return lstatSync(join(dir, rel)).isDirectory() ? filesUnder(dir, rel) : [rel];
  });
}

/**
 * Terraform's `h1:` hash of an unpacked provider package (Go's dirhash.Hash1): the SHA-256 of the lines
 * "<sha256 hex of the file>  <relative path>\n", one per file, sorted by path, in base64.
 */
export function packageHashV1(dir: string): string {
  const summary = createHash('sha256');
  for (const file of filesUnder(dir).sort()) {
    const fileHash = createHash('sha256')
      .update(readFileSync(join(dir, file)))
      .digest('hex');
    summary.update(`${fileHash}  ${file}\n`);
  }
  return `h1:${summary.digest('base64')}`;
}

/** Terraform's implied local mirror directories under `home` ($HOME, as Terraform reads it), in its search order. */
function mirrorDirectories(home: string): string[] {
  const dataHome = process.env.XDG_DATA_HOME || join(home, '.local', 'share');
  const dataDirs = (process.env.XDG_DATA_DIRS || '/usr/local/share/:/usr/share/').split(':').filter(Boolean);
  return [
    join(home, '.terraform.d', 'plugins'),
    ...[dataHome, ...dataDirs].map((d) => join(d, 'terraform', 'plugins')),
  ];
}

const versionParts = (v: string) => v.split(/[.+-]/).map((p) => Number(p) || 0);
function newerFirst(a: string, b: string): number {
  const [x, y] = [versionParts(a), versionParts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++)
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (y[i] ?? 0) - (x[i] ?? 0);
  return 0;
}

export interface InstalledProvider {
  version: string;
  dir: string;
}

/** The newest portico provider `npx portico provider install` put in a local mirror for this platform, if any. */
export function findInstalledProvider(home = process.env.HOME || homedir()): InstalledProvider | undefined {
  for (const mirror of mirrorDirectories(home)) {
    const base = join(mirror, PROVIDER_ADDRESS);
    if (!existsSync(base)) continue;
    const versions = readdirSync(base)
      .filter((v) => /^\d+\.\d+\.\d+/.test(v) && existsSync(join(base, v, platform(), 'terraform-provider-portico')))
      .sort(newerFirst);
    if (versions.length) return { version: versions[0]!, dir: join(base, versions[0]!, platform()) };
  }
  return undefined;
}

/** The lock file's block for the provider, as `terraform init` writes it. */
function providerBlock(version: string, constraints: string | undefined, hash: string): string {
  const constraintLine = constraints ? `  constraints = ${JSON.stringify(constraints)}\n` : '';
  return `provider "${PROVIDER_ADDRESS}" {
  version     = ${JSON.stringify(version)}
${constraintLine}  hashes = [
    ${JSON.stringify(hash)},
  ]
}
`;
}

const HEADER = `# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.
`;
const EXISTING_BLOCK = new RegExp(`provider "${PROVIDER_ADDRESS.replace(/[./]/g, '\\$&')}" \\{[\\s\\S]*?\\n\\}\\n?`);

/**
 * Writes (or updates) the portico block of the lock file in a stack's directory, leaving other providers' blocks as
 * they are. Returns false when no installed provider was found (then nothing is written).
 */
export function writeProviderLock(stackDir: string, constraints: string | undefined): boolean {
  const installed = findInstalledProvider();
  if (!installed) return false;
  const block = providerBlock(installed.version, constraints, packageHashV1(installed.dir));
  mkdirSync(stackDir, { recursive: true });
  const path = join(stackDir, LOCK_FILE);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const next = EXISTING_BLOCK.test(current) ? current.replace(EXISTING_BLOCK, block) : `${current || HEADER}\n${block}`;
  if (next !== current) writeFileSync(path, next);
  return true;
}
