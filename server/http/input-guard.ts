import { ApiError, type ErrorDetail } from '../errors';

/**
 * What no input may carry, whatever its field: a NUL (PostgreSQL refuses it in text and jsonb) or half of a UTF-16
 * surrogate pair (jsonb refuses it; elsewhere it would be stored as U+FFFD, silently changed).
 */
const UNSAFE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');

/** Why a string is refused, or undefined when it is safe. */
export function unsafeText(s: string): string | undefined {
  if (!UNSAFE.test(s)) return undefined;
  return s.includes('\u0000')
    ? 'must not contain NUL (\\u0000) characters'
    : 'must not contain unpaired UTF-16 surrogates';
}

export interface InputLimits {
  /** Objects and arrays nested deeper than this are refused (what serializes them recurses). */
  maxDepth: number;
  /** Refuse numbers beyond ±(2^53 - 1): they would not read back as sent (and 1e309 is Infinity). */
  exactNumbers: boolean;
}

/** The admin API: bodies are stored, hashed (canonical JSON) and audited; nothing there nests past a few levels. */
export const ADMIN_INPUT: InputLimits = { maxDepth: 64, exactNumbers: true };
/** Chat bodies are forwarded as they came (tools' JSON schemas nest), so numbers pass and nesting has more room. */
export const CHAT_INPUT: InputLimits = { maxDepth: 128, exactNumbers: false };

/** A field path as shown in an error: the offending characters of a key become U+FFFD, so the answer is clean. */
const join = (path: string, key: string) => {
  const k = UNSAFE.test(key) ? key.replace(UNSAFE_ALL, '\ufffd') : key;
  return path ? `${path}.${k}` : k;
};

/** One object or array being walked: its own keys (null for an array), the next to look at, its path. */
interface Frame {
  value: Record<string, unknown> | unknown[];
  keys: string[] | null;
  next: number;
  path: string;
}

/**
 * The first thing in a parsed JSON value (a body, the path parameters, the query) that the gateway cannot store or
 * serialize safely: an unsafe string (a value or an object key, at any depth), a number that is not exact, or nesting
 * past `limits.maxDepth`. The walk keeps its own stack, so a value nested 50,000 deep cannot overflow the call stack.
 */
export function findUnsafeInput(value: unknown, limits: InputLimits, root = ''): ErrorDetail | undefined {
  const leaf = checkLeaf(value, limits);
  if (leaf) return { path: root, message: leaf };
  if (value === null || typeof value !== 'object') return undefined;
  const stack: Frame[] = [frame(value as object, root)];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const count = top.keys ? top.keys.length : (top.value as unknown[]).length;
    if (top.next >= count) {
      stack.pop();
      continue;
    }
    const at = top.next++;
    const key = top.keys ? top.keys[at]! : String(at);
    if (top.keys) {
      const bad = unsafeText(key);
      if (bad) return { path: join(top.path, key), message: `has a key that ${bad}` };
    }
    const child = top.keys ? (top.value as Record<string, unknown>)[key] : (top.value as unknown[])[at];
    const problem = checkLeaf(child, limits);
    if (problem) return { path: join(top.path, key), message: problem };
    if (child !== null && typeof child === 'object') {
      if (stack.length >= limits.maxDepth)
        return { path: join(top.path, key), message: `nests deeper than ${limits.maxDepth} levels` };
      stack.push(frame(child, join(top.path, key)));
    }
  }
  return undefined;
}

const frame = (value: object, path: string): Frame => ({
  value: value as Frame['value'],
  keys: Array.isArray(value) ? null : Object.keys(value),
  next: 0,
  path,
});

function checkLeaf(v: unknown, limits: InputLimits): string | undefined {
  if (typeof v === 'string') return unsafeText(v);
  if (typeof v === 'number' && limits.exactNumbers && !(Math.abs(v) <= Number.MAX_SAFE_INTEGER)) {
    return 'must be a number between -(2^53 - 1) and 2^53 - 1';
  }
  return undefined;
}

/** Throws a 400 VALIDATION_FAILED naming the field when `value` holds something unsafe (see findUnsafeInput). */
export function refuseUnsafeInput(value: unknown, limits: InputLimits, root = '', what = 'The request'): void {
  const problem = findUnsafeInput(value, limits, root);
  if (problem)
    throw new ApiError('VALIDATION_FAILED', `${what} is not valid: ${problem.path || 'the body'} ${problem.message}`, [
      problem,
    ]);
}

/** A client's `x-request-id` worth keeping: a short token of safe characters (it lands in logs, rows and headers). */
const REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

/** The request id: the client's `x-request-id` when it is a sane token, else a new one. */
export function requestIdOf(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : `req_${crypto.randomUUID()}`;
}
