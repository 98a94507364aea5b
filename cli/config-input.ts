import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { EXPORTED } from '../server/control/config-document';
import { CliError } from './admin-client';
import { isStack, stackToDocument } from './cdktf-input';

type Doc = Record<string, unknown>;

export interface ConfigInput {
  doc: Doc;
  /** What the reading noticed (a CDKTF resource left out); shown before the plan. */
  notes: string[];
}

const DOCUMENT_FILE = /\.(json|ya?ml)$/i;
const STACK_FILE = 'cdk.tf.json';

/**
 * Reads what `portico plan|apply` is given: a config document (JSON or YAML), a directory of documents merged into
 * one, a synthesized CDKTF stack (`cdktf.out/stacks/<name>/cdk.tf.json`, or its directory), or a whole `cdktf.out`.
 */
export function readConfigInput(path: string): ConfigInput {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new CliError(`${path}: no such file or directory`);
  }
  if (!stat.isDirectory()) return readDocumentFile(path);
  if (existsSync(join(path, STACK_FILE))) return readDocumentFile(join(path, STACK_FILE));
  const stacks = join(path, 'stacks');
  const files = existsSync(stacks)
    ? readdirSync(stacks)
        .map((name) => join(stacks, name, STACK_FILE))
        .filter((f) => existsSync(f))
    : readdirSync(path)
        .filter((name) => DOCUMENT_FILE.test(name) && statSync(join(path, name)).isFile())
        .map((name) => join(path, name));
  if (files.length === 0) throw new CliError(`${path}: no .json, .yaml or .yml config documents in this directory`);
  return mergeDocuments(files.sort().map((f) => ({ file: f, ...readDocumentFile(f) })));
}

/** One file: a CDKTF stack by its shape, else a document, YAML by extension (JSON is YAML too, but errors differ). */
function readDocumentFile(file: string): ConfigInput {
  const text = readFileSync(file, 'utf8');
  const yaml = /\.ya?ml$/i.test(extname(file));
  let value: unknown;
  try {
    value = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    const first = (err as Error).message.split('\n')[0];
    throw new CliError(`${file}: not valid ${yaml ? 'YAML' : 'JSON'}: ${first}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new CliError(`${file}: not a config document (expected an object with sections such as "tenants")`);
  if (basename(file) === STACK_FILE || isStack(value as Doc)) return stackToDocument(value as Doc, file);
  return { doc: value as Doc, notes: [] };
}

/** The identity of an item inside its section: its tenant and id (ids are unique per owner). */
const itemKey = (item: unknown) => {
  const i = (item ?? {}) as Doc;
  return `${typeof i.tenant_id === 'string' ? i.tenant_id : ''}/${String(i.id)}`;
};

/**
 * Merges documents section by section. The same item (section, tenant, id) in two files is an error naming both; so
 * are two different `version`s or tenant scopes. Export metadata (`exported_at`, `warnings`) is dropped.
 */
export function mergeDocuments(parts: (ConfigInput & { file: string })[]): ConfigInput {
  const merged: Doc = {};
  const notes: string[] = [];
  const seen = new Map<string, string>();
  const sections = new Set<string>(EXPORTED.map((d) => d.exportKey!));
  for (const { file, doc, notes: own } of parts) {
    notes.push(...own);
    for (const [key, value] of Object.entries(doc)) {
      if (key === 'exported_at' || key === 'warnings') continue;
      if (!sections.has(key)) {
        if (merged[key] !== undefined && merged[key] !== value)
          throw new CliError(
            `${file}: "${key}" is ${JSON.stringify(value)}, but another file says ${JSON.stringify(merged[key])}`,
          );
        merged[key] = value;
        continue;
      }
      if (!Array.isArray(value)) throw new CliError(`${file}: "${key}" must be a list`);
      for (const item of value) {
        const where = `${key} ${itemKey(item)}`;
        const other = seen.get(where);
        if (other) throw new CliError(`${key} item "${itemKey(item)}" appears in both ${other} and ${file}`);
        seen.set(where, file);
      }
      merged[key] = [...((merged[key] as unknown[]) ?? []), ...value];
    }
  }
  return { doc: merged, notes };
}
