/** The CESQL parser: precedence as the spec grammar has it, the data extension, limits and positioned errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node } from '../../../lib/core/cesql/ast.ts';
import { parseCesql } from '../../../lib/core/cesql/parser.ts';
import { JunctionError } from '../../../lib/core/errors.ts';

/** A compact rendering of the tree, to compare shapes. */
function show(node: Node): string {
  switch (node.kind) {
    case 'literal':
      return JSON.stringify(node.value);
    case 'attribute':
      return node.path === undefined ? node.name : ['data', ...node.path].join('.');
    case 'exists':
      return `(EXISTS ${show(node.attribute)})`;
    case 'not':
      return `(NOT ${show(node.operand)})`;
    case 'negate':
      return `(- ${show(node.operand)})`;
    case 'like':
      return `(${show(node.operand)} ${node.negated ? 'NOT ' : ''}LIKE ${node.pattern.source})`;
    case 'in':
      return `(${show(node.operand)} ${node.negated ? 'NOT ' : ''}IN ${node.set.map(show).join(' ')})`;
    case 'call':
      return `${node.name}(${node.args.map(show).join(' ')})`;
    case 'logic':
    case 'binary': {
      let text = show(node.operands[0]!);
      node.operators.forEach((op, i) => {
        text += ` ${op} ${show(node.operands[i + 1]!)}`;
      });
      return `[${text}]`;
    }
  }
}

const tree = (source: string) => show(parseCesql(source));

function parseFailure(source: string): JunctionError {
  try {
    parseCesql(source);
  } catch (error) {
    assert.ok(error instanceof JunctionError);
    assert.equal(error.code, 'InvalidFilter');
    return error;
  }
  assert.fail(`expected ${source} to fail`);
}

test('binds * / % over + - over comparisons over AND OR XOR', () => {
  assert.equal(tree('1 + 2 * 3 = 7 AND x'), '[[[1 + [2 * 3]] = 7] AND x]');
  assert.equal(tree('a = 1 OR b = 2 XOR c'), '[[a = 1] OR [b = 2] XOR c]');
});

test('binds prefix NOT and minus tighter than everything else, and LIKE / IN tighter than arithmetic', () => {
  assert.equal(tree('NOT a AND b'), '[(NOT a) AND b]');
  assert.equal(tree('-a + b'), '[(- a) + b]');
  assert.equal(tree("a + b LIKE 'x%'"), '[a + (b LIKE x%)]');
  assert.equal(tree('a * b IN (1, 2)'), '[a * (b IN 1 2)]');
  assert.equal(tree('NOT EXISTS subject'), '(NOT (EXISTS subject))');
  assert.equal(tree("x NOT LIKE 'a' NOT IN (TRUE)"), '((x NOT LIKE a) NOT IN true)');
});

test('folds a minus before an integer into the literal, allowing -2147483648', () => {
  assert.equal(tree('-2147483648'), '-2147483648');
  assert.equal(tree('--10'), '(- -10)');
  assert.match(parseFailure('2147483648').message, /outside the 32-bit range/);
});

test('reads keywords, identifiers and function names case-insensitively', () => {
  assert.equal(tree('true Or FALSE'), '[true OR false]');
  assert.equal(tree('EXISTS SOURCE'), '(EXISTS source)');
  assert.equal(tree('concat_ws(",", Id)'), 'CONCAT_WS("," id)');
});

test('reads data paths with word, number and quoted keys, keeping their case', () => {
  assert.equal(tree('data.Order.items.0.sku'), 'data.Order.items.0.sku');
  assert.equal(tree("data.'weird key'.x"), 'data.weird key.x');
  assert.equal(tree('EXISTS data.customer'), '(EXISTS data.customer)');
  assert.equal(tree('data'), 'data');
});

test('rejects a LIKE pattern that is not a string literal', () => {
  assert.match(
    parseFailure('x LIKE 123').message,
    /column 8: LIKE needs a string literal as its pattern, found '123'/,
  );
});

test('rejects an unclosed call, an empty IN set and trailing input, naming the position', () => {
  assert.match(
    parseFailure('ABC(').message,
    /line 1, column 5: expected a value, found the end of the expression/,
  );
  assert.match(parseFailure('a IN ()').message, /column 7: expected a value, found '\)'/);
  assert.match(parseFailure('a b').message, /column 3: unexpected 'b' after a complete expression/);
  assert.match(parseFailure('').message, /column 1: expected a value/);
});

test('rejects identifiers with underscores, fields on attributes other than data, and misplaced keywords', () => {
  assert.match(parseFailure('my_ext = 1').message, /'my_ext' is not a valid attribute name/);
  assert.match(parseFailure('subject.x').message, /only 'data' has fields/);
  assert.match(parseFailure('a = AND').message, /found the keyword AND/);
  assert.match(parseFailure('EXISTS 5').message, /EXISTS needs an attribute name/);
});

test('accepts nesting up to the depth limit and rejects one level more', () => {
  const nested = (n: number) => `${'('.repeat(n)}NOT TRUE${')'.repeat(n)}`;
  const notChain = (n: number) => `${'NOT '.repeat(n)}TRUE`;
  assert.doesNotThrow(() => parseCesql(notChain(63)));
  assert.match(parseFailure(notChain(64)).message, /nests deeper than 64 levels/);
  assert.doesNotThrow(() => parseCesql(nested(60)));
  assert.throws(() => parseCesql(nested(5000)), /nests deeper than 64 levels/);
  assert.throws(() => parseCesql(notChain(10), { maxDepth: 8 }), /nests deeper than 8 levels/);
});

test('keeps long chains of one operator flat, so they do not count against the depth', () => {
  const chain = Array.from({ length: 500 }, (_, i) => `a${i} = ${i}`).join(' OR ');
  const root = parseCesql(chain);
  assert.equal(root.kind, 'logic');
  assert.equal(root.depth, 3);
});
