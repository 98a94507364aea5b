import { ApiError } from '../errors';

/**
 * What may need normalising: a percent sign (an encoded dot), a dot segment, an empty segment or a backslash.
 * Paths without any of these (nearly all of them) are used as they came, with no work.
 */
const SUSPECT = /%|\/\.|\/\/|\\/;

/** Percent-encoded dots: unreserved characters, so `%2e` and `.` are the same (RFC 3986 section 6.2.2.2). */
const ENCODED_DOT = /%2e/gi;

/**
 * A dot segment hidden where backends disagree: behind an encoded slash or backslash (`..%2f`), a backslash, or a
 * path parameter (`..;x`, which Tomcat reads as `..`). Some backends decode or split these and some do not.
 */
const HIDDEN_DOT_SEGMENT = /(?:^|%2f|%5c|\\)\.\.?(?:$|%2f|%5c|\\|;)/i;

const HIDDEN = 'The path hides a "." or ".." segment behind an encoded slash, a backslash or ";"';

const refused = (message: string) => new ApiError('VALIDATION_FAILED', message, [{ path: 'path', message }]);

/**
 * The request path (no query) as routes see it and backends receive it: encoded dots decoded, runs of slashes merged
 * into one (as nginx does), then `.` and `..` segments removed (RFC 3986 section 5.2.4). A `..` above the root, or a
 * dot segment that an encoded slash, a backslash or `;` hides, is a 400: the backend could read it as a step up that
 * the gateway did not see. Encoded slashes in ordinary segments (`group%2Fproject`) are kept as they are.
 */
export function normalizePath(path: string): string {
  if (!SUSPECT.test(path)) return path;
  const segments = path.replace(ENCODED_DOT, '.').split('/');
  const out: string[] = [];
  const last = segments.length - 1;
  // segments[0] is what precedes the first slash: '' for every origin-form path
  for (let i = 1; i <= last; i++) {
    const s = segments[i]!;
    if (s === '..') {
      if (out.length === 0) throw refused('The path climbs above the root with ".."');
      out.pop();
    } else if (s !== '.' && s !== '') {
      if (HIDDEN_DOT_SEGMENT.test(s)) throw refused(HIDDEN);
      out.push(s);
      continue;
    }
    // a dot segment or an empty one at the end leaves a trailing slash: `/a/b/..` is `/a/`
    if (i === last) out.push('');
  }
  return `${segments[0]}/${out.join('/')}`;
}
