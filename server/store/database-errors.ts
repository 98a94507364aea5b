/** Socket errors that mean the database server cannot be reached (or went away mid-query). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is not serving: connection exceptions (08), shutdown and start-up (57P01–57P03), a query
 * cancelled by `statement_timeout` (57014), too many connections (53300).
 */
const UNAVAILABLE_STATE = /^(08...|57P0[123]|57014|53300)$/;

/** What `pg`, `pg-pool` and kysely say when the server is gone, hung or the pool was closed. */
const UNAVAILABLE_MESSAGE = new RegExp(
  [
    'timeout exceeded when trying to connect',
    'Query read timeout',
    'Connection terminated',
    'Client has encountered a connection error',
    'Cannot use a pool after calling end',
    'driver has already been destroyed',
    'Client was closed',
    'not queryable',
  ].join('|'),
  'i',
);

/** True when `err` says the database is down, hung or unreachable (not that the query or its data was wrong). */
export function isDatabaseUnavailable(err: unknown): boolean {
  type Failure = { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown } | undefined;
  for (let e = err as Failure, depth = 0; e && depth < 4; e = e.cause as Failure, depth++) {
    if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || UNAVAILABLE_STATE.test(e.code))) return true;
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) return true;
    // `connect ECONNREFUSED` on both ::1 and 127.0.0.1 comes as an AggregateError
    if (Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
  }
  return false;
}

/** True for errors about the data itself (SQLSTATE class 22 data exception, 23 integrity constraint violation). */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^2[23]/.test(code);
}
