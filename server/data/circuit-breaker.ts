import type { RouteState } from '../resources';
import { circuitBreaker } from '../resources/route';

export type CircuitState = 'closed' | 'open' | 'half-open';

/** A route's `circuit_breaker`: failures in a row that open the circuit, and how long it then stays open. */
export type BreakerSettings = NonNullable<RouteState['circuit_breaker']>;

/** The route definition's defaults, for a route that sets no `circuit_breaker`. */
export const DEFAULT_BREAKER: BreakerSettings = circuitBreaker.parse({});

interface Circuit {
  state: CircuitState;
  failures: number;
  openedAt: number;
  /** A half-open circuit lets exactly one trial call through at a time. */
  trialInFlight: boolean;
  /** Totals since the process started (or the circuit was first used), for the node admin surface. */
  successCount: number;
  failureCount: number;
  openCount: number;
  rejectedCount: number;
}

/** One circuit's state and totals, as `/admin/circuit-breakers` reports them. */
export interface CircuitStats {
  name: string;
  state: CircuitState;
  success_count: number;
  failure_count: number;
  consecutive_failures: number;
  open_count: number;
  rejected_count: number;
}

const newCircuit = (): Circuit => ({
  state: 'closed',
  failures: 0,
  openedAt: 0,
  trialInFlight: false,
  successCount: 0,
  failureCount: 0,
  openCount: 0,
  rejectedCount: 0,
});

/** What `acquire` decided: go ahead (then report the outcome), or refused until `retryAfterMs` has passed. */
export type Permit = { ok: true; trial: boolean } | { ok: false; retryAfterMs: number };

/**
 * Circuit breakers per circuit key: a route's (and an LLM route's provider's, see `circuitKey` in upstream.ts),
 * never a URL's, so one owner's failures never open another owner's circuit to the same backend. Closed lets calls
 * through and counts failures in a row; at the threshold it opens and refuses calls for the cooldown; then it
 * half-opens and lets one trial call through, whose success closes it and whose failure opens it again.
 */
export class CircuitBreakers {
  private readonly circuits = new Map<string, Circuit>();

  constructor(private readonly onChange: (circuit: string, state: CircuitState) => void = () => {}) {}

  acquire(circuit: string, settings: BreakerSettings, now = Date.now()): Permit {
    const c = this.circuits.get(circuit);
    if (!c || c.state === 'closed') return { ok: true, trial: false };
    if (c.state === 'open') {
      const wait = c.openedAt + settings.cooldown_ms - now;
      if (wait > 0) {
        c.rejectedCount++;
        return { ok: false, retryAfterMs: wait };
      }
      this.set(circuit, c, 'half-open');
    }
    if (c.trialInFlight) {
      c.rejectedCount++;
      return { ok: false, retryAfterMs: settings.cooldown_ms };
    }
    c.trialInFlight = true;
    return { ok: true, trial: true };
  }

  /** The call worked: a half-open circuit closes, a closed one forgets its failures. */
  success(circuit: string): void {
    let c = this.circuits.get(circuit);
    if (!c) this.circuits.set(circuit, (c = newCircuit()));
    c.successCount++;
    c.failures = 0;
    c.trialInFlight = false;
    if (c.state !== 'closed') this.set(circuit, c, 'closed');
  }

  /** The call failed (no connection, timeout, 5xx): count it; open at the threshold or on a failed trial. */
  failure(circuit: string, settings: BreakerSettings, now = Date.now()): void {
    let c = this.circuits.get(circuit);
    if (!c) this.circuits.set(circuit, (c = newCircuit()));
    c.failures++;
    c.failureCount++;
    c.trialInFlight = false;
    if (c.state === 'half-open' || (c.state === 'closed' && c.failures >= settings.failure_threshold)) {
      c.openedAt = now;
      this.set(circuit, c, 'open');
    }
  }

  /** A call that ended without a verdict (the client left): frees a half-open circuit's trial slot. */
  release(circuit: string): void {
    const c = this.circuits.get(circuit);
    if (c) c.trialInFlight = false;
  }

  state(circuit: string): CircuitState {
    return this.circuits.get(circuit)?.state ?? 'closed';
  }

  /** Every circuit (`owner/route[#index:provider]`) that has seen a failure, and its state (for /metrics). */
  entries(): [string, CircuitState][] {
    return [...this.circuits].filter(([, c]) => c.failureCount > 0).map(([u, c]) => [u, c.state]);
  }

  /** Every circuit that has seen a call, with its totals (for the node admin surface). */
  stats(): CircuitStats[] {
    return [...this.circuits].map(([name, c]) => ({
      name,
      state: c.state,
      success_count: c.successCount,
      failure_count: c.failureCount,
      consecutive_failures: c.failures,
      open_count: c.openCount,
      rejected_count: c.rejectedCount,
    }));
  }

  /** Closes a circuit by hand (an operator's reset), keeping its totals; false when no such circuit exists. */
  reset(circuit: string): boolean {
    const c = this.circuits.get(circuit);
    if (!c) return false;
    c.failures = 0;
    c.trialInFlight = false;
    if (c.state !== 'closed') this.set(circuit, c, 'closed');
    return true;
  }

  private set(circuit: string, c: Circuit, state: CircuitState): void {
    if (state === 'open') c.openCount++;
    c.state = state;
    this.onChange(circuit, state);
  }
}

/** A route's breaker settings, or the defaults. */
export const breakerSettings = (route: RouteState): BreakerSettings => route.circuit_breaker ?? DEFAULT_BREAKER;
