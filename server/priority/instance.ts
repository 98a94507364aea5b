import type { Gateway } from '../gateway';
import { Gauge, type DataPlaneMetrics } from '../data/metrics';
import { PriorityAdmission } from './admission';

/** One admission count per gateway: its data plane takes and gives back places, its admin API reports them. */
const byGateway = new WeakMap<Gateway, PriorityAdmission>();

export function priorityAdmission(gw: Gateway): PriorityAdmission {
  let admission = byGateway.get(gw);
  if (!admission) byGateway.set(gw, (admission = new PriorityAdmission(gw.config.priority)));
  return admission;
}

/** The data plane's admission, with its Prometheus counters (the seed's names) among the data plane's metrics. */
export function dataPlanePriority(gw: Gateway, metrics: DataPlaneMetrics): PriorityAdmission {
  const admission = priorityAdmission(gw);
  const labels = ['tenant', 'tier'];
  const admitted = () => admission.admittedSeries();
  const throttled = () => admission.throttledSeries();
  const admittedHelp = 'Data-plane requests admitted by priority admission, by tenant and priority tier.';
  const throttledHelp =
    'Data-plane requests refused by priority admission (429 priority_throttled), by tenant and tier.';
  metrics.addGauge(new Gauge('gateway_priority_requests_total', admittedHelp, labels, admitted, 'counter'));
  metrics.addGauge(new Gauge('gateway_priority_throttled_total', throttledHelp, labels, throttled, 'counter'));
  return admission;
}
