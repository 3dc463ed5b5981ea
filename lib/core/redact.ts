/**
 * Secrets in rules: HTTP target header values and the password in a postgres target's connection are shown as `***`
 * on every read and kept when written back so.
 */
import { JunctionError } from './errors.ts';
import type { Rule, Target } from './rule-types.ts';
import { isObject } from './values.ts';

/** What a configured header value reads as. */
export const REDACTED = '***';

/** A connection string with its password (if any) replaced by `***`; one that does not parse is all `***`. */
export function redactConnection(connection: string): string {
  try {
    const url = new URL(connection);
    if (url.password === '') return connection;
    url.password = REDACTED;
    return url.toString();
  } catch {
    return REDACTED;
  }
}

function hasSecret(target: Target): boolean {
  return (
    (target.type === 'http' && target.headers !== undefined) ||
    (target.type === 'postgres' && redactConnection(target.connection) !== target.connection)
  );
}

function redactTarget(target: Target): Target {
  if (target.type === 'postgres')
    return Object.freeze({ ...target, connection: redactConnection(target.connection) });
  if (target.type !== 'http' || target.headers === undefined) return target;
  const headers = Object.fromEntries(Object.keys(target.headers).map((name) => [name, REDACTED]));
  return Object.freeze({ ...target, headers: Object.freeze(headers) });
}

/**
 * The rule as reads show it: every HTTP target header value and postgres password replaced by `***` (delivery uses
 * the stored rule).
 */
export function redactRule(rule: Rule): Rule {
  if (!rule.targets.some(hasSecret)) return rule;
  return Object.freeze({ ...rule, targets: Object.freeze(rule.targets.map(redactTarget)) });
}

/** A postgres target's connection with a `***` password given back its stored value (same target id). */
function restoreConnection(target: Record<string, unknown>, i: number, previous: Rule | undefined): unknown {
  if (typeof target.connection !== 'string') return target;
  let url: URL;
  try {
    url = new URL(target.connection);
  } catch {
    return target;
  }
  if (decodeURIComponent(url.password) !== REDACTED) return target;
  const stored = previous?.targets.find((t) => t.id === target.id);
  const field = `targets[${i}].connection`;
  let password = '';
  try {
    password = stored?.type === 'postgres' ? new URL(stored.connection).password : '';
  } catch {
    password = '';
  }
  if (password === '') {
    throw new JunctionError(
      'InvalidRule',
      `${field} has the password "${REDACTED}" (the redaction marker) but the stored rule has no password for it to keep; send the real one`,
      { field, path: field },
    );
  }
  url.password = password;
  return { ...target, connection: url.toString() };
}

/**
 * A rule body with each header value that is exactly `***` replaced by the stored value of the same header (by
 * name, case-insensitively) of the same target (by id) of the stored rule — so that a rule read back and PUT again
 * keeps its secrets. A `***` with no stored value to keep is refused (`InvalidRule`): it would be sent as is.
 */
export function restoreRedacted(body: unknown, previous: Rule | undefined): unknown {
  if (!isObject(body) || !Array.isArray(body.targets)) return body;
  let changed = false;
  const targets = body.targets.map((target: unknown, i: number) => {
    if (isObject(target) && target.type === 'postgres') {
      const restored = restoreConnection(target, i, previous);
      if (restored !== target) changed = true;
      return restored;
    }
    if (!isObject(target) || !isObject(target.headers)) return target;
    const headers: Record<string, unknown> = { ...target.headers };
    for (const [name, value] of Object.entries(headers)) {
      if (value !== REDACTED) continue;
      const stored = previous?.targets.find((t) => t.id === target.id);
      const storedHeaders = stored?.type === 'http' ? (stored.headers ?? {}) : {};
      const key = Object.keys(storedHeaders).find((k) => k.toLowerCase() === name.toLowerCase());
      if (key === undefined) {
        const field = `targets[${i}].headers.${name}`;
        throw new JunctionError(
          'InvalidRule',
          `${field} is "${REDACTED}" (the redaction marker) but the stored rule has no value for it to keep; send the real value`,
          { field, path: field },
        );
      }
      headers[name] = storedHeaders[key];
      changed = true;
    }
    return changed ? { ...target, headers } : target;
  });
  return changed ? { ...body, targets } : body;
}
