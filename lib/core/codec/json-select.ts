/**
 * Reads from JSON text only the members a set of field paths can reach: what the router needs of an event's `data`
 * to match it, without `JSON.parse` of the whole text and without the deep freeze of the value a target may read.
 * Numbers keep their lexeme where a double would lose it (`JsonNumber`) and a member written twice keeps every value
 * (`RepeatedKey`), as `parseEventText` reads an event for the matchers (event-ruler's reading), so the answer is the
 * one the pattern language defines on the text.
 *
 * The text must be valid JSON (a scanner checked it at ingest): this reader does not validate, it only finds ends.
 */
import type { PathTrie } from '../pattern/engine.ts';
import { JsonNumber, printsBack, RepeatedKey } from '../pattern/json-number.ts';
import {
  loadAscii,
  MEMBER_WORDS,
  membersAt,
  membersInMemory,
  membersTape,
  NamesBlock,
  namesTable,
  skipInMemory,
} from './json-wasm.ts';

/** A trie of member names: the paths whose values are wanted. Made by `fieldTrie`. */
export interface FieldTrie {
  readonly children: ReadonlyMap<string, FieldTrie>;
  /** A path ends here: the value at this node is kept whole (every member below it). */
  readonly whole: boolean;
  /** The children's names and nodes side by side, when few enough to compare in place (else empty). */
  readonly names: readonly string[];
  readonly nodes: readonly FieldTrie[];
  /** `names` as the WebAssembly module compares them (`namesTable`), when they are few, ASCII and short. */
  readonly table: Uint8Array | undefined;
  /**
   * The names block of the trie this node was built in (`fieldTrieOf`: one for the whole trie), copied into the
   * module's memory with the text, and `table`'s offset in it (-1: not in it; `table` is copied a call).
   */
  readonly block: NamesBlock | undefined;
  readonly tableAt: number;
}

/**
 * A snapshot of a pattern index's path trie (`PatternIndex.paths`, or a node of it) as `selectJson` reads it: a node
 * ends a path, and is kept whole, where more fields pass through it than go on to its children.
 */
export function fieldTrieOf(node: PathTrie, block = new NamesBlock()): FieldTrie {
  const children = new Map<string, FieldTrie>();
  let below = 0;
  for (const [name, child] of node.children) {
    below += child.uses;
    children.set(name, fieldTrieOf(child, block));
  }
  return fieldTrie(children, node.uses > below || children.size === 0, block);
}

/** Up to this many children, a member name is compared in place with each, never sliced and hashed. */
const FEW_CHILDREN = 8;

/**
 * A trie node: its children by name, and whether a path ends at it. With `block` (the same for every node of a trie,
 * children first), its names table is added to the block, which `selectJson` copies once a text.
 */
export function fieldTrie(
  children: ReadonlyMap<string, FieldTrie>,
  whole: boolean,
  block?: NamesBlock,
): FieldTrie {
  const few = children.size <= FEW_CHILDREN;
  const names = few ? [...children.keys()] : [];
  const table = names.length > 0 ? namesTable(names) : undefined;
  const tableAt = table === undefined || block === undefined ? -1 : (block.add(table) ?? -1);
  return { children, whole, names, nodes: few ? [...children.values()] : [], table, block, tableAt };
}

/** Nesting beyond this is read by `JSON.parse`-like full reading through an explicit stack, never by recursion. */
const MAX_RECURSION = 256;

let src = '';
let pos = 0;
/** Whether `src` is also in the WebAssembly module's memory (ASCII), where skipped objects and arrays are stepped over. */
let inMemory = false;
/** The names block copied with `src` (the root's): a node's `tableAt` is read only when its block is this one. */
let loadedBlock: NamesBlock | undefined;

/** Texts shorter than this are read in JS only: copying them into the module's memory would cost more than it saves. */
const MEMORY_FROM = 256;

