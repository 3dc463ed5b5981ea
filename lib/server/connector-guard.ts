/**
 * The SSRF guard of source connectors: a connector that names its own `brokers` may reach only the addresses the
 * bus's outbound address policy allows (the policy of `http` and `bus` targets: private, link-local, metadata and
 * unspecified ranges refused unless `httpTargets.allow` lists them; loopback when the bus listens on loopback).
 * Literal addresses are refused at `PUT /connectors/{name}`; names are resolved and checked each time the connector
 * starts (a refused address fails the connector, with the reason as its last error). A connector that names no
 * brokers reads the bus's own Kafka, which the operator configured.
 */
import { lookup } from 'node:dns/promises';
import { type ConnectorSpec, parsePostgresConnection } from '../core/connector.ts';
import { JunctionError } from '../core/errors.ts';
import { type AddressPolicy, parseAddress } from '../core/net/address-policy.ts';
import type { Source, SourceContext } from '../ports.ts';

function hostOf(broker: string): string {
  const host = broker.slice(0, broker.lastIndexOf(':'));
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function refusal(address: string, range: string): string {
  return (
    `${address} is a ${range} address, which connectors may not reach` +
    ' (allow it with httpTargets.allow in the bus configuration)'
  );
}

/** The hosts a connector connects to: its field (for errors), a label (never a password) and the host. */
function hostsOf(spec: ConnectorSpec): Array<{ field: string; label: string; host: string }> {
  if (spec.type === 'postgres-cdc') {
    const { host, port } = parsePostgresConnection(spec.connection);
    return [{ field: 'connection', label: `host ${host}:${port}`, host }];
  }
  return (spec.brokers ?? []).map((broker, i) => ({
    field: `brokers[${i}]`,
    label: `broker ${broker}`,
    host: hostOf(broker),
  }));
}

/**
 * Refuses (400, naming `brokers[i]` or `connection`) a broker or database host given as a literal address the policy
 * refuses.
 */
export function checkConnectorBrokers(policy: AddressPolicy, spec: ConnectorSpec): void {
  for (const { field, host } of hostsOf(spec)) {
    if (parseAddress(host) === undefined) continue; // a name: resolved and checked when the connector starts
    const verdict = policy(host);
    if (!verdict.allowed) {
      throw new JunctionError('InvalidRequest', `${field}: ${refusal(host, verdict.range)}`, { field });
    }
  }
}

/** Resolves every broker (or database host) name and rejects when one resolves to an address the policy refuses. */
export async function resolveConnectorBrokers(policy: AddressPolicy, spec: ConnectorSpec): Promise<void> {
  for (const { label, host } of hostsOf(spec)) {
    const addresses =
      parseAddress(host) === undefined ? await lookup(host, { all: true }) : [{ address: host }];
    for (const { address } of addresses) {
      const verdict = policy(address);
      if (!verdict.allowed) throw new Error(`${label}: ${refusal(address, verdict.range)}`);
    }
  }
}

/** The source, starting only once its brokers resolved to allowed addresses. */
export function guardedSource(source: Source, check: () => Promise<void>): Source {
  return {
    async start(context: SourceContext) {
      await check();
      return source.start(context);
    },
    status: () => source.status(),
    close: () => source.close(),
  };
}
