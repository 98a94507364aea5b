import { z } from 'zod';
import { isoDateParam, upperBound } from '../../lib/iso-date';

/** The read-outs' path and query parameters: anything else, or anything out of range, is a 400 naming the field. */

/** Rows per page, as seed 004 says. */
export const PAGE_SIZE = 50;
/** The deepest page: 50,000 rows in. Deeper pages would make the database skip ever more rows; narrow with from/to. */
export const MAX_PAGE = 1000;

const page = z.coerce
  .number()
  .int()
  .min(1)
  .max(MAX_PAGE, `must be at most ${MAX_PAGE}; narrow the list with from and to instead`)
  .default(1);

export const tenantParams = z.strictObject({ tenantId: z.string().min(1).max(63) });
export const errorParams = z.strictObject({ tenantId: z.string().min(1).max(63), id: z.string().min(1).max(100) });

const when = isoDateParam();

/** Whether `from` lies within the range up to `to` (a bare `to` date ends at the next midnight, exclusive). */
function startsBefore(from: string, to: string): boolean {
  const [op, at] = upperBound(to);
  return op === '<' ? new Date(from) < at : new Date(from) <= at;
}

export const logsQuery = z
  .strictObject({
    from: when.optional(),
    to: when.optional(),
    path: z.string().min(1).max(1024).optional().describe('Paths starting with this text.'),
    statusCode: z.coerce.number().int().min(100).max(599).optional(),
    consumerId: z.string().min(1).max(100).optional().describe('An API key (consumer) id.'),
    page,
  })
  .refine((q) => !q.from || !q.to || startsBefore(q.from, q.to), {
    message: 'must not be after to',
    path: ['from'],
  });

export const errorsQuery = z.strictObject({
  resolved: z.enum(['true', 'false']).optional().describe('Only resolved (true) or unresolved (false) events.'),
  page,
});

export const resolveBody = z.strictObject({ resolved: z.literal(true) });

/** Each period's bucket width: 12 buckets of 5 minutes, 24 of an hour, 168 of an hour. */
export const PERIODS = {
  '1h': { ms: 3600_000, granularity: '5m' },
  '24h': { ms: 24 * 3600_000, granularity: '1h' },
  '7d': { ms: 7 * 24 * 3600_000, granularity: '1h' },
} as const;

export const metricsQuery = z.strictObject({ period: z.enum(['1h', '24h', '7d']).default('24h') });

export const noQuery = z.strictObject({});
