/** Several buses in one JunctionStack: each its own topic, tables, mapping, handlers and IAM; VPC and MSK shared. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { TABLES } from '../../lib/adapters/dynamodb/tables.ts';
import {
  busResourceNames,
  functionPrefixOf,
  JunctionBus,
  JunctionStack,
  MAX_STACK_BUSES,
  parseBusesContext,
} from '../../lib/infra/index.ts';
import { fixturesDir, logicalId, type Synthesized, synthStack } from './synth-fixture.ts';

const noBundling = { bundle: false } as const;
const BUSES = [{ name: 'orders', retention: Duration.days(3) }, { name: 'billing.eu' }] as const;

/** A CloudFormation expression as one string: `${LogicalId.Attr}` for references, `<sel>` for Fn::Select. */
function render(expression: unknown): string {
  if (typeof expression === 'string') return expression;
  if (Array.isArray(expression)) return expression.map(render).join(',');
  if (typeof expression !== 'object' || expression === null) return String(expression);
  const e = expression as Record<string, unknown>;
  if ('Ref' in e) return `\${${String(e.Ref)}}`;
  if ('Fn::GetAtt' in e) return `\${${(e['Fn::GetAtt'] as string[]).join('.')}}`;
  if ('Fn::Join' in e) {
    const [separator, parts] = e['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  if ('Fn::Select' in e) return '<sel>';
  return JSON.stringify(e);
}

/** What belongs to one bus: the references and names another bus's policies must never contain. */
interface Owned {
  readonly name: string;
  /** Logical ids of its tables, failure bucket and user-function role. */
  readonly logicalIds: readonly string[];
  readonly topic: string;
  readonly group: string;
  readonly functionPrefix: string;
}

function ownedBy(bus: JunctionBus): Owned {
  return {
    name: bus.busName,
    logicalIds: [
      ...Object.values(bus.tables).map((t) => logicalId(t)),
      logicalId(bus.failureBucket),
      logicalId(bus.functionRole),
    ],
    topic: bus.topic,
    group: bus.consumerGroup,
    functionPrefix: bus.functionPrefix,
  };
}

/** Does a rendered resource of a policy name something of `owned`? */
function grantsOn(resource: string, owned: Owned): boolean {
  return (
    owned.logicalIds.some((id) => resource.includes(`\${${id}.`) || resource.includes(`\${${id}}`)) ||
    resource.endsWith(`:topic/<sel>/<sel>/${owned.topic}`) ||
    resource.endsWith(`:group/<sel>/<sel>/${owned.group}`) ||
    resource.includes(`:function:${owned.functionPrefix}`) ||
    resource.includes(`/aws/lambda/${owned.functionPrefix}`)
  );
}

/** Every rendered resource of every policy statement attached to the roles under `bus` (its handlers, its roles). */
function resourcesOfBusRoles(stack: Stack, template: Template, bus: JunctionBus): string[] {
  const roleIds = new Set(
    bus.node
      .findAll()
      .filter((c): c is iam.Role => c instanceof iam.Role)
      .map((r) => stack.getLogicalId(r.node.defaultChild as CfnElement)),
  );
  assert.ok(roleIds.size >= 6, `${bus.busName}: its handlers, function and deploy roles (${roleIds.size})`);
  const out: string[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const props = policy.Properties as {
      Roles?: { Ref: string }[];
      PolicyDocument: { Statement: { Resource: unknown }[] };
    };
    if (!(props.Roles ?? []).some((r) => roleIds.has(r.Ref))) continue;
    for (const statement of props.PolicyDocument.Statement) {
      const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
      out.push(...resources.map(render));
    }
  }
  return out;
}

/** Each bus's roles grant on its own things and on nothing of another bus: the violations found. */
function crossBusGrants(stack: JunctionStack, template: Template): string[] {
  const buses = [...stack.buses.values()];
  const found: string[] = [];
  for (const bus of buses) {
    const resources = resourcesOfBusRoles(stack, template, bus);
    for (const other of buses) {
      if (other === bus) continue;
      const owned = ownedBy(other);
      for (const r of resources) {
        if (grantsOn(r, owned)) found.push(`${bus.busName} -> ${other.busName}: ${r}`);
      }
    }
  }
  return found;
}

let synth: Synthesized;
let stack: JunctionStack;

before(() => {
  synth = synthStack({ functionsDir: join(fixturesDir, 'user-functions') }, { ...noBundling, buses: BUSES });
  stack = synth.stack;
});

const resources = (type: string) => Object.values(synth.template.findResources(type));

describe('several buses in one stack', () => {
  test('builds the default bus first, then the listed ones, sharing one VPC and one MSK cluster', () => {
    assert.deepEqual([...stack.buses.keys()], ['default', 'orders', 'billing.eu']);
    assert.equal(stack.bus, stack.buses.get('default'));
    synth.template.resourceCountIs('AWS::EC2::VPC', 1);
    synth.template.resourceCountIs('AWS::MSK::Cluster', 1);
    synth.template.resourceCountIs('Custom::AWS', 1); // one bootstrap-broker lookup, shared
    synth.template.resourceCountIs('AWS::ApiGatewayV2::Api', 3);
    synth.template.resourceCountIs('AWS::S3::Bucket', 3);
    synth.template.resourceCountIs('AWS::Events::Rule', 3);
    const cluster = stack.bus.kafkaCluster.clusterArn;
    for (const bus of stack.buses.values()) {
      assert.equal(bus.vpc, stack.bus.vpc);
      assert.equal(bus.network, stack.bus.network);
      assert.equal(bus.kafkaCluster.clusterArn, cluster);
      assert.equal(bus.bootstrapBrokers, stack.bus.bootstrapBrokers);
    }
  });

  test('gives each bus its own topic and mapping with its own consumer group', () => {
    const mappings = resources('AWS::Lambda::EventSourceMapping').map((m) => {
      const p = m.Properties as {
        Topics: string[];
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: string };
        EventSourceArn: unknown;
        FunctionName: { Ref: string };
      };
      return {
        topics: p.Topics,
        group: p.AmazonManagedKafkaEventSourceConfig.ConsumerGroupId,
        cluster: render(p.EventSourceArn),
        fn: p.FunctionName.Ref,
      };
    });
    assert.deepEqual(mappings.map((m) => `${m.topics.join()} ${m.group}`).sort(), [
      'junction-events junction-router',
      'junction-events.billing.eu junction-router.billing.eu',
      'junction-events.orders junction-router.orders',
    ]);
    assert.equal(new Set(mappings.map((m) => m.cluster)).size, 1, 'one cluster');
    const routers = [...stack.buses.values()].map((b) => logicalId(b.routerFunction)).sort();
    assert.deepEqual(mappings.map((m) => m.fn).sort(), routers, "each bus's own router");
  });

  test('gives each bus its own six tables, named after the bus', () => {
    const names = resources('AWS::DynamoDB::GlobalTable').map(
      (t) => (t.Properties as { TableName: string }).TableName,
    );
    assert.equal(names.length, 18);
    assert.equal(new Set(names).size, 18);
    for (const [bus, prefix] of [
      ['default', 'junction'],
      ['orders', 'junction.orders'],
      ['billing.eu', 'junction.billing.eu'],
    ] as const) {
      assert.equal(stack.buses.get(bus)?.tablePrefix, prefix);
      for (const table of Object.values(TABLES)) assert.ok(names.includes(`${prefix}-${table.suffix}`));
    }
  });

  test("configures each bus's four handlers with its bus, tables and topic, and its topic resource with its retention", () => {
    for (const bus of stack.buses.values()) {
      for (const fn of [bus.ingestFunction, bus.routerFunction, bus.apiFunction, bus.schedulerFunction]) {
        const resource = synth.template.findResources('AWS::Lambda::Function')[logicalId(fn)];
        assert.ok(resource, logicalId(fn));
        const env = (resource.Properties as { Environment: { Variables: Record<string, unknown> } })
          .Environment.Variables;
        assert.equal(env.JUNCTION_BUS, bus.busName);
        assert.equal(env.JUNCTION_TABLE_PREFIX, busResourceNames(bus.busName).tablePrefix);
        assert.equal(env.JUNCTION_KAFKA_TOPIC, busResourceNames(bus.busName).topic);
        assert.equal(env.JUNCTION_FUNCTION_PREFIX, functionPrefixOf(bus.busName));
        assert.equal(env.JUNCTION_KAFKA_RETENTION_MS, undefined, "retention is the topic resource's");
      }
      const topic = synth.template.findResources('Custom::JunctionKafkaTopic')[
        logicalId(bus.eventsTopicResource)
      ]?.Properties as Record<string, unknown>;
      assert.equal(topic.Topic, busResourceNames(bus.busName).topic);
      assert.equal(topic.RetentionMs, bus.busName === 'orders' ? String(3 * 86_400_000) : undefined);
    }
  });

  test("names each bus's user functions with its own prefix, and no prefix is the start of another", () => {
    const names = resources('AWS::Lambda::Function')
      .map((f) => (f.Properties as { FunctionName?: string }).FunctionName)
      .filter((n): n is string => n !== undefined)
      .sort();
    const prefixes = [...stack.buses.values()].map((b) => b.functionPrefix);
    assert.equal(prefixes[0], 'junction-fn-');
    for (const p of prefixes.slice(1)) assert.match(p, /^jfn-[0-9a-f]{10}-$/);
    for (const a of prefixes) {
      for (const b of prefixes) if (a !== b) assert.ok(!b.startsWith(a), `${a} is a prefix of ${b}`);
    }
    assert.deepEqual(names, prefixes.flatMap((p) => [`${p}audit`, `${p}enrich-order`]).sort());
  });

  test("grants no role of one bus anything of another bus's (tables, topic, group, functions, bucket)", () => {
    assert.deepEqual(crossBusGrants(stack, synth.template), []);
    // And each bus's router does hold its own: the check looks at the right statements.
    for (const bus of stack.buses.values()) {
      const own = resourcesOfBusRoles(stack, synth.template, bus);
      const mine = ownedBy(bus);
      for (const id of mine.logicalIds) {
        assert.ok(
          own.some((r) => r.includes(`\${${id}`)),
          `${bus.busName}: ${id}`,
        );
      }
      assert.ok(own.some((r) => r.endsWith(`:topic/<sel>/<sel>/${mine.topic}`)));
      assert.ok(own.some((r) => r.endsWith(`:group/<sel>/<sel>/${mine.group}`)));
      assert.ok(own.some((r) => r.includes(`:function:${mine.functionPrefix}*`)));
    }
  });

  test("lets each bus's roles invoke, change, tag and delete only functions tagged junction:managed=<its bus>", () => {
    /** Actions that act on a function and must be bound to the bus's tag (by the resource's or the request's). */
    const tagBound = new Map([
      ['lambda:InvokeFunction', 'aws:ResourceTag/junction:managed'],
      ['lambda:DeleteFunction', 'aws:ResourceTag/junction:managed'],
      ['lambda:UpdateFunctionCode', 'aws:ResourceTag/junction:managed'],
      ['lambda:UpdateFunctionConfiguration', 'aws:ResourceTag/junction:managed'],
      ['lambda:CreateFunction', 'aws:RequestTag/junction:managed'],
      ['lambda:TagResource', 'aws:RequestTag/junction:managed'],
    ]);
    const policies = Object.values(synth.template.findResources('AWS::IAM::Policy'));
    for (const bus of stack.buses.values()) {
      const roleIds = new Set(
        bus.node
          .findAll()
          .filter((c): c is iam.Role => c instanceof iam.Role)
          .map((r) => stack.getLogicalId(r.node.defaultChild as CfnElement)),
      );
      const seen = new Set<string>();
      for (const policy of policies) {
        const props = policy.Properties as {
          Roles?: { Ref: string }[];
          PolicyDocument: { Statement: { Action: string | string[]; Condition?: Record<string, unknown> }[] };
        };
        if (!(props.Roles ?? []).some((r) => roleIds.has(r.Ref))) continue;
        for (const statement of props.PolicyDocument.Statement) {
          const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
          for (const action of actions) {
            const key = tagBound.get(action);
            if (key === undefined) continue;
            seen.add(action);
            const equals = statement.Condition?.StringEquals as Record<string, unknown> | undefined;
            assert.equal(equals?.[key], bus.busName, `${bus.busName}: ${action} needs ${key}=${bus.busName}`);
          }
        }
      }
      assert.deepEqual(
        [...seen].sort(),
        [...tagBound.keys()].sort(),
        `${bus.busName}: every bound action seen`,
      );
      // Its own functions carry its tag; its deploy role trusts only principals tagged as its deployers.
      for (const fn of bus.userFunctions.values()) {
        const tags = (
          synth.template.findResources('AWS::Lambda::Function')[logicalId(fn)]!.Properties as {
            Tags: { Key: string; Value: string }[];
          }
        ).Tags;
        assert.deepEqual(
          tags.find((t) => t.Key === 'junction:managed'),
          { Key: 'junction:managed', Value: bus.busName },
        );
      }
      const trust = (
        synth.template.findResources('AWS::IAM::Role')[logicalId(bus.deployRole)]!.Properties as {
          AssumeRolePolicyDocument: { Statement: { Condition?: unknown }[] };
        }
      ).AssumeRolePolicyDocument.Statement;
      assert.deepEqual(
        trust.map((t) => t.Condition),
        [{ StringEquals: { 'aws:PrincipalTag/junction:deployer': bus.busName } }],
      );
    }
  });

  test('the isolation check finds a grant across buses when one is made (it is live)', () => {
    // Built here, not with synthStack: a stack synthesized once keeps its first template.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const s = new JunctionStack(app, 'Junction', { buses: [{ name: 'orders' }] });
    const orders = s.buses.get('orders') as JunctionBus;
    orders.tables.rules.grantReadData(s.bus.apiFunction);
    const found = crossBusGrants(s, Template.fromStack(s));
    assert.ok(
      found.some((f) => f.startsWith('default -> orders:')),
      found.join('\n'),
    );
  });

  test('keeps the one-bus stack unchanged, and its resources keep their logical ids with more buses', () => {
    const single = synthStack({}, noBundling).template.toJSON();
    const listed = synthStack({}, { ...noBundling, buses: [{ name: 'default' }] }).template.toJSON();
    assert.deepEqual(listed, single);
    const multi = synthStack({}, { ...noBundling, buses: BUSES }).template.toJSON() as {
      Resources: Record<string, { Type: string }>;
      Outputs: Record<string, unknown>;
    };
    for (const [id, resource] of Object.entries(single.Resources as Record<string, { Type: string }>)) {
      assert.equal(multi.Resources[id]?.Type, resource.Type, id);
    }
    for (const id of Object.keys(single.Outputs as object)) assert.ok(id in multi.Outputs, id);
  });

  test("outputs each other bus's URL, name, topic, tables, roles, function prefix and failure bucket", () => {
    const outputs = synth.template.toJSON().Outputs as Record<
      string,
      { Value: unknown; Description: string }
    >;
    for (const name of ['orders', 'billing.eu']) {
      const mine = Object.entries(outputs).filter(([, o]) => o.Description.includes(`bus ${name}`));
      const kinds = mine
        .map(([id]) => id.replace(/^Bus[a-z]+Outputs/, '').replace(/[0-9A-F]{8}$/, ''))
        .sort();
      assert.deepEqual(kinds, [
        'ApiUrl',
        'DeployRoleArn',
        'FailureBucket',
        'FunctionPrefix',
        'FunctionRoleArn',
        'KafkaTopic',
        'TablePrefix',
      ]);
    }
    const busNames = Object.values(outputs)
      .filter((o) => o.Description.startsWith('The bus (JUNCTION_BUS'))
      .map((o) => o.Value);
    assert.deepEqual(busNames.sort(), ['billing.eu', 'orders']);
  });

  test('applies a per-bus router setting to that bus only', () => {
    const { template } = synthStack(
      {},
      { ...noBundling, buses: [{ name: 'orders', router: { batchSize: 500 } }, { name: 'billing' }] },
    );
    const sizes = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'))
      .map((m) => {
        const p = m.Properties as { Topics: string[]; BatchSize: number };
        return `${p.Topics[0]} ${p.BatchSize}`;
      })
      .sort();
    assert.deepEqual(sizes, [
      'junction-events 100',
      'junction-events.billing 100',
      'junction-events.orders 500',
    ]);
  });

  test('reports no cdk-nag AwsSolutions finding', () => {
    const report = new AwsSolutionsChecks(synth.app, { verbose: true }).validateScope(stack);
    assert.deepEqual(
      report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath)}`),
      [],
    );
  });
});

describe('bus names and settings', () => {
  const build = (props: ConstructorParameters<typeof JunctionStack>[2]) => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    return new JunctionStack(app, 'Junction', props);
  };

  test('rejects a bad name, naming the field and showing the value', () => {
    for (const name of ['', '.orders', '-x', 'a/b', 'a b', 'é', 'x'.repeat(65)]) {
      assert.throws(
        () => build({ buses: [{ name }] }),
        (e: Error) =>
          e.message ===
          `JunctionStack: buses[].name must be 1-64 of [A-Za-z0-9._-] starting with a letter or digit, got ${JSON.stringify(name)}`,
        name,
      );
    }
    assert.doesNotThrow(() => build({ buses: [{ name: `a${'b'.repeat(63)}` }, { name: 'a.b_c-1' }] }));
  });

  test('rejects a name listed twice, too many buses, and a busName for every bus', () => {
    assert.throws(() => build({ buses: [{ name: 'a' }, { name: 'a' }] }), /the bus 'a' is listed twice/);
    const many = Array.from({ length: MAX_STACK_BUSES }, (_, i) => ({ name: `b${i}` }));
    assert.throws(() => build({ buses: many }), /at most 8 buses per stack .* got 9/);
    // The most buses stay under CloudFormation's 500 resources per stack.
    const largest = Template.fromStack(build({ buses: many.slice(1) })).toJSON() as { Resources: object };
    const count = Object.keys(largest.Resources).length;
    assert.ok(count <= 500, `${count} resources`);
    assert.throws(() => build({ bus: { busName: 'x' } }), /bus\.busName cannot be set \(got "x"\)/);
  });

  test("derives the other buses' names from the stack's topic and table prefix, or takes the bus's own", () => {
    const stack = build({
      bus: { topic: 'prod-events', tablePrefix: 'prod' },
      buses: [{ name: 'orders' }, { name: 'legacy', topic: 'legacy-events', tablePrefix: 'legacy' }],
    });
    const names = [...stack.buses.values()].map((b) => `${b.busName} ${b.topic} ${b.tablePrefix}`);
    assert.deepEqual(names, [
      'default prod-events prod',
      'orders prod-events.orders prod.orders',
      'legacy legacy-events legacy',
    ]);
  });

  test('rejects a topic or a table two buses would share, naming both buses', () => {
    assert.throws(
      () => build({ buses: [{ name: 'orders' }, { name: 'billing', topic: 'junction-events.orders' }] }),
      /the buses 'orders' and 'billing' would share the topic 'junction-events\.orders'/,
    );
    assert.throws(
      () => build({ buses: [{ name: 'a', tablePrefix: 'junction' }] }),
      /the buses 'default' and 'a' would share the table 'junction-rules'/,
    );
  });

  test('JunctionBus on its own: a named bus gets its own names, a bad busName is refused', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Own');
    const bus = new JunctionBus(stack, 'Orders', { busName: 'orders' });
    assert.deepEqual(
      [bus.busName, bus.topic, bus.tablePrefix, bus.consumerGroup, bus.functionPrefix],
      [
        'orders',
        'junction-events.orders',
        'junction.orders',
        'junction-router.orders',
        functionPrefixOf('orders'),
      ],
    );
    for (const busName of ['', 'a/b', 'x'.repeat(65)]) {
      assert.throws(
        () => new JunctionBus(stack, `Bad${busName.length}`, { busName }),
        (e: Error) =>
          e.message ===
          `JunctionBus: busName must be 1-64 of [A-Za-z0-9._-] starting with a letter or digit, got ${JSON.stringify(busName)}`,
      );
    }
  });

  test('rejects a retention outside 1 minute to 3650 days, and a shared network with a VPC of its own', () => {
    for (const retention of [Duration.seconds(59), Duration.days(3651)]) {
      assert.throws(
        () => build({ buses: [{ name: 'a', retention }] }),
        /JunctionBus: retention must be whole milliseconds from 1 minute to 3650 days/,
      );
    }
    const stack = build({});
    assert.throws(
      () =>
        new JunctionBus(stack, 'Other', {
          busName: 'other',
          sharedNetwork: stack.bus.network as NonNullable<JunctionBus['network']>,
          network: { natGateways: 1 },
        }),
      /sharedNetwork is the network of another bus; it cannot be combined with vpc or network/,
    );
  });
});

describe('parseBusesContext (-c buses=…)', () => {
  test('reads names with optional retentions', () => {
    const specs = parseBusesContext(' orders:3d, billing ,audit:12h,x:90m,,');
    assert.deepEqual(
      specs.map((s) => [s.name, s.retention?.toMilliseconds()]),
      [
        ['orders', 3 * 86_400_000],
        ['billing', undefined],
        ['audit', 12 * 3_600_000],
        ['x', 90 * 60_000],
      ],
    );
    assert.deepEqual(parseBusesContext(''), []);
  });

  test('rejects a bad entry, naming it', () => {
    assert.throws(() => parseBusesContext('orders,bad/name'), /the bus name in 'bad\/name' must be 1-64/);
    assert.throws(
      () => parseBusesContext('orders:3w'),
      /the retention in 'orders:3w' must be a whole number/,
    );
    assert.throws(
      () => parseBusesContext('orders:3d:x'),
      /'orders:3d:x' must be <name> or <name>:<retention>/,
    );
    assert.throws(() => parseBusesContext(':3d'), /the bus name in ':3d'/);
    assert.throws(() => parseBusesContext('a,'.repeat(6000)), /at most 10000 characters/);
  });
});
