/**
 * The Prometheus alerting rules (ops/prometheus/junction-alerts.yml): `promtool check rules`, then `promtool test rules`
 * (for each alert, series that fire it and series that do not). Skips with a message when promtool is missing, but
 * fails under CI=true (.ci/run installs it with Debian's `prometheus` package).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/paths.ts';

const dir = join(repoRoot, 'ops', 'prometheus');
const rulesFile = join(dir, 'junction-alerts.yml');
const testsFile = join(dir, 'junction-alerts.test.yml');

function promtoolMissing(): string | false {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (probe.error === undefined && probe.status === 0) return false;
  const message =
    'promtool is not installed (apt-get install prometheus, or a Prometheus release); CI installs it in .ci/run';
  if (process.env.CI === 'true') throw new Error(message);
  return message;
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly annotations?: Record<string, string>;
}

const alerts = (
  parse(readFileSync(rulesFile, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> }
).groups.flatMap((g) => g.rules);

describe('alerting rules', () => {
  test('cover what issue #17 asks for, each with a summary, a description and a runbook section', () => {
    const names = alerts.map((a) => a.alert);
    for (const name of [
      'JunctionDeadLettersGrowing',
      'JunctionDeliveryErrorRatio',
      'JunctionRetryBacklogOld',
      'JunctionRouterLag',
      'JunctionIngestRateLimited',
      'JunctionIngestRejected',
      'JunctionFunctionTimeouts',
    ]) {
      assert.ok(names.includes(name), `${name} in ${rulesFile}`);
    }
    const runbook = readFileSync(join(repoRoot, 'docs', 'operations.md'), 'utf8');
    for (const alert of alerts) {
      assert.ok(alert.annotations?.summary, `${alert.alert} has a summary`);
      assert.ok(alert.annotations?.description, `${alert.alert} has a description`);
      const anchor = `docs/operations.md#${alert.alert.toLowerCase()}`;
      assert.ok(alert.annotations?.description?.includes(anchor), `${alert.alert} links ${anchor}`);
      assert.ok(
        runbook.includes(`### ${alert.alert}\n`),
        `docs/operations.md has a section ### ${alert.alert}`,
      );
    }
  });

  test('every alert has a unit test that fires it', () => {
    const tests = (
      parse(readFileSync(testsFile, 'utf8')) as {
        tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
      }
    ).tests.flatMap((t) => t.alert_rule_test);
    for (const alert of alerts) {
      assert.ok(
        tests.some((t) => t.alertname === alert.alert && t.exp_alerts.length > 0),
        `${alert.alert} fires in a case of ${testsFile}`,
      );
    }
  });

  test('pass promtool check rules', (t) => {
    const missing = promtoolMissing();
    if (missing) return t.skip(missing);
    const run = promtool('check', 'rules', rulesFile);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${alerts.length} rules found`));
  });

  test('pass promtool test rules (each alert fires on its series and not on the others)', (t) => {
    const missing = promtoolMissing();
    if (missing) return t.skip(missing);
    const run = promtool('test', 'rules', testsFile);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /SUCCESS/);
  });
});
