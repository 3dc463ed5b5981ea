/**
 * CloudWatch metrics from the Lambda handlers (issue #15), in the Embedded Metric Format through Powertools for AWS
 * Lambda's Metrics (the convention for Node.js Lambdas): after each invocation, every counter of the engine's
 * registry that moved since the last flush is written to the function's log as one EMF record per series — its
 * labels (`bus`, `rule`, `target`, `code`) as dimensions, the increase as the value — and CloudWatch turns them into
 * metrics. Counters only: events accepted, matched, delivered, retried, dead-lettered and the rest of `/metrics`'s
 * counter families, summed across instances by CloudWatch (the `/metrics` endpoint counts one instance only). Each
 * family's increase across its series is written once more with the `service` dimension (the bus) alone: the bus's
 * totals, which alarms and the dashboard read (a CloudWatch alarm cannot sum a search over dimension sets).
 */
import { MetricUnit, Metrics as Powertools } from '@aws-lambda-powertools/metrics';
import type { Metrics } from '../../engine/metrics.ts';

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
  /** Writes the counters' increases since the last flush; answers how many series were written. */
  flush(): number;
}

/** CloudWatch allows at most 30 dimensions; Junction's series carry at most five labels. */
const MAX_DIMENSIONS = 29;

export function createEmfPublisher(registry: Metrics, options: EmfOptions = {}): EmfPublisher {
  const namespace = options.namespace ?? 'Junction';
  const serviceName = options.serviceName ?? 'junction';
  const maxSeries = options.maxSeries ?? 500;
  const published = new Map<string, number>();
  const powertools = new Powertools({ namespace, serviceName });
  /** One EMF record: a metric of its own, with these dimensions (besides `service`). */
  const write = (name: string, increase: number, dimensions: ReadonlyArray<[string, string]> = []) => {
    const single = powertools.singleMetric();
    // Powertools writes through its `console` property (a Console on stdout): a given output replaces it.
    if (options.output !== undefined) (single as unknown as { console: unknown }).console = options.output;
    for (const [k, v] of dimensions) single.addDimension(k, v === '' ? '-' : v.slice(0, 1024));
    single.addMetric(name, MetricUnit.Count, increase);
    single.publishStoredMetrics();
  };
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
      return written;
    },
  };
}
