/**
 * A JWT's claims as Junction's grants: the same mapping wherever the token was verified — by the embedded bus
 * against a JWKS (lib/server/auth.ts), or by API Gateway's JWT or Cognito authorizer before the `api` function
 * (lib/adapters/aws/gateway-auth.ts). Pure: no I/O.
 */
import { BUS_NAME } from '../bus.ts';
import { DEFAULT_BUS, type Grant, isScope, type Principal } from './scopes.ts';

export interface ClaimMapping {
  /**
   * The claims holding scopes, read in order and merged. Each holds a space- or comma-separated string, an array,
   * or (API Gateway's flattening of an array claim) `"[a b c]"`. @default ['scope']
   */
  readonly scopeClaims?: readonly string[];
  /** The claim holding a source prefix for `publish`. @default 'junction:source_prefix' */
  readonly sourcePrefixClaim?: string;
}

/** At most this many scope values are read from a token (a bound on what a token can make the bus do). */
export const MAX_SCOPE_VALUES = 256;

/** The values of a claim: an array, a space/comma-separated string, or API Gateway's `"[a b]"` rendering. */
export function claimValues(raw: unknown): string[] {
  if (Array.isArray(raw)) return raw.filter((v): v is string => typeof v === 'string');
  if (typeof raw !== 'string') return [];
  const inner = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  return inner.split(/[\s,]+/).filter((v) => v !== '');
}

/**
 * One scope value as a grant, or undefined when it is not Junction's: `junction:<scope>` (or `junction/<scope>`,
 * the form of a Cognito resource server named `junction`) on the default bus, `junction:<scope>:<bus>` (or
 * `junction/<scope>:<bus>`) on the bus `<bus>`; `<scope>` is publish, read or manage.
 */
export function grantOfScopeValue(value: string): Pick<Grant, 'scope' | 'bus'> | undefined {
  const body = value.startsWith('junction:') || value.startsWith('junction/') ? value.slice(9) : undefined;
  if (body === undefined) return undefined;
  const [scope, bus = DEFAULT_BUS, ...more] = body.split(':');
  if (!isScope(scope) || more.length > 0 || !BUS_NAME.test(bus)) return undefined;
  return { scope, bus };
}

/** The principal a verified token's claims describe: `jwt:<sub>` with the grants its scope claims carry. */
export function principalOfClaims(
  claims: Readonly<Record<string, unknown>>,
  mapping: ClaimMapping = {},
): Principal {
  const prefix = claims[mapping.sourcePrefixClaim ?? 'junction:source_prefix'];
  const grants: Grant[] = [];
  const seen = new Set<string>();
  let read = 0;
  for (const claim of mapping.scopeClaims ?? ['scope']) {
    for (const value of claimValues(claims[claim])) {
      if (++read > MAX_SCOPE_VALUES) break;
      const grant = grantOfScopeValue(value);
      if (grant === undefined) continue;
      const id = `${grant.scope}:${grant.bus}`;
      if (seen.has(id)) continue;
      seen.add(id);
      grants.push({
        ...grant,
        ...(grant.scope === 'publish' && typeof prefix === 'string' && prefix !== ''
          ? { sourcePrefix: prefix }
          : {}),
      });
    }
  }
  const sub = claims.sub;
  return { name: `jwt:${typeof sub === 'string' && sub !== '' ? sub : 'unknown'}`, kind: 'jwt', grants };
}
