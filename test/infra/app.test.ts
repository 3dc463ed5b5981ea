/** bin/app.ts, the CDK app of `npx cdk synth`: context options, and cdk-nag failing the synth on a finding. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { repoRoot, tempDir } from '../helpers/paths.ts';
import { cdkJsonContext } from './synth-fixture.ts';

const out = tempDir('junction-cdk-app-');
after(() => out.remove());

/** Runs the app as the CDK CLI does: cdk.json's context and the given one in CDK_CONTEXT_JSON, the assembly into CDK_OUTDIR. */
function runApp(context: Record<string, unknown>, outdir: string): { status: number | null; output: string } {
  const result = spawnSync(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', join(repoRoot, 'bin', 'app.ts')],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJsonContext, ...context }),
      },
      encoding: 'utf8',
    },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

interface PluginReport {
  readonly pluginName: string;
  readonly violations: ReadonlyArray<{ readonly ruleName: string; readonly severity?: string }>;
}

/**
 * The report's findings but the construct annotations' warnings, which the feature flag
 * `@aws-cdk/core:annotationsInValidationReport` (cdk.json) adds to it (e.g. the stack's no-NAT warning).
 */
function nagReports(reports: readonly PluginReport[]): PluginReport[] {
  return reports
    .map((r) =>
      r.pluginName === 'Construct Annotations'
        ? { ...r, violations: r.violations.filter((v) => v.severity !== 'warning' && v.severity !== 'info') }
        : r,
    )
    .filter((r) => r.violations.length > 0);
}

describe('bin/app.ts', () => {
  test('synthesizes the named stack with MSK Serverless, with cdk-nag enabled and nothing reported', () => {
    const outdir = join(out.path, 'serverless');
    const run = runApp({ nag: 'true', kafkaClusterType: 'serverless', stackName: 'JunctionTest' }, outdir);
    assert.equal(run.status, 0, run.output);
    const template = JSON.parse(readFileSync(join(outdir, 'JunctionTest.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string }>;
    };
    const types = Object.values(template.Resources).map((r) => r.Type);
    assert.ok(types.includes('AWS::MSK::ServerlessCluster'));
    assert.ok(!types.includes('AWS::MSK::Cluster'));
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: PluginReport[];
    };
    assert.deepEqual(nagReports(report.pluginReports), []);
  });

  test('adds the buses of -c buses=… (with their retention), with cdk-nag enabled and nothing reported', () => {
    const outdir = join(out.path, 'buses');
    const run = runApp({ nag: 'true', buses: 'orders:3d,billing', 'aws:cdk:bundling-stacks': [] }, outdir);
    assert.equal(run.status, 0, run.output);
    const template = JSON.parse(readFileSync(join(outdir, 'Junction.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const mappings = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping')
      .map((r) => (r.Properties.Topics as string[]).join())
      .sort();
    assert.deepEqual(mappings, ['junction-events', 'junction-events.billing', 'junction-events.orders']);
    const retentions = Object.values(template.Resources)
      .filter((r) => r.Type === 'Custom::JunctionKafkaTopic')
      .map((r) => `${r.Properties.Topic} ${r.Properties.RetentionMs ?? '-'}`)
      .sort();
    assert.deepEqual(retentions, [
      'junction-events -',
      'junction-events.billing -',
      'junction-events.orders 259200000',
    ]);
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: PluginReport[];
    };
    assert.deepEqual(nagReports(report.pluginReports), []);
  });

  test('refuses a bad -c buses=… in one line that names the entry, with no stack trace', () => {
    const run = runApp({ buses: 'orders,no/slash' }, join(out.path, 'bad'));
    assert.equal(run.status, 1, run.output);
    assert.equal(
      run.output.trim(),
      `junction cdk app: -c buses: the bus name in 'no/slash' must be 1-64 of [A-Za-z0-9._-] starting with a letter or digit, got "no/slash"`,
    );
  });
});
