/** The default stack `bin/app.ts` deploys: one `JunctionBus` per bus (the default bus first) and their outputs. */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { TABLES } from '../adapters/dynamodb/tables.ts';
import { DEFAULT_BUS } from '../core/bus.ts';
import {
  assertBusName,
  busResourceNames,
  JunctionBus,
  type JunctionBusProps,
  type RouterOptions,
} from './junction-bus.ts';
import type { IJunctionKafkaCluster } from './kafka-cluster.ts';

/** One bus of a `JunctionStack`: its name and what differs from the stack's `bus` settings. */
export interface JunctionBusSpec {
  /** 1-64 of `[A-Za-z0-9._-]`, starting with a letter or digit. */
  readonly name: string;
  /** `retention.ms` of the bus's topic (see `JunctionBusProps.retention`). @default the stack's `bus.retention` */
  readonly retention?: Duration;
  /** The bus's router mapping (see `JunctionBusProps.router`). @default the stack's `bus.router` */
  readonly router?: RouterOptions;
  /**
   * The bus's topic, e.g. an existing one; no two buses may share one.
   * @default '<the stack's bus.topic, else junction-events>.<name>' ('junction-events' for the default bus)
   */
  readonly topic?: string;
  /**
   * The bus's table prefix, e.g. of existing tables; no two buses may share a table.
   * @default '<the stack's bus.tablePrefix, else junction>.<name>' ('junction' for the default bus)
   */
  readonly tablePrefix?: string;
}

export interface JunctionStackProps extends StackProps {
  /**
   * Settings of every bus. Its `topic` and `tablePrefix` are the default bus's, and the base of the others'
   * (`<topic>.<name>`, `<tablePrefix>.<name>`); its VPC and cluster settings make the ones all buses share.
   * @default the defaults of `JunctionBusProps`
   */
  readonly bus?: JunctionBusProps;
  /**
   * The buses of the stack. The default bus is always there, first (construct id `Bus`, the names of a one-bus
   * stack); list it to set its retention or router. Every other bus gets its own topic, tables, consumer group,
   * handlers, roles, API and failure bucket (construct id `Bus-<name>`), and shares the VPC and the MSK cluster.
   * @default only the default bus
   */
  readonly buses?: readonly JunctionBusSpec[];
}

/**
 * Most buses one stack holds. A bus is 52 CloudFormation resources (without user functions; 5 of them alarms) and the
 * shared VPC and cluster 28, the topic provider 8, the alarm topic and cluster alarms 4; a stack holds at most 500
 * (CloudFormation's quota): 8 buses are 456, 9 would be 508 (test/infra/buses.test.ts).
 */
export const MAX_STACK_BUSES = 8;

/** `retention` of a `-c buses=` entry: `<n>m`, `<n>h` or `<n>d`. */
const RETENTION = /^(\d{1,7})([mhd])$/;

/**
 * Parses the `buses` context of `bin/app.ts`: comma-separated names, each optionally with a retention after `:`
 * (`orders:3d,billing,audit:12h`). Throws naming the entry on a bad one.
 */
export function parseBusesContext(text: string): JunctionBusSpec[] {
  if (text.length > 10_000) throw new Error(`-c buses: at most 10000 characters, got ${text.length}`);
  const specs: JunctionBusSpec[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [name = '', retention, ...rest] = entry.split(':');
    if (rest.length > 0) throw new Error(`-c buses: '${entry}' must be <name> or <name>:<retention>`);
    assertBusName(name, `-c buses: the bus name in '${entry}'`);
    if (retention === undefined) {
      specs.push({ name });
      continue;
    }
    const match = RETENTION.exec(retention);
    if (match === null) {
      throw new Error(
        `-c buses: the retention in '${entry}' must be a whole number with m, h or d (e.g. 3d), got '${retention}'`,
      );
    }
    const amount = Number(match[1]);
    const unit = match[2];
    specs.push({
      name,
      retention:
        unit === 'm'
          ? Duration.minutes(amount)
          : unit === 'h'
            ? Duration.hours(amount)
            : Duration.days(amount),
    });
  }
  return specs;
}

/** The default bus first, then the others in the given order; no name twice, at most `MAX_STACK_BUSES`. */
function orderBuses(specs: readonly JunctionBusSpec[]): JunctionBusSpec[] {
  const seen = new Set<string>();
  for (const spec of specs) {
    assertBusName(spec.name, 'JunctionStack: buses[].name');
    if (seen.has(spec.name))
      throw new Error(`JunctionStack: the bus '${spec.name}' is listed twice in buses`);
    seen.add(spec.name);
  }
  const defaultSpec = specs.find((s) => s.name === DEFAULT_BUS) ?? { name: DEFAULT_BUS };
  const ordered = [defaultSpec, ...specs.filter((s) => s.name !== DEFAULT_BUS)];
  if (ordered.length > MAX_STACK_BUSES) {
    throw new Error(
      `JunctionStack: at most ${MAX_STACK_BUSES} buses per stack (the default bus included), got ${ordered.length}`,
    );
  }
  return ordered;
}

/** Throws when two buses would get the same topic, table, consumer group or user-function prefix. */
function checkDistinctNames(buses: readonly JunctionBus[]): void {
  const owners = new Map<string, string>();
  const claim = (kind: string, value: string, bus: string) => {
    const key = `${kind} ${value}`;
    const other = owners.get(key);
    if (other !== undefined) {
      throw new Error(`JunctionStack: the buses '${other}' and '${bus}' would share the ${kind} '${value}'`);
    }
    owners.set(key, bus);
  };
  for (const bus of buses) {
    claim('topic', bus.topic, bus.busName);
    claim('consumer group', bus.consumerGroup, bus.busName);
    claim('function prefix', bus.functionPrefix, bus.busName);
    for (const table of Object.values(TABLES))
      claim('table', `${bus.tablePrefix}-${table.suffix}`, bus.busName);
  }
}

