import type { Config } from '../config';

/**
 * Fastify options bounding how long a client may take to send its request (`PORTICO_HEADERS_TIMEOUT_MS` for the
 * headers, `PORTICO_REQUEST_TIMEOUT_MS` for the whole request, body included), on both ports: a client trickling a
 * byte every few seconds would otherwise hold a connection for ever. Node checks them every
 * `connectionsCheckingInterval` (30 s by default, which would let a 10 s limit run to 40 s), so the check runs at a
 * quarter of the shorter one, at most once every 25 ms and at least once a second. Only a request still being
 * received is cut: once it is in, its answer (an LLM stream) may take as long as it likes.
 */
export function receiveTimeouts(config: Config) {
  const { headersTimeoutMs: headersTimeout, requestTimeoutMs: requestTimeout } = config;
  const shortest = Math.min(...[headersTimeout, requestTimeout].filter((ms) => ms > 0));
  const checkMs = Math.min(1000, Math.max(25, Math.floor(shortest / 4)));
  const every = Number.isFinite(shortest) ? { connectionsCheckingInterval: checkMs } : {};
  return { requestTimeout, http: { headersTimeout, requestTimeout, ...every } };
}
