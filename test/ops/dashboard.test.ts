/**
 * The Grafana dashboard (ops/grafana/junction.json): its structure, and that every metric its expressions and the
 * alerting rules name is one a real bus exposes on /metrics, so neither can drift from the code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/paths.ts';
import { exposedMetrics } from './exposed.ts';

interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { h: number; w: number; x: number; y: number };
  readonly datasource?: { uid?: string };
  readonly targets?: Array<{ refId: string; expr: string }>;
}

interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly schemaVersion: number;
  readonly templating: { list: Array<{ name: string; type: string; query?: unknown }> };
  readonly panels: Panel[];
}

const dashboard = JSON.parse(
  readFileSync(join(repoRoot, 'ops', 'grafana', 'junction.json'), 'utf8'),
) as Dashboard;
const alertExprs = (
  parse(readFileSync(join(repoRoot, 'ops', 'prometheus', 'junction-alerts.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
  }
).groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
const panelExprs = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr })),
);

/** The metric names an expression uses (Junction's are all `junction_…`). */
function metricsOf(expr: string): string[] {
  return [...expr.matchAll(/\b(?:junction|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0]);
}

describe('the Grafana dashboard', () => {
  test('is a dashboard of a current Grafana with a bus variable every query filters on', () => {
    assert.equal(dashboard.uid, 'junction-bus');
    assert.ok(dashboard.schemaVersion >= 39, `schemaVersion ${dashboard.schemaVersion} (Grafana 10.4+)`);
    const bus = dashboard.templating.list.find((v) => v.name === 'bus');
    assert.equal(bus?.type, 'query');
    assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'));
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const panel of dashboard.panels) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template string
      assert.equal(panel.datasource?.uid, '${datasource}', `${panel.title} uses the datasource variable`);
      assert.ok(panel.gridPos.x + panel.gridPos.w <= 24, `${panel.title} fits the 24-column grid`);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title} has a query`);
      for (const target of panel.targets ?? []) {
        // The process's own series (docs/operations.md#process-metrics) have no bus label: every bus shares them.
        const names = metricsOf(target.expr);
        assert.ok(names.length > 0, `${panel.title} ${target.refId} reads a metric`);
        if (names.every((m) => /^(process|nodejs)_/.test(m))) {
          assert.doesNotMatch(
            target.expr,
            /bus=/,
            `${panel.title} ${target.refId}: process series have no bus`,
          );
          continue;
        }
        assert.match(target.expr, /bus=~"\$bus"/, `${panel.title} ${target.refId} filters on $bus`);
      }
    }
    const used = new Set(panelExprs.flatMap((e) => metricsOf(e.expr)));
    for (const name of [
      'junction_events_in_total',
      'junction_events_matched_total',
      'junction_rule_matches_total',
      'junction_deliveries_total',
      'junction_target_pending',
      'junction_dead_letters_total',
      'junction_target_dead_letters',
      'junction_router_lag_events',
      'junction_delivery_latency_seconds_bucket',
      'junction_events_rejected_total',
    ]) {
      assert.ok(used.has(name), `a panel shows ${name}`);
    }
  });

  test('and the alerts use only metrics a real bus exposes on /metrics', async () => {
    const { names } = await exposedMetrics();
    const unknown = [...panelExprs, ...alertExprs].flatMap(({ where, expr }) =>
      metricsOf(expr)
        .filter((name) => !names.has(name))
        .map((name) => `${where}: ${name}`),
    );
    assert.deepEqual(unknown, [], `metrics missing from /metrics (exposed: ${[...names].join(' ')})`);
    assert.ok(names.has('junction_delivery_latency_seconds_bucket'), 'the histogram is exposed');
  });
});
