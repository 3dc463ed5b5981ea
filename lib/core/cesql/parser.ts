/**
 * The CESQL v1 parser: recursive descent over the grammar's precedence levels, with a bounded nesting depth.
 * Levels from loose to tight: AND/OR/XOR (one level, grouping right), comparisons, `+ -`, `* / %`,
 * postfix `[NOT] LIKE` / `[NOT] IN`, prefix `NOT` / `-`, then atoms, `EXISTS`, calls and `( … )`.
 * @see https://github.com/cloudevents/spec/blob/cesql%40v1.0.0/cesql/CESQLParser.g4
 */
import type {
  ArithmeticOperator,
  AttributeNode,
  BinaryNode,
  ComparisonOperator,
  LogicOperator,
  Node,
} from './ast.ts';
import { type Token, tokenize } from './lexer.ts';
import { compileLike } from './like.ts';
import { parseError } from './position.ts';
import { INT32_MAX } from './values.ts';

export interface ParseOptions {
  /** The deepest syntax tree accepted (nesting of parentheses, calls, unary and postfix operators). @default 64 */
  readonly maxDepth?: number;
}

export const DEFAULT_MAX_DEPTH = 64;

const KEYWORDS = new Set(['AND', 'OR', 'XOR', 'NOT', 'LIKE', 'EXISTS', 'IN', 'TRUE', 'FALSE']);
const LOGIC = new Set<string>(['AND', 'OR', 'XOR']);
const COMPARISON = new Set<string>(['=', '!=', '<>', '<', '<=', '>', '>=']);
const ADDITIVE = new Set<string>(['+', '-']);
const MULTIPLICATIVE = new Set<string>(['*', '/', '%']);
const DIGITS = /^[0-9]+$/;
const IDENTIFIER = /^[A-Za-z0-9]+$/;
const FUNCTION_NAME = /^[A-Za-z][A-Za-z_]*$/;

function describe(token: Token): string {
  if (token.type === 'end') return 'the end of the expression';
  if (token.type === 'string') return `the string ${JSON.stringify(token.value)}`;
  return `'${token.text}'`;
}

class Parser {
  readonly #source: string;
  readonly #tokens: Token[];
  readonly #maxDepth: number;
  #index = 0;
  #nesting = 0;

  constructor(source: string, maxDepth: number) {
    this.#source = source;
    this.#tokens = tokenize(source);
    this.#maxDepth = maxDepth;
  }

  parse(): Node {
    const node = this.#expression();
    const next = this.#peek();
    if (next.type !== 'end')
      throw this.#error(next, `unexpected ${describe(next)} after a complete expression`);
    return node;
  }

