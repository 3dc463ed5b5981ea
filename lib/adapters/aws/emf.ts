/**
 * CloudWatch metrics from the Lambda handlers (issue #15), in the Embedded Metric Format through Powertools for AWS
 * Lambda's Metrics (the convention for Node.js Lambdas): after each invocation, every counter of the engine's
 * registry that moved since the last flush is written to the function's log as one EMF record per series — its
 * labels (`bus`, `rule`, `target`, `code`) as dimensions, the increase as the value — and CloudWatch turns them into
 * metrics. Counters only: events accepted, matched, delivered, retried, dead-lettered and the rest of `/metrics`'s
 * counter families, summed across instances by CloudWatch (the `/metrics` endpoint counts one instance only). Each
 * family's increase across its series is written once more with the `service` dimension (the bus) alone: the bus's
 * totals, which alarms and the dashboard read (a CloudWatch alarm cannot sum a search over dimension sets).
 *
 * Latencies (the histograms: delivery attempts, ingest → route) are written as samples: each series' observations
 * since the last flush, up to 100 of them (EMF's most values per metric; beyond, a uniform sample of them — reservoir
 * sampling), in milliseconds, with the series' dimensions and once more with `service` alone, so that CloudWatch's
 * percentile statistics (p50, p99) work on them.
 */
import { MetricUnit, Metrics as Powertools } from '@aws-lambda-powertools/metrics';
import { Metrics } from '../../engine/metrics.ts';

export interface EmfOptions {
  /** @default 'Junction' */
  readonly namespace?: string;
  /** The `service` dimension. @default 'junction' */
  readonly serviceName?: string;
  /** Most series written per flush (the rest wait for the next one). @default 500 */
  readonly maxSeries?: number;
  /** Where the records go. @default the function's standard output, as Powertools writes them */
  readonly output?: { log(line: string): void };
}

export interface EmfPublisher {
  /**
   * Writes the counters' increases and the latencies observed since the last flush; answers how many series were
   * written.
   */
  flush(): number;
  /**
   * Runs the registry's collectors and writes every gauge's value (pending deliveries, the oldest one's age, dead
   * letters, per rule and target, and each labelled family's total — a sum, the largest for an age — with `service`
   * alone); answers how many series were written. A collector that fails is reported to `onError`; the others' gauges
   * are still written. The scheduler function calls it once per run (each gauge costs the stores a query).
   */
  flushGauges(onError?: (error: unknown) => void): Promise<number>;
}

/** Most values of one metric in one EMF record (CloudWatch's limit). */
export const EMF_MAX_VALUES = 100;

/** Up to `EMF_MAX_VALUES` of the observations since the last flush, a uniform sample when there were more. */
interface Sample {
  readonly name: string;
  /** The series' label key; '' for a family's total. */
  readonly key: string;
  values: number[];
  seen: number;
}

function sampled(sample: Sample, value: number): void {
  sample.seen += 1;
  if (sample.values.length < EMF_MAX_VALUES) sample.values.push(value);
  else {
    const slot = Math.floor(Math.random() * sample.seen);
    if (slot < EMF_MAX_VALUES) sample.values[slot] = value;
  }
}

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** CloudWatch allows at most 30 dimensions; Junction's series carry at most five labels. */
const MAX_DIMENSIONS = 29;

