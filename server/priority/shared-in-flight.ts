import { randomUUID } from 'node:crypto';
import type { RedisCounts } from '../data/counter-store-redis';
import type { PriorityAdmission } from './admission';

/** One field per instance: `count:expiresAtMs`; an instance that stops reporting drops out when its entry expires. */
const KEY = 'portico:in-flight';

/**
 * Stores this instance's count (ARGV[1] instance, ARGV[2] count, ARGV[3] ms it holds), drops expired instances, and
 * answers the sum of the others'. Redis's clock decides expiry, so the instances' clocks need not agree.
 */
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 10)
local others = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local count, expires = string.match(all[i + 1], '^(%-?%d+):(%d+)$')
  if not expires or tonumber(expires) <= now then redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[1] then others = others + tonumber(count) end
end
return others
`;

/** Tells the others this instance's requests in flight, held for `holdMs`; answers theirs (undefined: not heard). */
export type InFlightReport = (instance: string, count: number, holdMs: number) => Promise<number | undefined>;

/** The report through Redis, for every instance of every node. */
export const redisInFlight =
  (store: RedisCounts): InFlightReport =>
  (instance, count, holdMs) =>
    store.shared((redis) => redis.eval(SCRIPT, 1, KEY, instance, count, holdMs)) as Promise<number | undefined>;

/**
 * Priority admission across instances: every `flushMs` each instance reports its requests in flight (to Redis, or
 * to its primary process, see server/cluster/primary-counts.ts) and hears the others' sum, which its admission adds
 * to its own. The others' part is at most one flush (plus a round trip) old. No answer (Redis down): the others count
 * as 0, and admission is per instance again until they are heard.
 */
export function shareInFlight(report: InFlightReport, admission: PriorityAdmission, flushMs: number): () => void {
  const instance = randomUUID();
  const holdMs = Math.max(1000, 5 * flushMs);
  let busy = false;
  const tell = async () => {
    if (busy) return;
    busy = true;
    try {
      const others = await report(instance, admission.inFlight, holdMs).catch(() => undefined);
      admission.elsewhere = typeof others === 'number' ? others : 0;
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tell(), flushMs).unref();
  return () => clearInterval(timer);
}
