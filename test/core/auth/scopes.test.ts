import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANONYMOUS, checkSource, needOf, type Principal, permits } from '../../../lib/core/auth/scopes.ts';

const p = (...grants: Principal['grants']): Principal => ({ name: 'k', kind: 'key', grants });

test('names what each call needs', () => {
  const cases: Array<[string, string[], string | undefined, string]> = [
    ['GET', [], undefined, 'public'],
    ['GET', ['healthz'], undefined, 'public'],
    ['POST', [], 'AWSEvents.PutEvents', 'publish'],
    ['POST', [], 'AWSEvents.TestEventPattern', 'any'],
    ['POST', [], 'AWSEvents.ListRules', 'read'],
    ['POST', [], 'AWSEvents.ListTargetsByRule', 'read'],
    ['POST', [], 'AWSEvents.DescribeRule', 'read'],
    ['POST', [], 'AWSEvents.DescribeReplay', 'read'],
    ['POST', [], 'AWSEvents.PutRule', 'manage'],
    ['POST', [], 'AWSEvents.PutTargets', 'manage'],
    ['POST', [], 'AWSEvents.DeleteRule', 'manage'],
    ['POST', [], 'AWSEvents.StartReplay', 'manage'],
    ['POST', [], 'AWSEvents.CreateArchive', 'manage'],
    ['POST', [], 'Other.ListRules', 'manage'],
    ['POST', ['events'], undefined, 'publish'],
    ['GET', ['events', 'x', 'trace'], undefined, 'read'],
    ['POST', ['patterns', 'test'], undefined, 'any'],
    ['POST', ['rules', 'r', 'simulate'], undefined, 'read'],
    ['PUT', ['rules', 'r'], undefined, 'manage'],
    ['PUT', ['functions', 'f'], undefined, 'manage'],
    ['POST', ['replays'], undefined, 'manage'],
    ['POST', ['dead-letters', 'redrive'], undefined, 'manage'],
    ['POST', ['dead-letters', 'delete'], undefined, 'manage'],
    ['GET', ['keys'], undefined, 'manage'],
    ['GET', ['audit'], undefined, 'read'],
    ['GET', ['metrics'], undefined, 'read'],
  ];
  for (const [method, parts, target, need] of cases)
    assert.equal(needOf(method, parts, target), need, `${method} /${parts.join('/')}`);
});

test('lets manage read but not publish, and checks the bus', () => {
  const manage = p({ scope: 'manage', bus: 'default' });
  assert.equal(permits(manage, 'read'), true);
  assert.equal(permits(manage, 'publish'), false);
  assert.equal(permits(p({ scope: 'read', bus: 'default' }), 'manage'), false);
  assert.equal(permits(p({ scope: 'manage', bus: 'other' }), 'manage'), false);
  assert.equal(permits(p(), 'any'), false);
  assert.equal(permits(p(), 'public'), true);
  assert.equal(permits(ANONYMOUS, 'manage'), true);
});

test('limits publishing to the source prefix', () => {
  const shop = p({ scope: 'publish', bus: 'default', sourcePrefix: 'com.shop.' });
  assert.equal(checkSource(shop, 'com.shop.orders'), undefined);
  const refused = checkSource(shop, 'com.shopping');
  assert.equal(refused?.status, 403);
  assert.equal(refused?.field, 'source');
  assert.equal(checkSource(p({ scope: 'publish', bus: 'default' }), 'anything'), undefined);
  assert.equal(checkSource(p({ scope: 'read', bus: 'default' }), 'x')?.code, 'Forbidden');
});
