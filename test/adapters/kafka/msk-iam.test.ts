/** The MSK IAM token provider: signs on first use, caches until near expiry, shares one signing among callers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mskIamTokenProvider } from '../../../lib/adapters/kafka/msk-iam.ts';

test('caches a token until it is about to expire, then signs a new one', async () => {
  let now = 1_000_000;
  let signed = 0;
  const provider = mskIamTokenProvider({
    region: 'us-east-1',
    now: () => now,
    refreshBeforeMs: 60_000,
    generate: async () => {
      signed += 1;
      return { token: `t${signed}`, expiryTime: now + 900_000 };
    },
  });
  assert.equal(await provider(), 't1');
  now += 800_000;
  assert.equal(await provider(), 't1');
  now += 41_000;
  assert.equal(await provider(), 't2');
  assert.equal(signed, 2);
});

test('signs once for concurrent callers', async () => {
  let signed = 0;
  const provider = mskIamTokenProvider({
    region: 'us-east-1',
    generate: async () => {
      signed += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { token: 'shared', expiryTime: Date.now() + 900_000 };
    },
  });
  assert.deepEqual(await Promise.all([provider(), provider(), provider()]), ['shared', 'shared', 'shared']);
  assert.equal(signed, 1);
});

test('signs again after a failed signing', async () => {
  let attempts = 0;
  const provider = mskIamTokenProvider({
    region: 'us-east-1',
    generate: async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('no credentials');
      return { token: 'second', expiryTime: Date.now() + 900_000 };
    },
  });
  await assert.rejects(provider(), /no credentials/);
  assert.equal(await provider(), 'second');
});
