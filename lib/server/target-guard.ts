/**
 * The SSRF guard of targets at `PUT /rules`, shared by the composition roots (the embedded bus and the AWS wiring):
 * an `http` or `bus` target whose URL, or a `postgres` target whose host, is a literal address the bus's outbound
 * address policy refuses is refused with the field. A name is resolved and checked when the driver connects.
 */
import { parsePostgresConnection } from '../core/connector.ts';
import { JunctionError } from '../core/errors.ts';
import { type AddressPolicy, parseAddress } from '../core/net/address-policy.ts';
import type { Target } from '../core/rule-types.ts';

/** Throws `InvalidRule` (naming `<path>.url` or `<path>.connection`) for a literal address the policy refuses. */
export function targetChecker(policy: AddressPolicy) {
  return (target: Target, path: string): void => {
    let field: string;
    let hostname: string;
    if (target.type === 'postgres') {
      field = `${path}.connection`;
      hostname = parsePostgresConnection(target.connection).host;
    } else if ((target.type === 'http' || target.type === 'bus') && target.url !== undefined) {
      field = `${path}.url`;
      hostname = new URL(target.url).hostname;
    } else return;
    if (parseAddress(hostname) === undefined) return; // a name: checked when connecting
    const verdict = policy(hostname);
    if (verdict.allowed) return;
    throw new JunctionError('InvalidRule', `${field}: ${verdict.reason}`, { field, path: field });
  };
}
