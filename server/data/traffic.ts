import type { ApiError } from '../errors';

/** Per-request state of a data-plane call, filled in as the request is authenticated, routed and proxied. */
export const TRAFFIC = Symbol('portico.traffic');

/** What must stop when the client leaves before its answer: an upstream call in flight. */
export interface Stoppable {
  stop(): void;
}

export class Traffic {
  readonly started = process.hrtime.bigint();
  /** The client left before its answer was complete (logged as 499). */
  left = false;
  tenantId?: string;
  keyId?: string;
  routeId?: string;
  /** The upstream that failed, for error events. */
  upstream?: string;
  error?: ApiError;
  /** How the answer fared against the registered schema its request named (server/schemas/), for the request log. */
  schemaValidation?: 'passed' | 'failed';
  private inFlight?: Stoppable;

  constructor(readonly kind: 'llm' | 'http') {}

  /** Stops `call` when the client leaves, at once if it already has; one call at a time. */
  whileHere(call: Stoppable): void {
    if (this.left) call.stop();
    else this.inFlight = call;
  }

  leave(): void {
    this.left = true;
    this.inFlight?.stop();
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    [TRAFFIC]?: Traffic;
  }
}
