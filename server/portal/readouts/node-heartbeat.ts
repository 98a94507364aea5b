import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Gateway } from '../../gateway';
import { uuid7 } from '../../lib/uuid7';
import { currentConfigSeq, forgetNode, reportNode } from '../../store/gateway-nodes';

/** How often a node reports itself, by default. */
export const HEARTBEAT_MS = 5_000;

/**
 * A node that serves traffic reports itself every interval: its id, role, and the configuration version its snapshot
 * holds. The snapshot follows changes by notification and has no version of its own, so the node reports the version
 * that was current one interval earlier: every change up to it was announced at least an interval ago, and
 * announcements reach a node well within one (the contract's bound is 1 s). Read by the portal's gateway-status.
 */
export class NodeHeartbeat {
  readonly id = uuid7();
  private readonly startedAt = new Date();
  private timer: NodeJS.Timeout | undefined;
  /** The version current at the previous beat; what this beat may claim. */
  private seenBefore: number | undefined;
  private beating: Promise<void> = Promise.resolve();

  constructor(
    private readonly gw: Gateway,
    readonly intervalMs = HEARTBEAT_MS,
  ) {}

  /** Notes the version current now (the snapshot is already loaded) and beats every interval from then on. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.intervalMs).unref();
  }

  /** One beat: claim the version seen at the previous beat, then note the one current now. Failures only log. */
  beat(): Promise<void> {
    this.beating = this.beating.then(async () => {
      try {
        const claim = this.seenBefore;
        const now = await currentConfigSeq(this.gw.db);
        if (claim !== undefined) {
          const report = { id: this.id, role: this.gw.config.role, config_seq: claim, started_at: this.startedAt };
          await reportNode(this.gw.db, report);
        }
        this.seenBefore = now;
      } catch (err) {
        this.gw.log.warn({ err }, 'node heartbeat could not be recorded');
      }
    });
    return this.beating;
  }

  /** Stops beating and removes this node's report, so it no longer counts as serving. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beating;
    await forgetNode(this.gw.db, this.id).catch((err) => this.gw.log.warn({ err }, 'node report not removed'));
  }
}

/** Registered on a data-plane app: the node reports itself while the app runs. */
export const nodeHeartbeat = fp(
  async (app: FastifyInstance, { gw, intervalMs }: { gw: Gateway; intervalMs?: number }) => {
    const heartbeat = new NodeHeartbeat(gw, intervalMs);
    app.addHook('onReady', () => heartbeat.start());
    app.addHook('onClose', () => heartbeat.stop());
  },
  { name: 'portico-node-heartbeat' },
);
