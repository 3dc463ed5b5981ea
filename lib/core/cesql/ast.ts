/** The syntax tree of a CESQL expression. Chains of one precedence level are n-ary nodes, so depth stays small. */
import type { LikePattern } from './like.ts';
import type { CesqlValue } from './values.ts';

export type LogicOperator = 'AND' | 'OR' | 'XOR';
export type ComparisonOperator = '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=';
export type ArithmeticOperator = '*' | '/' | '%' | '+' | '-';

interface NodeBase {
  /** Offset of the node's first token in the expression. */
  readonly offset: number;
  /** 1 for a leaf, else 1 + the deepest child. Bounded at parse time, so evaluation cannot overflow the stack. */
  readonly depth: number;
}

export interface LiteralNode extends NodeBase {
  readonly kind: 'literal';
  readonly value: CesqlValue;
}

/** A context attribute (lower-cased name), or with `path` a value inside the JSON payload (the `data.` extension). */
export interface AttributeNode extends NodeBase {
  readonly kind: 'attribute';
  readonly name: string;
  /** Keys and array indexes below `data`; present only for `data` (empty for the bare identifier `data`). */
  readonly path?: readonly string[];
}

export interface ExistsNode extends NodeBase {
  readonly kind: 'exists';
  readonly attribute: AttributeNode;
}

export interface UnaryNode extends NodeBase {
  readonly kind: 'not' | 'negate';
  readonly operand: Node;
}

export interface LikeNode extends NodeBase {
  readonly kind: 'like';
  readonly operand: Node;
  readonly pattern: LikePattern;
  readonly negated: boolean;
}

export interface InNode extends NodeBase {
  readonly kind: 'in';
  readonly operand: Node;
  readonly set: readonly Node[];
  readonly negated: boolean;
}

export interface CallNode extends NodeBase {
  readonly kind: 'call';
  /** Upper-cased: function names are case-insensitive. */
  readonly name: string;
  readonly args: readonly Node[];
}

/** `operands[0] op[0] (operands[1] op[1] (…))`: AND, OR and XOR share one level and group to the right. */
export interface LogicNode extends NodeBase {
  readonly kind: 'logic';
  readonly operands: readonly Node[];
  readonly operators: readonly LogicOperator[];
}

/** `((operands[0] op[0] operands[1]) op[1] …)`: left-associative arithmetic or comparison at one level. */
export interface BinaryNode extends NodeBase {
  readonly kind: 'binary';
  readonly level: 'multiplicative' | 'additive' | 'comparison';
  readonly operands: readonly Node[];
  readonly operators: readonly (ArithmeticOperator | ComparisonOperator)[];
}

export type Node =
  | LiteralNode
  | AttributeNode
  | ExistsNode
  | UnaryNode
  | LikeNode
  | InNode
  | CallNode
  | LogicNode
  | BinaryNode;
