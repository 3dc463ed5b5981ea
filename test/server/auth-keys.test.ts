import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  generateApiKey,
  generateAwsKey,
  hashKey,
  parseNewCredential,
  SecretBox,
} from '../../lib/server/auth-keys.ts';
import { tempDir } from '../helpers/paths.ts';

test('makes 256-bit keys, distinct each time, and hashes them with SHA-256', () => {
  const keys = new Set(Array.from({ length: 100 }, generateApiKey));
  assert.equal(keys.size, 100);
  for (const key of keys) assert.match(key, /^jk_[A-Za-z0-9_-]{43}$/);
  assert.equal(hashKey('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const aws = generateAwsKey();
  assert.match(aws.accessKeyId, /^AKJ[A-Z2-7]{17}$/);
  assert.equal(aws.secretAccessKey.length, 40);
});

test('seals secrets under a 0600 key file and detects tampering', () => {
  const dir = tempDir();
  try {
    const box = SecretBox.open(dir.path);
    assert.equal(statSync(join(dir.path, 'credentials.key')).mode & 0o777, 0o600);
    const sealed = box.seal('s3cret');
    assert.equal(sealed.includes('s3cret'), false);
    assert.equal(SecretBox.open(dir.path).open(sealed), 's3cret', 'the same key file opens it');
    const bytes = Buffer.from(sealed.slice(3), 'base64');
    bytes[bytes.length - 1]! ^= 1;
    assert.throws(() => box.open(`v1:${bytes.toString('base64')}`));
  } finally {
    dir.remove();
  }
});

test('checks new credentials field by field', () => {
  assert.deepEqual(parseNewCredential({ name: 'ci', scope: 'publish', sourcePrefix: 'a.' }), {
    name: 'ci',
    scope: 'publish',
    sourcePrefix: 'a.',
  });
  const field = (body: unknown) => {
    try {
      parseNewCredential(body);
    } catch (error) {
      return (error as { field?: string }).field;
    }
    return 'accepted';
  };
  assert.equal(field({ name: '../x', scope: 'read' }), 'name');
  assert.equal(field({ name: 'x', scope: 'admin' }), 'scope');
  assert.equal(field({ name: 'x', scope: 'manage', sourcePrefix: 'a' }), 'sourcePrefix');
  // AWS access keys sign management calls too (the EventBridge management API), so any scope may have one.
  assert.equal(field({ name: 'x', scope: 'manage', aws: true }), 'accepted');
  assert.equal(field({ name: 'x', scope: 'read', aws: true }), 'accepted');
  assert.equal(field({ name: 'x', scope: 'manage', aws: 'yes' }), 'aws');
  assert.equal(field([]), undefined);
});
