import { sql } from 'kysely';
import { uuid7 } from '../lib/uuid7';
import { json, type Db, type Executor } from './schema';

/**
 * SHADOW policies' statistics, summed over the cluster (see migrations/011-policy-shadow-stats.ts). Nodes add what
 * they counted since their last flush; the admin API reads the totals; a status change out of (or into) SHADOW
 * clears them.
 */

/** One policy's counts and samples from one node since its last flush. */
export interface ShadowBatch {
  owner: string;
  policyId: string;
  since: Date;
  verdicts: Record<string, number>;
  /** Newest first; each with its `at` (ISO time). */
  samples: { at: string }[];
}

/** Adds a flush's batches, in one transaction; a policy that is no longer SHADOW takes none (its period ended). */
export async function addShadowStats(db: Db, batches: readonly ShadowBatch[], keptSamples: number): Promise<void> {
  if (!batches.length) return;
  await db.transaction().execute(async (t) => {
    for (const b of batches) {
      const live = await t
        .selectFrom('resources')
        .select('id')
        .where('kind', '=', 'policy')
        .where('owner', '=', b.owner)
        .where('id', '=', b.policyId)
        .where(sql<string>`data->>'status'`, '=', 'SHADOW')
        // a status change locks the row for update: it waits for this flush, or this flush waits for it and then
        // finds the policy no longer SHADOW, so no count lands after the clear
        .forShare()
        .executeTakeFirst();
      if (!live) continue;
      const counts = Object.entries(b.verdicts).map(([verdict, count]) => ({
        policy_owner: b.owner,
        policy_id: b.policyId,
        verdict,
        count,
        since: b.since,
      }));
      if (counts.length)
        await t
          .insertInto('policy_shadow_counts')
          .values(counts)
          .onConflict((oc) =>
            oc.columns(['policy_owner', 'policy_id', 'verdict']).doUpdateSet({
              count: sql<number>`policy_shadow_counts.count + excluded.count`,
              since: sql<Date>`least(policy_shadow_counts.since, excluded.since)`,
              updated_at: sql<Date>`now()`,
            }),
          )
          .execute();
      if (!b.samples.length) continue;
      const samples = b.samples.slice(0, keptSamples).map((s) => ({
        id: uuid7(),
        policy_owner: b.owner,
        policy_id: b.policyId,
        at: s.at,
        sample: json(s),
      }));
      await t.insertInto('policy_shadow_samples').values(samples).execute();
      await trimSamples(t, b.owner, b.policyId, keptSamples);
    }
  });
}

/** Keeps a policy's newest `kept` samples. */
async function trimSamples(db: Executor, owner: string, policyId: string, kept: number): Promise<void> {
  const of = (q: Executor) =>
    q.selectFrom('policy_shadow_samples').where('policy_owner', '=', owner).where('policy_id', '=', policyId);
  await db
    .deleteFrom('policy_shadow_samples')
    .where('policy_owner', '=', owner)
    .where('policy_id', '=', policyId)
    .where('id', 'not in', of(db).select('id').orderBy('at', 'desc').orderBy('id', 'desc').limit(kept))
    .execute();
}

export interface StoredShadowStats {
  since: string | null;
  evaluated: number;
  verdicts: Record<string, number>;
  samples: Record<string, unknown>[];
}

/** A policy's totals over the cluster, and its newest samples first. */
export async function readShadowStats(
  db: Executor,
  owner: string,
  policyId: string,
  kept: number,
): Promise<StoredShadowStats> {
  const [counts, samples] = await Promise.all([
    db
      .selectFrom('policy_shadow_counts')
      .select(['verdict', 'count', 'since'])
      .where('policy_owner', '=', owner)
      .where('policy_id', '=', policyId)
      .execute(),
    db
      .selectFrom('policy_shadow_samples')
      .select('sample')
      .where('policy_owner', '=', owner)
      .where('policy_id', '=', policyId)
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(kept)
      .execute(),
  ]);
  const verdicts = Object.fromEntries(counts.map((c) => [c.verdict, Number(c.count)]));
  const since = counts.reduce<Date | null>((min, c) => {
    const at = new Date(c.since);
    return min === null || at < min ? at : min;
  }, null);
  return {
    since: since?.toISOString() ?? null,
    evaluated: Object.values(verdicts).reduce((a, b) => a + b, 0),
    verdicts,
    samples: samples.map((s) => s.sample),
  };
}

/** Forgets a policy's statistics (a new shadow period starts, or the last one ended). */
export async function clearShadowStats(db: Executor, owner: string, policyId: string): Promise<void> {
  await db
    .deleteFrom('policy_shadow_counts')
    .where('policy_owner', '=', owner)
    .where('policy_id', '=', policyId)
    .execute();
  await db
    .deleteFrom('policy_shadow_samples')
    .where('policy_owner', '=', owner)
    .where('policy_id', '=', policyId)
    .execute();
}
