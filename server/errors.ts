/**
 * Every error code the gateway answers with, in one place (fastify's lib/errors.js is the model).
 * `docs/errors.md` documents each; test/errors.test.ts keeps the two in sync.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid' },
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON' },
  BAD_REQUEST: { status: 400, message: 'The request is not valid HTTP' },
  UNAUTHORIZED: { status: 401, message: 'Missing or invalid bearer token' },
  FORBIDDEN: { status: 403, message: 'The caller may not do this' },
  TENANT_SCOPE_VIOLATION: { status: 403, message: 'The caller may not act on another tenant' },
  NOT_FOUND: { status: 404, message: 'No such resource' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such endpoint' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this endpoint' },
  ALREADY_EXISTS: { status: 409, message: 'A resource with this id already exists' },
  CONFLICT: { status: 409, message: 'The request conflicts with the current state' },
  AMBIGUOUS_ID: { status: 409, message: 'Several tenants have a resource with this id; name one with ?tenant_id=' },
  TENANT_HAS_RESOURCES: { status: 409, message: 'The tenant still owns resources' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  URI_TOO_LONG: { status: 414, message: 'A path segment of the URL is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers (or the URL) are too large' },
  INVALID_API_KEY: { status: 401, message: 'Missing, unknown, revoked or expired API key' },
  TENANT_SUSPENDED: { status: 403, message: 'The tenant is suspended' },
  CLIENT_CERT_REQUIRED: { status: 401, message: 'A client certificate is required' },
  CLIENT_CERT_INVALID: { status: 401, message: 'The client certificate is not trusted' },
  CLIENT_CERT_MISMATCH: { status: 403, message: 'The client certificate is not the one the API key is bound to' },
  NO_ROUTE: { status: 404, message: 'No route serves this model' },
  BUDGET_EXCEEDED: { status: 429, message: 'The budget for this period is exhausted' },
  QUOTA_EXCEEDED: { status: 429, message: 'The request quota for this period is used up' },
  POLICY_DENIED: { status: 403, message: 'A policy refused the request' },
  PRIORITY_THROTTLED: { status: 429, message: "The gateway is too busy for this request's priority tier" },
  CIRCUIT_OPEN: { status: 503, message: 'The upstream is failing; its circuit is open' },
  UPSTREAM_ERROR: { status: 502, message: 'The upstream provider failed' },
  SCHEMA_VIOLATION: { status: 502, message: "The provider's answer does not satisfy the requested schema" },
  NO_CREDENTIAL: { status: 502, message: 'No usable credential for the provider' },
  EGRESS_DENIED: { status: 502, message: 'The target is not a public address' },
  UPSTREAM_UNAVAILABLE: { status: 503, message: 'Every upstream provider is unavailable' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The upstream provider did not answer in time' },
  NOT_READY: { status: 503, message: 'The service is not ready' },
  DATABASE_UNAVAILABLE: { status: 503, message: 'The database is unavailable; retry later' },
  ADMIN_API_DISABLED: { status: 503, message: 'The node admin API is disabled on this node' },
  INTERNAL: { status: 500, message: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One problem with the input, at a dotted field path (`providers.0.provider`). */
export interface ErrorDetail {
  path: string;
  message: string;
}

/** The error every surface throws; each surface renders it in its own shape. */
export class ApiError extends Error {
  readonly status: number;
  /** Response headers the error carries (`retry-after`, `x-ratelimit-*`); every surface sends them. */
  headers: Record<string, string> = {};
  constructor(
    readonly code: ErrorCode,
    message: string = ERROR_CODES[code].message,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = ERROR_CODES[code].status;
  }

  withHeaders(headers: Record<string, string>): this {
    Object.assign(this.headers, headers);
    return this;
  }
}

export const validationError = (details: ErrorDetail[], message = 'The request is not valid') =>
  new ApiError('VALIDATION_FAILED', message, details);

export const notFound = (what: string) => new ApiError('NOT_FOUND', `${what} not found`);