/** Junction on AWS: the stack `npx cdk deploy` creates, with the default bus and any others (`-c buses=…`). */
export class JunctionStack extends Stack {
  /** The default bus (it holds the VPC and the MSK cluster the other buses share). */
  readonly bus: JunctionBus;
  /** Every bus, the default first, by name. */
  readonly buses: ReadonlyMap<string, JunctionBus>;

  constructor(scope: Construct, id: string, props: JunctionStackProps = {}) {
    super(scope, id, {
      description: 'Junction: an open event bus (API Gateway, Amazon MSK, DynamoDB, Lambda)',
      ...props,
    });
    const shared = props.bus ?? {};
    if (shared.busName !== undefined) {
      throw new Error(
        `JunctionStack: bus.busName cannot be set (got ${JSON.stringify(shared.busName)}); name the buses in buses`,
      );
    }
    const specs = orderBuses(props.buses ?? []);

    const buses = new Map<string, JunctionBus>();
    let first: JunctionBus | undefined;
    for (const spec of specs) {
      const own: JunctionBusProps = {
        ...(spec.retention !== undefined ? { retention: spec.retention } : {}),
        ...(spec.router !== undefined ? { router: spec.router } : {}),
        ...(spec.topic !== undefined ? { topic: spec.topic } : {}),
        ...(spec.tablePrefix !== undefined ? { tablePrefix: spec.tablePrefix } : {}),
      };
      if (first === undefined) {
        first = new JunctionBus(this, 'Bus', { ...shared, ...own });
        buses.set(spec.name, first);
        continue;
      }
      const names = busResourceNames(spec.name, shared.topic, shared.tablePrefix);
      const bus = new JunctionBus(this, `Bus-${spec.name}`, {
        ...withoutClusterAndNetwork(shared),
        topic: names.topic,
        tablePrefix: names.tablePrefix,
        ...own,
        busName: spec.name,
        kafkaCluster: sharedCluster(first),
        ...(first.network !== undefined ? { sharedNetwork: first.network } : { vpc: first.vpc }),
      });
      buses.set(spec.name, bus);
    }
    this.bus = first as JunctionBus;
    this.buses = buses;
    checkDistinctNames([...buses.values()]);

    for (const bus of buses.values()) this.addOutputs(bus);
  }

  /** The default bus's outputs keep the ids of a one-bus stack; another bus's carry its path and its name. */
  private addOutputs(bus: JunctionBus): void {
    const isDefault = bus === this.bus;
    const of = isDefault ? '' : ` of the bus ${bus.busName}`;
    const outputs: Record<string, [string, string]> = {
      ApiUrl: [
        bus.apiUrl,
        `POST CloudEvents to <ApiUrl>events${of}; the management API is under the same URL`,
      ],
      ...(isDefault
        ? { KafkaClusterArn: [bus.kafkaCluster.clusterArn, 'The MSK cluster (JUNCTION_KAFKA_CLUSTER_ARN)'] }
        : {
            BusName: [
              bus.busName,
              'The bus (JUNCTION_BUS; the EventBusName of its EventBridge management calls)',
            ],
            FunctionPrefix: [
              bus.functionPrefix,
              `Lambda names of user functions${of} start with this (JUNCTION_FUNCTION_PREFIX)`,
            ],
          }),
      KafkaTopic: [bus.topic, `The events topic${of} (JUNCTION_KAFKA_TOPIC)`],
      TablePrefix: [
        bus.tablePrefix,
        `DynamoDB table names${of} are <TablePrefix>-<store> (JUNCTION_TABLE_PREFIX)`,
      ],
      FunctionRoleArn: [
        bus.functionRole.roleArn,
        `Execution role of user functions${of} (JUNCTION_FUNCTION_ROLE_ARN)`,
      ],
      DeployRoleArn: [bus.deployRole.roleArn, `Assume this role to deploy user functions${of} with the CLI`],
      FailureBucket: [bus.failureBucket.bucketName, `Batches the router${of} could not process`],
    };
    // Another bus's outputs live under `<bus>/Outputs` (the bus has children named like some of them).
    const scope = isDefault ? this : new Construct(bus, 'Outputs');
    for (const [id, [value, description]] of Object.entries(outputs)) {
      new CfnOutput(scope, id, { value, description });
    }
  }
}

/** The props of the shared VPC and cluster are the first bus's business: the others get them built. */
function withoutClusterAndNetwork(props: JunctionBusProps): JunctionBusProps {
  const {
    vpc: _vpc,
    network: _network,
    kafkaCluster: _cluster,
    kafkaClusterType: _type,
    provisionedKafka: _provisioned,
    ...rest
  } = props;
  return rest;
}

/** The first bus's cluster with the brokers it resolved, so that the other buses look nothing up again. */
function sharedCluster(first: JunctionBus): IJunctionKafkaCluster {
  const cluster = first.kafkaCluster;
  return {
    clusterArn: cluster.clusterArn,
    connections: cluster.connections,
    bootstrapBrokers: first.bootstrapBrokers,
    topicArn: (topic) => cluster.topicArn(topic),
    groupArn: (group) => cluster.groupArn(group),
  };
}
