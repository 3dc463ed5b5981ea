/** The compiled index: incremental add/remove/replace, each id once, CloudEvents with data under `data`. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JunctionError } from '../../../lib/core/errors.ts';
import { compilePattern, PatternIndex, parseJsonPreservingNumbers } from '../../../lib/core/pattern/index.ts';

const order = {
  specversion: '1.0',
  id: 'e-1',
  source: 'shop',
  type: 'com.shop.order.created',
  data: {
    id: 'o-9',
    total: 150,
    lines: [
      { sku: 'A', qty: 1 },
      { sku: 'B', qty: 5 },
    ],
    ip: '10.1.2.3',
  },
};

describe('PatternIndex', () => {
  it('matches a CloudEvent by context attributes and by fields under data', () => {
    const index = new PatternIndex();
    index.add('big', { type: ['com.shop.order.created'], data: { total: [{ numeric: ['>', 100] }] } });
    index.add('small', { type: ['com.shop.order.created'], data: { total: [{ numeric: ['<=', 100] }] } });
    index.add('internal', { data: { ip: [{ cidr: '10.0.0.0/8' }] } });
    assert.deepEqual(index.match(order).sort(), ['big', 'internal']);
  });

  it('returns each id once even when several branches and elements match', () => {
    const index = new PatternIndex();
    index.add('r', { $or: [{ source: ['shop'] }, { data: { lines: { sku: [{ prefix: '' }] } } }] });
    assert.deepEqual(index.match(order), ['r']);
  });

  it('keeps matching array-consistent', () => {
    const index = new PatternIndex();
    index.add('same-line', { data: { lines: { sku: ['B'], qty: [5] } } });
    index.add('mixed-lines', { data: { lines: { sku: ['A'], qty: [5] } } });
    assert.deepEqual(index.match(order), ['same-line']);
  });

  it('replaces the pattern of an id that is added again', () => {
    const index = new PatternIndex();
    index.add('r', { source: ['other'] });
    index.add('r', { source: ['shop'] });
    assert.equal(index.size, 1);
    assert.deepEqual(index.match(order), ['r']);
  });

  it('takes a pattern compiled beforehand', () => {
    const index = new PatternIndex();
    index.addCompiled('r', compilePattern({ data: { id: [{ suffix: '-9' }] } }));
    assert.deepEqual(index.match(order), ['r']);
  });

  it('removes patterns without disturbing the others', () => {
    const index = new PatternIndex();
    for (let i = 0; i < 50; i++) index.add(`r${i}`, { data: { total: [{ numeric: ['>', i * 10] }] } });
    assert.equal(index.match(order).length, 15);
    for (let i = 0; i < 50; i += 2) assert.equal(index.remove(`r${i}`), true);
    assert.equal(index.remove('r0'), false);
    assert.equal(index.size, 25);
    assert.deepEqual(index.match(order).sort(), ['r1', 'r11', 'r13', 'r3', 'r5', 'r7', 'r9']);
  });

  it('leaves the index unchanged when an invalid pattern is added', () => {
    const index = new PatternIndex();
    index.add('r', { source: ['shop'] });
    assert.throws(() => index.add('r', { source: 'shop' }), JunctionError);
    assert.deepEqual(index.match(order), ['r']);
  });

  it('matches exists:false patterns, which have no anchor, on every event', () => {
    const index = new PatternIndex();
    index.add('no-subject', { subject: [{ exists: false }] });
    assert.deepEqual(index.match(order), ['no-subject']);
    assert.deepEqual(index.match({ ...order, subject: 's' }), []);
  });

  it('does not parse data that is a JSON string', () => {
    const index = new PatternIndex();
    index.add('r', { data: { id: ['o-9'] } });
    assert.deepEqual(index.match({ ...order, data: JSON.stringify(order.data) }), []);
  });

  it('matches numbers by value and by lexeme when the text was parsed preserving numbers', () => {
    const index = new PatternIndex();
    index.add('value', { x: [300] });
    index.add('huge', parseJsonPreservingNumbers('{"x": [9007199254740993]}'));
    assert.deepEqual(index.match(parseJsonPreservingNumbers('{"x": 3.0e2}')), ['value']);
    assert.deepEqual(index.match(parseJsonPreservingNumbers('{"x": 9007199254740993}')), ['huge']);
    assert.deepEqual(index.match({ x: 9007199254740992 }), []);
  });

  it('ignores events that are not objects', () => {
    const index = new PatternIndex();
    index.add('r', { a: [{ exists: false }] });
    assert.deepEqual(index.match(null), []);
    assert.deepEqual(index.match([1, 2]), []);
  });

  it('treats dotted event keys like nested objects', () => {
    const index = new PatternIndex();
    index.add('r', { detail: { state: { status: ['running'] } } });
    assert.deepEqual(index.match({ detail: { 'state.status': 'running' } }), ['r']);
  });
});

describe('PatternIndex churn', () => {
  it('works as new after every pattern is removed, paths and anchors included', () => {
    const index = new PatternIndex();
    for (let i = 0; i < 200; i++) {
      index.add(`r${i}`, {
        data: { [`k${i % 7}`]: { v: [i] } },
        source: [{ prefix: 'sh' }],
        x: [{ exists: false }],
      });
    }
    for (let i = 0; i < 200; i++) index.remove(`r${i}`);
    assert.equal(index.size, 0);
    assert.deepEqual(index.match(order), []);
    index.add('again', { data: { total: [150] } });
    assert.deepEqual(index.match(order), ['again']);
  });
});