  #peek(ahead = 0): Token {
    return this.#tokens[Math.min(this.#index + ahead, this.#tokens.length - 1)]!;
  }

  #next(): Token {
    const token = this.#peek();
    if (token.type !== 'end') this.#index += 1;
    return token;
  }

  #isKeyword(token: Token, keyword: string): boolean {
    return token.type === 'word' && token.value === keyword;
  }

  #isSymbol(token: Token, symbol: string): boolean {
    return token.type === 'symbol' && token.text === symbol;
  }

  #expect(symbol: string, context: string): Token {
    const token = this.#next();
    if (!this.#isSymbol(token, symbol))
      throw this.#error(token, `expected '${symbol}' ${context}, found ${describe(token)}`);
    return token;
  }

  #error(token: Token | number, message: string) {
    return parseError(this.#source, typeof token === 'number' ? token : token.offset, message);
  }

  /** Checks the depth of a freshly built node. */
  #node<T extends Node>(node: T): T {
    if (node.depth > this.#maxDepth) {
      throw this.#error(node.offset, `the expression nests deeper than ${this.#maxDepth} levels`);
    }
    return node;
  }

  #expression(): Node {
    return this.#logic();
  }

  #logic(): Node {
    const first = this.#comparison();
    const operands: Node[] = [first];
    const operators: LogicOperator[] = [];
    for (let token = this.#peek(); token.type === 'word' && LOGIC.has(token.value); token = this.#peek()) {
      this.#next();
      operators.push(token.value as LogicOperator);
      operands.push(this.#comparison());
    }
    if (operators.length === 0) return first;
    return this.#node({
      kind: 'logic',
      operands,
      operators,
      offset: first.offset,
      depth: 1 + maxDepth(operands),
    });
  }

  #binary(level: BinaryNode['level'], symbols: ReadonlySet<string>, operand: () => Node): Node {
    const first = operand();
    const operands: Node[] = [first];
    const operators: (ArithmeticOperator | ComparisonOperator)[] = [];
    for (let token = this.#peek(); token.type === 'symbol' && symbols.has(token.text); token = this.#peek()) {
      this.#next();
      operators.push(token.text as ArithmeticOperator | ComparisonOperator);
      operands.push(operand());
    }
    if (operators.length === 0) return first;
    return this.#node({
      kind: 'binary',
      level,
      operands,
      operators,
      offset: first.offset,
      depth: 1 + maxDepth(operands),
    });
  }

  #comparison(): Node {
    return this.#binary('comparison', COMPARISON, () => this.#additive());
  }

  #additive(): Node {
    return this.#binary('additive', ADDITIVE, () => this.#multiplicative());
  }

  #multiplicative(): Node {
    return this.#binary('multiplicative', MULTIPLICATIVE, () => this.#postfix());
  }

  /** `x [NOT] LIKE 'pattern'` and `x [NOT] IN (a, b, …)`, left to right. */
  #postfix(): Node {
    let node = this.#unary();
    for (;;) {
      const token = this.#peek();
      const negated = this.#isKeyword(token, 'NOT');
      const operator = negated ? this.#peek(1) : token;
      if (this.#isKeyword(operator, 'LIKE')) {
        this.#index += negated ? 2 : 1;
        const pattern = this.#next();
        if (pattern.type !== 'string') {
          throw this.#error(
            pattern,
            `LIKE needs a string literal as its pattern, found ${describe(pattern)}`,
          );
        }
        node = this.#node({
          kind: 'like',
          operand: node,
          pattern: compileLike(pattern.value),
          negated,
          offset: node.offset,
          depth: node.depth + 1,
        });
      } else if (this.#isKeyword(operator, 'IN')) {
        this.#index += negated ? 2 : 1;
        const set = this.#list('IN', false);
        node = this.#node({
          kind: 'in',
          operand: node,
          set,
          negated,
          offset: node.offset,
          depth: 1 + maxDepth([node, ...set]),
        });
      } else {
        return node;
      }
    }
  }

  /** `( expr, … )` for IN sets (never empty) and call arguments (possibly empty). */
  #list(context: string, allowEmpty: boolean): Node[] {
    this.#expect('(', `after ${context}`);
    const items: Node[] = [];
    if (allowEmpty && this.#isSymbol(this.#peek(), ')')) {
      this.#next();
      return items;
    }
    for (;;) {
      items.push(this.#expression());
      const token = this.#next();
      if (this.#isSymbol(token, ')')) return items;
      if (!this.#isSymbol(token, ','))
        throw this.#error(token, `expected ',' or ')' in ${context}, found ${describe(token)}`);
    }
  }

  #unary(): Node {
    this.#nesting += 1;
    try {
      const token = this.#peek();
      if (this.#nesting > this.#maxDepth) {
        throw this.#error(token, `the expression nests deeper than ${this.#maxDepth} levels`);
      }
      if (this.#isKeyword(token, 'NOT')) {
        this.#next();
        const operand = this.#unary();
        return this.#node({ kind: 'not', operand, offset: token.offset, depth: operand.depth + 1 });
      }
      if (this.#isSymbol(token, '-')) {
        this.#next();
        const literal = this.#peek();
        if (literal.type === 'word' && DIGITS.test(literal.text)) {
          this.#next();
          return { kind: 'literal', value: 0 - this.#integer(literal, true), offset: token.offset, depth: 1 };
        }
        const operand = this.#unary();
        return this.#node({ kind: 'negate', operand, offset: token.offset, depth: operand.depth + 1 });
      }
      return this.#primary();
    } finally {
      this.#nesting -= 1;
    }
  }

  #integer(token: Token, negated: boolean): number {
    const value = Number(token.text);
    if (value > INT32_MAX + (negated ? 1 : 0)) {
      throw this.#error(token, `the integer ${negated ? '-' : ''}${token.text} is outside the 32-bit range`);
    }
    return value;
  }

  #primary(): Node {
    const token = this.#next();
    if (this.#isSymbol(token, '(')) {
      const inner = this.#expression();
      this.#expect(')', 'to close the parenthesis');
      return inner;
    }
    if (token.type === 'string')
      return { kind: 'literal', value: token.value, offset: token.offset, depth: 1 };
    if (token.type !== 'word') throw this.#error(token, `expected a value, found ${describe(token)}`);
    if (DIGITS.test(token.text)) {
      return { kind: 'literal', value: this.#integer(token, false), offset: token.offset, depth: 1 };
    }
    if (token.value === 'TRUE' || token.value === 'FALSE') {
      return { kind: 'literal', value: token.value === 'TRUE', offset: token.offset, depth: 1 };
    }
    if (token.value === 'EXISTS') {
      const name = this.#next();
      if (name.type !== 'word' || KEYWORDS.has(name.value) || DIGITS.test(name.text)) {
        throw this.#error(name, `EXISTS needs an attribute name, found ${describe(name)}`);
      }
      const attribute = this.#attribute(name);
      return { kind: 'exists', attribute, offset: token.offset, depth: 2 };
    }
    if (KEYWORDS.has(token.value))
      throw this.#error(token, `expected a value, found the keyword ${token.value}`);
    if (this.#isSymbol(this.#peek(), '(')) {
      if (!FUNCTION_NAME.test(token.text))
        throw this.#error(token, `'${token.text}' is not a valid function name`);
      const args = this.#list(`the arguments of ${token.value}`, true);
      return this.#node({
        kind: 'call',
        name: token.value,
        args,
        offset: token.offset,
        depth: 1 + maxDepth(args),
      });
    }
    return this.#attribute(token);
  }

  /** An attribute name, or `data` followed by `.key` / `.'key'` / `.0` segments. */
  #attribute(token: Token): AttributeNode {
    const name = token.text.toLowerCase();
    if (name === 'data') {
      const path: string[] = [];
      while (this.#isSymbol(this.#peek(), '.')) {
        this.#next();
        const segment = this.#next();
        if (segment.type !== 'word' && segment.type !== 'string') {
          throw this.#error(segment, `expected a key after 'data.', found ${describe(segment)}`);
        }
        path.push(segment.type === 'string' ? segment.value : segment.text);
      }
      return { kind: 'attribute', name, path, offset: token.offset, depth: 1 };
    }
    if (!IDENTIFIER.test(token.text)) {
      throw this.#error(token, `'${token.text}' is not a valid attribute name (letters and digits only)`);
    }
    if (this.#isSymbol(this.#peek(), '.')) {
      throw this.#error(this.#peek(), `only 'data' has fields: '${token.text}.' is not allowed`);
    }
    return { kind: 'attribute', name, offset: token.offset, depth: 1 };
  }
}

function maxDepth(nodes: readonly Node[]): number {
  let depth = 0;
  for (const node of nodes) depth = Math.max(depth, node.depth);
  return depth;
}

/** Parses a CESQL expression into its tree; throws JunctionError `InvalidFilter` naming the position. */
export function parseCesql(source: string, options: ParseOptions = {}): Node {
  return new Parser(source, options.maxDepth ?? DEFAULT_MAX_DEPTH).parse();
}