export function createEmfPublisher(registry: Metrics, options: EmfOptions = {}): EmfPublisher {
  const namespace = options.namespace ?? 'Junction';
  const serviceName = options.serviceName ?? 'junction';
  const maxSeries = options.maxSeries ?? 500;
  const published = new Map<string, number>();
  const powertools = new Powertools({ namespace, serviceName });
  /** One EMF record: a metric of its own, with these dimensions (besides `service`). */
  const write = (
    name: string,
    increase: number,
    dimensions: ReadonlyArray<[string, string]> = [],
    unit: Unit = MetricUnit.Count,
  ) => {
    const single = powertools.singleMetric();
    // Powertools writes through its `console` property (a Console on stdout): a given output replaces it.
    if (options.output !== undefined) (single as unknown as { console: unknown }).console = options.output;
    for (const [k, v] of dimensions) single.addDimension(k, v === '' ? '-' : v.slice(0, 1024));
    // A single metric is written as it is added (publishing it again would only log a warning).
    single.addMetric(name, unit, increase);
  };
  /** One EMF record of many values (milliseconds): a latency sample. */
  const latencies = new Powertools({ namespace, serviceName });
  if (options.output !== undefined) (latencies as unknown as { console: unknown }).console = options.output;
  const writeSample = (sample: Sample) => {
    for (const [k, v] of Object.entries(Metrics.labelsOf(sample.key)).slice(0, MAX_DIMENSIONS)) {
      latencies.addDimension(k, v === '' ? '-' : v.slice(0, 1024));
    }
    const metric = sample.name.replace(/_seconds$/, '_ms');
    for (const seconds of sample.values) latencies.addMetric(metric, MetricUnit.Milliseconds, seconds * 1000);
    latencies.publishStoredMetrics();
  };
  /**
   * The observations since the last flush, per family (the `service` total) and per labelled series (a series
   * without labels is its family's total).
   */
  const families = new Map<string, Sample>();
  const series = new Map<string, Sample>();
  const take = (map: Map<string, Sample>, id: string, name: string, key: string, seconds: number) => {
    let sample = map.get(id);
    if (sample === undefined) {
      if (map.size >= 4 * maxSeries) return;
      sample = { name, key, values: [], seen: 0 };
      map.set(id, sample);
    }
    sampled(sample, seconds);
  };
  registry.onObserve((name, seconds, key) => {
    take(families, name, name, '', seconds);
    if (key !== '') take(series, `${name}${key}`, name, key, seconds);
  });
  return {
    flush() {
      let written = 0;
      /** Each family's increase across its series: also written with the `service` dimension alone (alarms). */
      const totals = new Map<string, number>();
      for (const { name, labels, value } of registry.counters()) {
        const id = `${name}${JSON.stringify(labels)}`;
        const before = published.get(id) ?? 0;
        if (value <= before) continue;
        if (written >= maxSeries) break;
        totals.set(name, (totals.get(name) ?? 0) + (value - before));
        write(name, value - before, Object.entries(labels).slice(0, MAX_DIMENSIONS));
        published.set(id, value);
        written += 1;
      }
      for (const [name, increase] of totals) write(name, increase);
      // Each family's sample first (the `service` totals the dashboard reads), then the series' up to the bound;
      // the latencies of series past it are dropped, not carried over (they are samples).
      for (const sample of families.values()) writeSample(sample);
      for (const sample of series.values()) {
        if (written >= maxSeries) break;
        writeSample(sample);
        written += 1;
      }
      families.clear();
      series.clear();
      return written;
    },
    async flushGauges(onError) {
      await registry.refresh(onError);
      let written = 0;
      /** Each labelled family's total across its series: a sum, or the largest for an age. */
      const totals = new Map<string, number>();
      for (const { name, key, value } of registry.gauges()) {
        if (written >= maxSeries) break;
        const unit = name.endsWith('_seconds') ? MetricUnit.Seconds : MetricUnit.Count;
        const labels = Object.entries(Metrics.labelsOf(key)).slice(0, MAX_DIMENSIONS);
        if (labels.length > 0) {
          const total = totals.get(name);
          const age = name.includes('_age_');
          totals.set(name, total === undefined ? value : age ? Math.max(total, value) : total + value);
        }
        write(name, value, labels, unit);
        written += 1;
      }
      for (const [name, total] of totals) {
        write(name, total, [], name.endsWith('_seconds') ? MetricUnit.Seconds : MetricUnit.Count);
      }
      return written;
    },
  };
}