/**
 * The value of `text` with, in every object on a path of `trie`, only the members the trie names (and members whose
 * name holds a `.`, which a pattern may address as a dotted path), kept whole where a path ends. Arrays keep every
 * element, each read against the same node. A kept member written more than once in one object keeps every value
 * (`RepeatedKey`), as `parseEventText` does. `from`: where the value begins in `text` (a stored record's data span:
 * reading the record's own flat text is faster than reading a slice of it); what follows the value is not read.
 */
export function selectJson(text: string, trie: FieldTrie, from = 0): unknown {
  src = text;
  pos = from;
  loadedBlock = trie.block;
  inMemory = text.length >= MEMORY_FROM && loadAscii(text, loadedBlock?.bytes());
  try {
    skipWhitespace();
    return trie.whole ? readWhole(0) : readSelected(trie, 0);
  } finally {
    src = '';
  }
}

function skipWhitespace(): void {
  let c = src.charCodeAt(pos);
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = src.charCodeAt(++pos);
}

function readSelected(node: FieldTrie, depth: number): unknown {
  const c = src.charCodeAt(pos);
  if (c === 0x7b) {
    if (depth >= MAX_RECURSION) return readWhole(depth);
    if (inMemory && node.table !== undefined) return readSelectedInMemory(node, node.table, depth);
    pos++;
    const out: Record<string, unknown> = {};
    skipWhitespace();
    if (src.charCodeAt(pos) === 0x7d) {
      pos++;
      return out;
    }
    const { names, nodes } = node;
    const few = names.length > 0 || node.children.size === 0;
    for (;;) {
      // The member name: compared in place when it is plain (no escape, no dot) and the node has few children.
      const start = pos + 1;
      let i = start;
      let k = src.charCodeAt(i);
      while (k !== 0x22 && k !== 0x5c && k !== 0x2e) k = src.charCodeAt(++i);
      let key: string | undefined;
      let child: FieldTrie | undefined;
      if (k === 0x22 && few) {
        pos = i + 1;
        const length = i - start;
        for (let n = 0; n < names.length; n++) {
          const name = names[n] as string;
          if (name.length === length && src.startsWith(name, start)) {
            key = name;
            child = nodes[n];
            break;
          }
        }
      } else {
        key = readString();
        child = node.children.get(key);
      }
      skipWhitespace();
      pos++; // ':'
      skipWhitespace();
      readMember(out, key, child, depth);
      skipWhitespace();
      if (src.charCodeAt(pos++) === 0x7d) return out;
      skipWhitespace();
    }
  }
  if (c === 0x5b) {
    if (depth >= MAX_RECURSION) return readWhole(depth);
    pos++;
    const out: unknown[] = [];
    skipWhitespace();
    if (src.charCodeAt(pos) === 0x5d) {
      pos++;
      return out;
    }
    for (;;) {
      out.push(readSelected(node, depth + 1));
      skipWhitespace();
      if (src.charCodeAt(pos++) === 0x5d) return out;
      skipWhitespace();
    }
  }
  return readScalar(c);
}

/**
 * `readSelected` of the object at `pos` when the text is in the module's memory: the module walks its members,
 * compares their keys with the node's names and steps over the values of the others; it records named strings,
 * numbers and literals (read here) and stops at a named object or array, or a key with an escape or a dot, for the
 * value to be read here, then goes on after it.
 */
function readSelectedInMemory(node: FieldTrie, table: Uint8Array, depth: number): Record<string, unknown> {
  const { names, nodes } = node;
  const out: Record<string, unknown> = {};
  // The table's offset in the block copied with the text: only a node of the root's block has one there.
  const tableAt = node.block === loadedBlock ? node.tableAt : -1;
  let count = membersInMemory(pos, src.length, table, false, tableAt);
  for (;;) {
    if (count < 0) throw new SyntaxError('unterminated object in JSON text the scanner accepted');
    const tape = membersTape;
    let at = membersAt;
    const end = tape[at - 4] as number;
    let next = tape[at - 3] as number;
    for (let r = 0; r < count; r++, at += MEMBER_WORDS) {
      const index = tape[at] as number;
      pos = tape[at + 3] as number;
      if ((tape[at + 4] as number) >= 0) {
        // A named string, number or literal (reading it does not call the module: the tape stays).
        put(out, names[index] as string, readScalar(src.charCodeAt(pos)));
        continue;
      }
      // The last record: a value the module left to JS (a named object or array, or a name with an escape or a dot).
      if (index >= 0) readMember(out, names[index], nodes[index], depth);
      else {
        // The name with its quotes, decoded as `readString` decodes one.
        const quoted = src.slice((tape[at + 1] as number) - 1, (tape[at + 2] as number) + 1);
        const key = quoted.includes('\\') ? (JSON.parse(quoted) as string) : quoted.slice(1, -1);
        readMember(out, key, node.children.get(key), depth);
      }
      next = pos;
    }
    if (end >= 0) {
      pos = end;
      return out;
    }
    count = membersInMemory(next, src.length, table, true, tableAt);
  }
}

