/** The metric names a real bus exposes on `/metrics`, for the tests that keep the alerts and dashboard in step. */

import { request, startTestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { startHttpTarget } from '../helpers/http-target.ts';

/**
 * Starts a bus with a rule whose target fails, publishes an event, waits for a failed attempt, and answers the
 * sample names of `/metrics` (histograms appear as their `_bucket`, `_sum` and `_count` series) and the text.
 */
export async function exposedMetrics(): Promise<{ names: Set<string>; text: string }> {
  const target = await startHttpTarget(() => ({ status: 503 }));
  const bus = await startTestBus();
  try {
    const rule = await request(bus.url, 'PUT', '/rules/ops-drift', {
      pattern: { source: ['/ops'] },
      targets: [{ id: 'sink', type: 'http', url: `${target.url}/in` }],
    });
    if (rule.status !== 201) throw new Error(`rule: ${rule.status} ${JSON.stringify(rule.body)}`);
    const sent = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'ops-1', source: '/ops', type: 'ops.checked' },
      { 'content-type': 'application/cloudevents+json' },
    );
    if (sent.status !== 202) throw new Error(`event: ${sent.status} ${JSON.stringify(sent.body)}`);
    let text = '';
    await waitFor(async () => {
      text = await (await fetch(`${bus.url}/metrics`)).text();
      return /junction_deliveries_total\{[^}]*outcome="[^"]*"[^}]*\} [1-9]/.test(text);
    }, 'a delivery attempt in /metrics');
    const names = new Set<string>();
    for (const line of text.split('\n')) {
      const match = /^(?:# TYPE )?([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
      if (match === null || line.startsWith('# HELP')) continue;
      const name = match[1] as string;
      names.add(name);
      if (line.startsWith('# TYPE ') && line.endsWith(' histogram'))
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    }
    return { names, text };
  } finally {
    await bus.stop();
    await target.close();
  }
}
