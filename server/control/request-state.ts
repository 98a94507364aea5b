import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors';
import type { CallContext, Caller } from './caller';

/** Per-request state lives under symbols, never as ad-hoc properties. */
export const CALLER = Symbol('portico.caller');

declare module 'fastify' {
  interface FastifyRequest {
    [CALLER]?: Caller;
  }
}

/** The authenticated caller and trace id of a request (the auth hook ran first). */
export function callContext(request: FastifyRequest): CallContext {
  const caller = request[CALLER];
  if (!caller) throw new ApiError('UNAUTHORIZED');
  return { caller, traceId: request.id };
}
