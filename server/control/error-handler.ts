import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ERROR_CODES, type ErrorCode, type ErrorDetail } from '../errors';
import { isDatabaseUnavailable } from '../store/database-errors';

/** Renders an error in a surface's shape. */
export type ErrorRenderer = (reply: FastifyReply, error: ApiError) => unknown;

/** The admin API's shape: `{"error":{"code","message","details"}}` (CONTRACT.md section 3). */
export const renderAdminError: ErrorRenderer = (reply, error) =>
  reply.status(error.status).send({ error: { code: error.code, message: error.message, details: error.details } });

/** Fastify's own errors (body parsing, limits) as our codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
};

/** Any thrown value as an ApiError; unknown failures become a logged 500 with no internals in the body. */
export function toApiError(error: unknown, request: FastifyRequest): ApiError {
  if (error instanceof ApiError) return error;
  const fe = error as FastifyError;
  const mapped = fe?.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return new ApiError(mapped, mapped === 'INVALID_JSON' ? `The request body is not valid JSON: ${fe.message}` : ERROR_CODES[mapped].message);
  if (fe instanceof SyntaxError || (fe?.statusCode === 400 && /JSON/i.test(fe.message))) {
    return new ApiError('INVALID_JSON', `The request body is not valid JSON: ${fe.message}`);
  }
  if (fe?.validation) {
    const details: ErrorDetail[] = fe.validation.map((v) => ({ path: String(v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.'), message: v.message ?? 'is not valid' }));
    return new ApiError('VALIDATION_FAILED', 'The request is not valid', details);
  }
  if (fe?.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code = (Object.keys(ERROR_CODES) as ErrorCode[]).find((c) => ERROR_CODES[c].status === fe.statusCode) ?? 'VALIDATION_FAILED';
    return new ApiError(code, fe.message);
  }
  const unavailable = databaseUnavailable(error);
  if (unavailable) {
    request.log.warn({ err: error }, 'database unavailable');
    return unavailable;
  }
  request.log.error({ err: error }, 'unhandled error');
  return new ApiError('INTERNAL');
}

/** Seconds a caller is asked to wait when the database is unavailable. */
const DATABASE_RETRY_AFTER = '5';

/** A database that is down, hung or unreachable is a 503 the caller may retry, not a 500 (one rule for every plane). */
export function databaseUnavailable(error: unknown): ApiError | undefined {
  if (!isDatabaseUnavailable(error)) return undefined;
  return new ApiError('DATABASE_UNAVAILABLE').withHeaders({ 'retry-after': DATABASE_RETRY_AFTER });
}

/** Installs the error and not-found handlers of one surface. */
export function installErrorHandlers(app: FastifyInstance, render: ErrorRenderer): void {
  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error, request);
    return render(reply.headers(apiError.headers), apiError);
  });
  app.setNotFoundHandler((request, reply) => render(reply, new ApiError('ROUTE_NOT_FOUND', `No endpoint ${request.method} ${request.url.split('?')[0]}`)));
}
