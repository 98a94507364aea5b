import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, ERROR_CODES, type ErrorCode, type ErrorDetail } from '../errors';
import { isDatabaseUnavailable } from '../store/database-errors';

/** Renders an error in a surface's shape. */
export type ErrorRenderer = (reply: FastifyReply, error: ApiError) => unknown;

/** An error as the JSON body of a surface. */
export type ErrorBody = (error: ApiError) => unknown;

/** The admin API's shape: `{"error":{"code","message","details"}}` (CONTRACT.md section 3). */
export const adminErrorBody: ErrorBody = (error) => ({
  error: { code: error.code, message: error.message, details: error.details },
});

export const renderAdminError: ErrorRenderer = (reply, error) => reply.status(error.status).send(adminErrorBody(error));

/** Fastify's own errors (body parsing, limits) as our codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
};

/** Any thrown value as an ApiError; unknown failures become a logged 500 with no internals in the body. */
export function toApiError(error: unknown, request: FastifyRequest): ApiError {
  if (error instanceof ApiError) return error;
  const fe = error as FastifyError;
  const mapped = fe?.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped === 'INVALID_JSON') return new ApiError(mapped, `The request body is not valid JSON: ${fe.message}`);
  if (fe.code === 'FST_ERR_BAD_URL') return new ApiError('BAD_REQUEST', 'The URL holds malformed percent-encoding');
  if (mapped) return new ApiError(mapped);
  if (fe instanceof SyntaxError || (fe?.statusCode === 400 && /JSON/i.test(fe.message))) {
    return new ApiError('INVALID_JSON', `The request body is not valid JSON: ${fe.message}`);
  }
  if (fe?.validation) {
    const details: ErrorDetail[] = fe.validation.map((v) => ({
      path: String(v.instancePath ?? '')
        .replace(/^\//, '')
        .replace(/\//g, '.'),
      message: v.message ?? 'is not valid',
    }));
    return new ApiError('VALIDATION_FAILED', 'The request is not valid', details);
  }
  if (fe?.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code =
      (Object.keys(ERROR_CODES) as ErrorCode[]).find((c) => ERROR_CODES[c].status === fe.statusCode) ??
      'VALIDATION_FAILED';
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
  app.setNotFoundHandler((request, reply) =>
    render(reply, new ApiError('ROUTE_NOT_FOUND', `No endpoint ${request.method} ${request.url.split('?')[0]}`)),
  );
}

/**
 * Fastify's `frameworkErrors`: what the router refuses before any route runs (a path parameter over
 * `maxParamLength` is a 414, malformed percent-encoding a 400), in the surface's shape rather than fastify's.
 */
export function frameworkErrors(render: ErrorRenderer) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) =>
    render(reply, toApiError(error, request));
}

/** Node's parser errors by code; any other is a malformed request (400). */
const CLIENT_ERRORS: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
};

/** What node's HTTP parser refused, as our error. */
export const clientError = (err: NodeJS.ErrnoException) => new ApiError(CLIENT_ERRORS[err.code ?? ''] ?? 'BAD_REQUEST');

/**
 * Fastify's `clientErrorHandler`: what node's HTTP parser refuses before fastify sees a request (headers or URL
 * over 16 KiB, a malformed request line, a request timeout), written to the socket in the surface's shape.
 */
export function clientErrorHandler(body: ErrorBody) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const error = clientError(err);
    const text = JSON.stringify(body(error));
    const head = `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\ncontent-type: application/json; charset=utf-8\r\n`;
    // the response in progress on this connection, if any: once its head went out, another answer would garble it
    const res = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (socket.writable && !res?.headersSent)
      socket.end(`${head}content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    else socket.destroy();
  };
}
