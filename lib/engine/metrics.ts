/** In-process metrics (counters, gauges, histograms) rendered as Prometheus text exposition format 0.0.4. */

type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels | undefined): string {
  if (!labels) return '';
  const parts = Object.keys(labels)
    .sort()
    .map(
      (k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
    );
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** The labels of a rendered key (`{a="x",b="y\\"z"}`), as `labelKey` escaped them. */
function parseLabelKey(key: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const m of key.matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/** How many rendered label keys a registry caches (cleared when full: label sets are bounded by rules × targets). */
const MAX_CACHED_KEYS = 10_000;

/** Latency buckets in seconds: 0.5 ms to 30 s. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

class Histogram {
  readonly buckets: readonly number[];
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(buckets: readonly number[]) {
    this.buckets = buckets;
    this.counts = new Array(buckets.length).fill(0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= (this.buckets[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }
}

interface Family {
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly values: Map<string, number | Histogram>;
}

export class Metrics {
  readonly #families = new Map<string, Family>();
  readonly #collectors: Array<() => Promise<void>> = [];
  /** Called with every observation (the EMF publisher samples them); none in the embedded bus. */
  readonly #observers: Array<(name: string, seconds: number, key: string) => void> = [];
  /** Rendered label keys of up to three labels, by their names and values in insertion order (bounded). */
  readonly #keys = new Map<string, string>();
  /** The constant labels (e.g. `bus="orders"`) every series of this registry carries, rendered; '' for none. */
  readonly #constant: string;

  /** `labels` go on every series (a bus's registry carries `bus`). */
  constructor(labels?: Labels) {
    const key = labelKey(labels);
    this.#constant = key === '' ? '' : key.slice(1, -1);
  }

  /** The series keys of frozen labels objects: a caller that passes the same frozen labels has them keyed once. */
  readonly #frozenKeys = new WeakMap<Labels, string>();

  #key(labels: Labels | undefined): string {
    if (labels === undefined) return this.#constant === '' ? '' : `{${this.#constant}}`;
    // Frozen labels (a dispatcher lane's) are keyed once per object.
    const frozen = Object.isFrozen(labels);
    if (frozen) {
      const found = this.#frozenKeys.get(labels);
      if (found !== undefined) return found;
    }
    const full = this.#cached(labels);
    if (frozen) this.#frozenKeys.set(labels, full);
    return full;
  }

  /** The hot path (a match per rule, an attempt per target) has one to three labels: their rendered key is cached. */
  #cached(labels: Labels): string {
    let id = '';
    let n = 0;
    for (const k in labels) {
      const value = String(labels[k]);
      // A value holding the separator could make two label sets one id: those are not cached.
      if (++n > 3 || value.includes('\u0000')) {
        n = 4;
        break;
      }
      id += `${k}\u0000${value}\u0000`;
    }
    if (n > 3) return this.#render(labels);
    const cached = this.#keys.get(id);
    if (cached !== undefined) return cached;
    const rendered = this.#render(labels);
    if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
    this.#keys.set(id, rendered);
    return rendered;
  }

  #render(labels: Labels | undefined): string {
    const key = labelKey(labels);
    return this.#constant === ''
      ? key
      : key === ''
        ? `{${this.#constant}}`
        : `{${this.#constant},${key.slice(1)}`;
  }

  #family(name: string, type: Family['type'], help: string): Family {
    let family = this.#families.get(name);
    if (!family) {
      family = { help, type, values: new Map() };
      this.#families.set(name, family);
    }
    return family;
  }

  /** Declares a metric so that it is listed (at 0) before anything happened. */
  declare(name: string, type: Family['type'], help: string): void {
    this.#family(name, type, help);
  }

  inc(name: string, labels?: Labels, by = 1, help = ''): void {
    const family = this.#family(name, 'counter', help);
    const key = this.#key(labels);
    family.values.set(key, ((family.values.get(key) as number | undefined) ?? 0) + by);
  }

  set(name: string, value: number, labels?: Labels, help = ''): void {
    this.#family(name, 'gauge', help).values.set(this.#key(labels), value);
  }

  /** Drops every series of a metric (a collector that sets a gauge per rule clears the rules that went away). */
  clear(name: string): void {
    this.#families.get(name)?.values.clear();
  }

  /** Records an observation in seconds. */
  observe(name: string, seconds: number, labels?: Labels, help = ''): void {
    const family = this.#family(name, 'histogram', help);
    const key = this.#key(labels);
    let histogram = family.values.get(key) as Histogram | undefined;
    if (!histogram) {
      histogram = new Histogram(LATENCY_BUCKETS);
      family.values.set(key, histogram);
    }
    histogram.observe(seconds);
    for (const observer of this.#observers) observer(name, seconds, key);
  }

  /**
   * Calls `observer` with each observation from now on: the histogram's name, the value (seconds) and its series'
   * key (`labelsOf` reads it).
   */
  onObserve(observer: (name: string, seconds: number, key: string) => void): void {
    this.#observers.push(observer);
  }

  /** A series key's labels (the registry's constant ones included). */
  static labelsOf(key: string): Record<string, string> {
    return parseLabelKey(key);
  }

  /** A counter's current value (for tests and the CLI). */
  value(name: string, labels?: Labels): number {
    const v = this.#families.get(name)?.values.get(this.#key(labels));
    return typeof v === 'number' ? v : (v?.count ?? 0);
  }

  /** Registers a function that refreshes gauges before each render (e.g. router lag). */
  collect(collector: () => Promise<void>): void {
    this.#collectors.push(collector);
  }

  /** Runs the collectors (which refresh the gauges), each on its own: one that fails is reported, not fatal. */
  async refresh(onError: (error: unknown) => void = () => undefined): Promise<void> {
    await Promise.all(this.#collectors.map((c) => c().catch(onError)));
  }

  /** Every gauge series as last set: its name, its label key (`labelsOf` reads it) and its value. */
  *gauges(): Generator<{ name: string; key: string; value: number }> {
    for (const [name, family] of this.#families) {
      if (family.type !== 'gauge') continue;
      for (const [key, value] of family.values) if (typeof value === 'number') yield { name, key, value };
    }
  }

  /** Every counter series: its name, its labels (the registry's constant ones included) and its value. */
  *counters(): Generator<{ name: string; labels: Record<string, string>; value: number }> {
    for (const [name, family] of this.#families) {
      if (family.type !== 'counter') continue;
      for (const [key, value] of family.values) {
        if (typeof value === 'number') yield { name, labels: parseLabelKey(key), value };
      }
    }
  }

  async render(): Promise<string> {
    return Metrics.renderAll([this]);
  }

  /** Several registries (one per bus) as one exposition: each family once, with the series of every registry. */
  static async renderAll(registries: readonly Metrics[]): Promise<string> {
    await Promise.all(registries.flatMap((m) => m.#collectors.map((c) => c().catch(() => undefined))));
    const families = new Map<string, Family[]>();
    for (const registry of registries) {
      for (const [name, family] of registry.#families) {
        const list = families.get(name);
        if (list === undefined) families.set(name, [family]);
        else list.push(family);
      }
    }
    const lines: string[] = [];
    for (const [name, list] of families) {
      const first = list[0] as Family;
      lines.push(
        `# HELP ${name} ${list.find((f) => f.help !== '')?.help ?? name}`,
        `# TYPE ${name} ${first.type}`,
      );
      for (const family of list) {
        for (const [key, value] of family.values) {
          if (typeof value === 'number') {
            lines.push(`${name}${key} ${value}`);
            continue;
          }
          const inner = key === '' ? '' : key.slice(1, -1);
          const join = (le: string) => `{${inner}${inner ? ',' : ''}le="${le}"}`;
          let cumulative = 0;
          value.buckets.forEach((b, i) => {
            cumulative += value.counts[i] as number;
            lines.push(`${name}_bucket${join(String(b))} ${cumulative}`);
          });
          lines.push(`${name}_bucket${join('+Inf')} ${value.count}`);
          lines.push(`${name}_sum${key} ${value.sum}`, `${name}_count${key} ${value.count}`);
        }
      }
    }
    return `${lines.join('\n')}\n`;
  }
}

/**
 * Several expositions (the text format of `Metrics.render`) as one: each family once, its `HELP` and `TYPE` from the
 * first exposition that has it, followed by the series of every exposition in order (a bus in a process of its own
 * renders its series there; the deployment's `/metrics` merges them with its own). A series line before any
 * `HELP`/`TYPE` line is kept under a family of its own name.
 */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, { help?: string; type?: string; series: string[] }>();
  const familyOf = (name: string) => {
    let family = families.get(name);
    if (family === undefined) {
      family = { series: [] };
      families.set(name, family);
    }
    return family;
  };
  for (const text of texts) {
    let current: string | undefined;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta !== null) {
        current = meta[2] as string;
        const family = familyOf(current);
        if (meta[1] === 'HELP') family.help ??= line;
        else family.type ??= line;
        continue;
      }
      if (line.startsWith('#')) continue;
      familyOf(current ?? (/^[^\s{]+/.exec(line)?.[0] as string)).series.push(line);
    }
  }
  const lines: string[] = [];
  for (const { help, type, series } of families.values()) {
    if (help !== undefined) lines.push(help);
    if (type !== undefined) lines.push(type);
    lines.push(...series);
  }
  return `${lines.join('\n')}\n`;
}
