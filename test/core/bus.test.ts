/**
 * Named buses, the pure parts: bus names and settings, which buses an EventBridge body names (what the auth layer
 * checks and the buses app routes by), and what each call needs on which bus.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ANY_BUS, busNeedsOf, type Principal, permits } from '../../lib/core/auth/scopes.ts';
import { validateBusName, validateBusSpec } from '../../lib/core/bus.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { amzBuses, busesNamedIn } from '../../lib/core/eventbridge-api.ts';
import { validateRule } from '../../lib/core/rule.ts';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof JunctionError);
    return error.field;
  }
  assert.fail('expected a refusal');
}

describe('bus names and settings', () => {
  test('names: 1-64 of letters, digits, ".", "_", "-", starting with a letter or digit', () => {
    for (const ok of ['a', 'orders', 'team.orders-v2_x', 'A'.repeat(64)])
      assert.equal(validateBusName(ok), ok);
    for (const bad of ['', '-x', '.x', 'a/b', 'a b', 'A'.repeat(65), 'ü', 7, null]) {
      assert.equal(
        fieldOf(() => validateBusName(bad)),
        'name',
        String(bad),
      );
    }
  });

  test('settings are optional, bounded, and name the field at fault', () => {
    const spec = validateBusSpec('orders', {}, 1000);
    assert.deepEqual(spec, { name: 'orders', createdAt: 1000 });
    assert.ok(Object.isFrozen(spec));
    const full = validateBusSpec(
      'orders',
      {
        description: 'd',
        quota: { eventsPerSecond: 10, burst: 20 },
        sourceQuota: { eventsPerSecond: 5 },
        retentionMs: 3_600_000,
        dedupWindowMs: 60_000,
      },
      1,
      { name: 'orders', createdAt: 7 },
    );
    assert.equal(full.createdAt, 7, 'an update keeps the creation time');
    assert.deepEqual(full.quota, { eventsPerSecond: 10, burst: 20 });
    // `shared` is the default and is not stored; `process` is, with its optional endpoint port.
    assert.deepEqual(validateBusSpec('o', { isolation: 'shared' }, 1), { name: 'o', createdAt: 1 });
    assert.equal(validateBusSpec('o', { isolation: 'process', nice: 'idle' }, 1).nice, 'idle');
    assert.equal(validateBusSpec('o', { isolation: 'process', nice: 19 }, 1).nice, 19);
    assert.deepEqual(validateBusSpec('o', { isolation: 'process', port: 8081 }, 1), {
      name: 'o',
      isolation: 'process',
      port: 8081,
      createdAt: 1,
    });
    const cases: Array<[unknown, string]> = [
      [[], ''],
      [{ quota: 5 }, 'quota'],
      [{ quota: { eventsPerSecond: 0 } }, 'quota.eventsPerSecond'],
      [{ quota: { eventsPerSecond: 1.5 } }, 'quota.eventsPerSecond'],
      [{ quota: { eventsPerSecond: 1, burst: -1 } }, 'quota.burst'],
      [{ quota: { eventsPerSecond: 1, rate: 1 } }, 'quota.rate'],
      [{ sourceQuota: { eventsPerSecond: 2_000_000 } }, 'sourceQuota.eventsPerSecond'],
      [{ retentionMs: 10 }, 'retentionMs'],
      [{ dedupWindowMs: 31 * 86_400_000 }, 'dedupWindowMs'],
      [{ description: 'x'.repeat(513) }, 'description'],
      [{ name: 'other' }, 'name'],
      [{ colour: 'red' }, 'colour'],
      [{ isolation: 'thread' }, 'isolation'],
      [{ port: 8081 }, 'port'],
      [{ isolation: 'shared', port: 8081 }, 'port'],
      [{ isolation: 'process', port: 0 }, 'port'],
      [{ isolation: 'process', port: 70_000 }, 'port'],
      [{ nice: 10 }, 'nice'],
      [{ isolation: 'process', nice: 20 }, 'nice'],
      [{ isolation: 'process', nice: -1 }, 'nice'],
      [{ isolation: 'process', nice: 'low' }, 'nice'],
      [{ isolation: 'process', nice: 2.5 }, 'nice'],
      [{ nice: 'idle' }, 'nice'],
    ];
    for (const [body, field] of cases) {
      assert.equal(
        fieldOf(() => validateBusSpec('orders', body, 0)),
        field,
        JSON.stringify(body),
      );
    }
  });

  test('a bus target names a bus or a URL, exactly one', () => {
    const rule = (target: Record<string, unknown>) =>
      validateRule('r', { pattern: { type: ['x'] }, targets: [{ id: 't', type: 'bus', ...target }] }, 0);
    assert.equal((rule({ bus: 'orders' }).targets[0] as { bus?: string }).bus, 'orders');
    assert.equal(
      (rule({ url: 'http://127.0.0.1:1' }).targets[0] as { url?: string }).url,
      'http://127.0.0.1:1',
    );
    assert.equal(
      fieldOf(() => rule({})),
      'targets[0].bus',
    );
    assert.equal(
      fieldOf(() => rule({ bus: 'a', url: 'http://127.0.0.1:1' })),
      'targets[0].url',
    );
    assert.equal(
      fieldOf(() => rule({ bus: 'a/b' })),
      'targets[0].bus',
    );
  });
});

describe('the buses an EventBridge call names', () => {
  test('finds EventBusName anywhere, bus operation names, and event-bus and rule ARNs', () => {
    assert.deepEqual(
      [
        ...(busesNamedIn('PutEvents', {
          Entries: [{ EventBusName: 'a' }, { EventBusName: 'arn:aws:events:eu-west-1:1:event-bus/b' }, {}],
        }) ?? []),
      ],
      ['a', 'b'],
    );
    assert.deepEqual([...(busesNamedIn('CreateEventBus', { Name: 'new' }) ?? [])], ['new']);
    assert.deepEqual(
      [...(busesNamedIn('PutRule', { Name: 'rule-name' }) ?? [])],
      [],
      'a rule name is no bus',
    );
    assert.deepEqual(
      [...(busesNamedIn('ListTargetsByRule', { Rule: 'arn:aws:events:us-east-1:1:rule/orders/r' }) ?? [])],
      ['orders'],
    );
    // A target's event-bus ARN is where the rule forwards to, which PutTargets checks itself (publish there, or
    // that bus's acceptFrom): it is not a bus the call reaches. Anywhere else in the body, it is.
    assert.deepEqual(
      [
        ...(busesNamedIn('PutTargets', {
          Rule: 'r',
          EventBusName: 'a',
          Targets: [{ Id: 't', Arn: 'arn:aws:events:us-east-1:1:event-bus/other' }],
        }) ?? []),
      ],
      ['a'],
    );
    assert.deepEqual(
      [
        ...(busesNamedIn('PutTargets', {
          Rule: 'r',
          Targets: [
            {
              Id: 't',
              Arn: 'arn:aws:events:us-east-1:1:event-bus/other',
              Input: 'arn:aws:events:us-east-1:1:event-bus/third',
            },
          ],
          Other: [{ Arn: 'arn:aws:events:us-east-1:1:event-bus/fourth' }],
        }) ?? []),
      ].sort(),
      ['fourth', 'third'],
    );
    assert.deepEqual(
      [
        ...(busesNamedIn('PutRule', {
          Name: 'r',
          Targets: [{ Id: 't', Arn: 'arn:aws:events:us-east-1:1:event-bus/other' }],
        }) ?? []),
      ],
      ['other'],
      'only PutTargets forwards',
    );
    const huge = { Entries: Array.from({ length: 20_000 }, () => ({ Source: 's' })) };
    assert.equal(busesNamedIn('PutEvents', huge), undefined, 'past the scan limit: refuse');
  });

  test('amzBuses: the default bus when nothing names one, and the body parsed only when something might', () => {
    assert.deepEqual(amzBuses('PutEvents', '{"Entries":[{"Source":"s"}]}'), { buses: new Set(['default']) });
    assert.deepEqual([...(amzBuses('PutEvents', '{"Entries":[{"EventBusName":"b"}]}').buses ?? [])], ['b']);
    // An escaped key is still EventBusName once parsed: it is found.
    assert.deepEqual([...(amzBuses('PutRule', '{"EventBus\\u004eame":"b","Name":"r"}').buses ?? [])], ['b']);
    assert.deepEqual([...(amzBuses('PutRule', '{"Name":"r"}').buses ?? [])], ['default']);
    assert.deepEqual([...(amzBuses('PutRule', '{not json').buses ?? [])], ['default']);
  });
});

describe('what a call needs on which bus', () => {
  const keyOf = (bus: string, scope: 'publish' | 'read' | 'manage'): Principal => ({
    name: 'k',
    kind: 'key',
    grants: [{ scope, bus }],
  });
  test('paths under /buses/{name} need on that bus what the same call needs on the default', () => {
    assert.deepEqual(busNeedsOf('POST', ['buses', 'a', 'events'], undefined, undefined), {
      need: 'publish',
      buses: ['a'],
    });
    assert.deepEqual(busNeedsOf('PUT', ['buses', 'a', 'rules', 'r'], undefined, undefined), {
      need: 'manage',
      buses: ['a'],
    });
    assert.deepEqual(busNeedsOf('GET', ['buses', 'a'], undefined, undefined), { need: 'read', buses: ['a'] });
    assert.deepEqual(busNeedsOf('PUT', ['buses', 'a'], undefined, undefined), {
      need: 'manage',
      buses: ['default'],
    });
    assert.deepEqual(busNeedsOf('GET', ['buses'], undefined, undefined), { need: 'any', buses: [ANY_BUS] });
    assert.deepEqual(busNeedsOf('POST', ['buses', 'a', 'keys'], undefined, undefined), {
      need: 'manage',
      buses: ['default'],
    });
    assert.deepEqual(busNeedsOf('GET', ['rules'], undefined, undefined), {
      need: 'read',
      buses: ['default'],
    });
  });

  test('EventBridge calls need their scope on every bus they name; bus administration needs the default', () => {
    assert.deepEqual(busNeedsOf('POST', [], 'AWSEvents.PutEvents', new Set(['a', 'b'])), {
      need: 'publish',
      buses: ['a', 'b'],
    });
    assert.deepEqual(busNeedsOf('POST', [], 'AWSEvents.CreateEventBus', new Set(['x'])), {
      need: 'manage',
      buses: ['default'],
    });
    assert.deepEqual(busNeedsOf('POST', [], 'AWSEvents.ListEventBuses', new Set(['default'])), {
      need: 'any',
      buses: [ANY_BUS],
    });
    assert.deepEqual(
      busNeedsOf('POST', [], 'AWSEvents.PutEvents', undefined).buses,
      [],
      'unscannable: none, refuse',
    );
  });

  test('a grant on one bus permits nothing on another', () => {
    const a = keyOf('a', 'manage');
    assert.ok(permits(a, 'manage', 'a'));
    assert.ok(permits(a, 'read', 'a'));
    assert.ok(!permits(a, 'read', 'b'));
    assert.ok(!permits(a, 'read'));
    assert.ok(permits(a, 'any', ANY_BUS));
    assert.ok(!permits(keyOf('a', 'publish'), 'read', 'a'));
  });
});
