/** One metric family as gathered: its help and type, and its series (the sample's name and labels) with values. */
interface Family {
  help: string;
  type: string;
  series: Map<string, number>;
}

/** A sample line `name{labels} value` or `name value`: its series and value. */
const SAMPLE = /^([^\s{]+(?:\{.*\})?) (\S+)$/;

/**
 * The Prometheus text of every worker as one node's: counters and histograms (buckets, sums and counts) added up per
 * series, as a single process would have counted them; gauges kept apart with a `worker` label, since a gauge's
 * meaning across workers (a breaker's state, Redis being up) is no sum.
 */
export function mergeWorkerMetrics(texts: [worker: number, text: string][]): string {
  const families = new Map<string, Family>();
  for (const [worker, text] of texts) {
    let family: Family | undefined;
    for (const line of text.split('\n')) {
      const help = /^# HELP (\S+) (.*)$/.exec(line);
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (help) {
        family = families.get(help[1]!) ?? { help: help[2]!, type: 'untyped', series: new Map() };
        families.set(help[1]!, family);
      } else if (type && family) family.type = type[2]!;
      else if (family && SAMPLE.test(line)) {
        const [, series, value] = SAMPLE.exec(line)!;
        const key = family.type === 'gauge' ? withWorker(series!, worker) : series!;
        family.series.set(key, (family.series.get(key) ?? 0) + Number(value));
      }
    }
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
    for (const [series, value] of f.series) out.push(`${series} ${value}`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

const withWorker = (series: string, worker: number) => {
  const brace = series.indexOf('{');
  return brace < 0
    ? `${series}{worker="${worker}"}`
    : `${series.slice(0, brace + 1)}worker="${worker}",${series.slice(brace + 1)}`;
};