/**
 * The value at `pos` of the member `key` of an object at `depth` into `out`: read along its trie node `child`, kept
 * whole for a name with a dot (a pattern may address it as a dotted path), else stepped over. `key` is undefined for
 * a plain name that none of a node's few names is.
 */
function readMember(
  out: Record<string, unknown>,
  key: string | undefined,
  child: FieldTrie | undefined,
  depth: number,
): void {
  if (child !== undefined) {
    put(out, key as string, child.whole ? readWhole(depth + 1) : readSelected(child, depth + 1));
  } else if (key?.includes('.')) {
    put(out, key, readWhole(depth + 1));
  } else {
    skipValue();
  }
}

/** The whole value at `pos`. */
function readWhole(depth: number): unknown {
  const c = src.charCodeAt(pos);
  if (c !== 0x7b && c !== 0x5b) return readScalar(c);
  if (depth >= MAX_RECURSION) {
    const start = pos;
    skipValue();
    return parseDeep(src.slice(start, pos));
  }
  pos++;
  skipWhitespace();
  if (c === 0x7b) {
    const out: Record<string, unknown> = {};
    if (src.charCodeAt(pos) === 0x7d) {
      pos++;
      return out;
    }
    for (;;) {
      const key = readString();
      skipWhitespace();
      pos++;
      skipWhitespace();
      put(out, key, readWhole(depth + 1));
      skipWhitespace();
      if (src.charCodeAt(pos++) === 0x7d) return out;
      skipWhitespace();
    }
  }
  const out: unknown[] = [];
  if (src.charCodeAt(pos) === 0x5d) {
    pos++;
    return out;
  }
  for (;;) {
    out.push(readWhole(depth + 1));
    skipWhitespace();
    if (src.charCodeAt(pos++) === 0x5d) return out;
    skipWhitespace();
  }
}

function readScalar(c: number): unknown {
  if (c === 0x22) return readString();
  if (c === 0x74) {
    pos += 4;
    return true;
  }
  if (c === 0x66) {
    pos += 5;
    return false;
  }
  if (c === 0x6e) {
    pos += 4;
    return null;
  }
  return readNumber();
}

/** A number: a JS number when it prints back as its lexeme, else a `JsonNumber` keeping the lexeme. */
function readNumber(): number | JsonNumber {
  const start = pos;
  let plainInteger = true;
  for (;;) {
    const c = src.charCodeAt(pos);
    if (c >= 0x30 && c <= 0x39) pos++;
    else if (c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) {
      if (c !== 0x2d || pos !== start) plainInteger = false;
      pos++;
    } else break;
  }
  const lexeme = src.slice(start, pos);
  const value = Number(lexeme);
  // A plain integer of up to 15 digits (no leading zero in valid JSON, except "0" and "-0") prints back as itself.
  if (plainInteger && lexeme.length <= 15 && lexeme !== '-0') return value;
  return printsBack(lexeme, value) ? value : new JsonNumber(lexeme);
}

/** The string whose opening quote is at `pos`, decoded; `pos` ends after its closing quote. */
function readString(): string {
  const start = pos + 1;
  let i = start;
  for (;;) {
    const c = src.charCodeAt(i);
    if (c === 0x22) {
      pos = i + 1;
      return src.slice(start, i);
    }
    if (c === 0x5c) break;
    i++;
  }
  skipString();
  return JSON.parse(src.slice(start - 1, pos)) as string;
}

