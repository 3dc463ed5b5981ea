/** Reading the Prometheus text format of `/metrics` in tests. */

/**
 * The value of the series of `name` whose labels are exactly `labels` (in any order; none: the unlabelled series),
 * or undefined when the text has no such series.
 */
export function metricValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  const want = Object.entries(labels);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const got = new Map(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (got.size === want.length && want.every(([key, value]) => got.get(key) === value))
      return Number(match[3]);
  }
  return undefined;
}
