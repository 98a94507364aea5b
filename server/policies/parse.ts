import { isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { BODY_SCHEMAS, type AnyBody, type PolicyType } from './types';

/** One problem with a policy body: its dotted path from the body (`rules.0.pattern`) and its YAML line. */
export interface BodyProblem {
  path: string;
  line: number;
  message: string;
}

export type ParsedBody = { ok: true; value: AnyBody } | { ok: false; problems: BodyProblem[] };

/** The line of a path in a parsed YAML document (a missing field: its parent's line). */
export type LineAt = (path: readonly PropertyKey[]) => number;

/** A YAML (or JSON) text, parsed: its value and where each path is, or its syntax errors with their lines. */
export type YamlText =
  { ok: true; value: unknown; lineAt: LineAt; doc: Document } | { ok: false; problems: BodyProblem[] };

export function parseYaml(text: string): YamlText {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const first = (message: string) => message.split('\n')[0]!;
  if (doc.errors.length) {
    const problems = doc.errors.map((e) => ({
      path: '',
      line: lines.linePos(e.pos[0]).line,
      message: first(e.message),
    }));
    return { ok: false, problems };
  }
  try {
    // aliases are refused beyond a few: a small document must not expand into a huge one
    const value = doc.toJS({ maxAliasCount: 10 });
    return { ok: true, value, doc, lineAt: (path) => lineOf(doc, lines, path) };
  } catch (err) {
    return { ok: false, problems: [{ path: '', line: 1, message: first((err as Error).message) }] };
  }
}

/** zod issues as body problems, each with its path and line. */
export function issueProblems(error: z.ZodError, lineAt: LineAt): BodyProblem[] {
  return error.issues.flatMap((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    return keys.map((key) => {
      const path = key === undefined ? issue.path : [...issue.path, key];
      const message =
        key !== undefined
          ? 'is not a known field'
          : issue.code === 'invalid_type' && /received undefined$/.test(issue.message)
            ? 'is required'
            : issue.message;
      return { path: path.map(String).join('.'), line: lineAt(path), message };
    });
  });
}

/** Validates a body value against its type's schema; `lineAt` places each problem. */
export function checkBody(type: PolicyType, value: unknown, lineAt: LineAt): ParsedBody {
  const parsed = (BODY_SCHEMAS[type] as z.ZodType).safeParse(value ?? {});
  if (parsed.success) return { ok: true, value: parsed.data as AnyBody };
  return { ok: false, problems: issueProblems(parsed.error, lineAt) };
}

/**
 * Parses a policy body given as YAML or JSON text (JSON is YAML) and validates it against its type's schema. Every
 * problem names the field path inside the body and the line it is on, so an editor can point at it.
 */
export function parsePolicyBody(type: PolicyType, text: string): ParsedBody {
  const yaml = parseYaml(text);
  return yaml.ok ? checkBody(type, yaml.value, yaml.lineAt) : yaml;
}

/** The line of the node at `path`, or of its nearest ancestor that exists. */
function lineOf(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return 1;
}

/** Lines of a text held in a document's scalar are counted from the scalar: a block scalar's text starts a line below. */
export function textOffset(doc: Document, path: readonly PropertyKey[]): number {
  const node = doc.getIn(path as unknown[], true);
  return isScalar(node) && (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') ? 0 : -1;
}

/** A policy body's problems as error details of the resource: `body.rules.0.pattern`, "line 4: …". */
export const bodyProblemDetails = (problems: BodyProblem[], field = 'body') =>
  problems.map((p) => ({ path: p.path ? `${field}.${p.path}` : field, message: `line ${p.line}: ${p.message}` }));