/** Moves `pos` past the string whose opening quote is at `pos`. */
function skipString(): void {
  let i = pos + 1;
  for (;;) {
    const end = src.indexOf('"', i);
    if (end < 0) throw new SyntaxError('unterminated string in JSON text the scanner accepted');
    // The quote is escaped when an odd number of backslashes precedes it.
    let backslashes = 0;
    while (src.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) {
      pos = end + 1;
      return;
    }
    i = end + 1;
  }
}

/** Moves `pos` past the value at `pos`, whatever its nesting (no recursion). */
function skipValue(): void {
  const c = src.charCodeAt(pos);
  if (c === 0x22) {
    skipString();
    return;
  }
  if (c !== 0x7b && c !== 0x5b) {
    // A number or a literal: up to the next separator, closer or whitespace (all below '0' but '-', or ']' '}').
    for (;;) {
      const d = src.charCodeAt(++pos);
      if (d === 0x2c || d === 0x7d || d === 0x5d || d <= 0x20 || Number.isNaN(d)) return;
    }
  }
  if (inMemory) {
    const end = skipInMemory(pos, src.length);
    if (end < 0) throw new SyntaxError('unterminated value in JSON text the scanner accepted');
    pos = end;
    return;
  }
  let depth = 1;
  pos++;
  for (;;) {
    const d = src.charCodeAt(pos);
    if (d < 0x5b) {
      // Digits, signs, separators, whitespace, upper-case letters, or a quote.
      if (d === 0x22) skipString();
      else pos++;
    } else if (d === 0x5b || d === 0x7b) {
      depth++;
      pos++;
    } else if (d === 0x5d || d === 0x7d) {
      pos++;
      if (--depth === 0) return;
    } else if (Number.isNaN(d)) {
      throw new SyntaxError('unterminated value in JSON text the scanner accepted');
    } else pos++;
  }
}

/**
 * A member set as an own member (`__proto__` too, never the prototype); a name already there keeps both values, as
 * `parseEventText` keeps them (`RepeatedKey`).
 */
function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (Object.hasOwn(out, key)) {
    const seen = out[key];
    value = new RepeatedKey(seen instanceof RepeatedKey ? [...seen.values, value] : [seen, value]);
  }
  if (key === '__proto__') {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  } else out[key] = value;
}

/** A value nested beyond `MAX_RECURSION`: read by `JSON.parse` with numbers kept as lexemes where needed. */
function parseDeep(text: string): unknown {
  const saved = src;
  const savedPos = pos;
  try {
    return JSON.parse(text, (_key, value, context?: { source?: string }) => {
      if (typeof value !== 'number' || context?.source === undefined) return value;
      return String(value) === context.source ? value : new JsonNumber(context.source);
    });
  } finally {
    src = saved;
    pos = savedPos;
  }
}

/**
 * The exact text of the member `name` of the JSON object `text` (valid JSON, checked before), its last occurrence as
 * `JSON.parse` keeps it; `undefined` when `text` is no object or has no such member. For what a parsed value loses:
 * a rule's pattern with its number lexemes and repeated keys.
 */
export function memberText(text: string, name: string): string | undefined {
  src = text;
  pos = 0;
  inMemory = false;
  try {
    skipWhitespace();
    if (src.charCodeAt(pos) !== 0x7b) return undefined;
    pos++;
    skipWhitespace();
    let found: string | undefined;
    if (src.charCodeAt(pos) === 0x7d) return undefined;
    for (;;) {
      const key = readString();
      skipWhitespace();
      pos++; // ':'
      skipWhitespace();
      const start = pos;
      skipValue();
      if (key === name) found = src.slice(start, pos);
      skipWhitespace();
      if (src.charCodeAt(pos++) === 0x7d) return found;
      skipWhitespace();
    }
  } finally {
    src = '';
  }
}
