/**
 * The compiled index of all patterns. Each sub-pattern is filed under one anchor condition (its most selective
 * field) in a trie of field paths; an event is walked once along the paths the index knows, every leaf is looked
 * up in hash maps, character tries and interval trees, and only the sub-patterns whose anchor fired are then
 * checked in full. Matching costs the event's size plus the candidates, not the number of patterns.
 */
import { compilePattern } from './compile.ts';
import { ipKey } from './ip.ts';
import { JsonNumber, RepeatedKey } from './json-number.ts';
import type { Leaf } from './leaf.ts';
import { caseKey, leafOf, matchLeaf, textCaseKey } from './leaf.ts';
import type { CompiledPattern, FieldCondition, Matcher, PatternLimits, SubPattern } from './model.ts';
import { normalizeEvent, satisfiesFlat, satisfiesNormalized } from './satisfy.ts';
import { CharTrie, FilteredMap, IntervalIndex } from './structures.ts';
import { matchWildcard } from './wildcard.ts';

interface Entry {
  readonly id: string;
  readonly subs: Sub[];
  stamp: number;
}

interface Sub {
  readonly entry: Entry;
  readonly pattern: SubPattern;
  /** One present field and nothing else: the anchor firing is the whole match. */
  readonly direct: boolean;
  readonly anchors: Condition[];
  stamp: number;
}

/** One distinct (path, matcher), shared by every sub-pattern anchored on it. */
interface Condition {
  readonly key: string;
  readonly matcher: Matcher;
  /**
   * An equals-ignore-case operand of ASCII characters only: on an ASCII string, equal case keys are a match (only
   * non-ASCII strings, such as "ſ" for "s", can share the key without being a form of the operand).
   */
  readonly ascii: boolean;
  readonly node: PathNode;
  readonly subs: Set<Sub>;
}

/** The trie of the field paths patterns use, as `PatternIndex.paths` shows it. */
export interface PathTrie {
  readonly children: ReadonlyMap<string, PathTrie>;
  /** Fields of live sub-patterns whose path runs through this node (the root counts none). */
  readonly uses: number;
}

interface PathNode {
  readonly children: Map<string, PathNode>;
  index: AnchorIndex | undefined;
  /** Fields of live sub-patterns whose path runs through this node; at 0 the node is dropped. */
  uses: number;
}

/**
 * How selective a condition usually is (lower is better), to pick a sub-pattern's anchor. Exact numbers tend to be
 * identifiers or measurements, exact strings often categories, booleans and null split events in two.
 */
function selectivity(m: Matcher): number {
  switch (m.kind) {
    case 'number':
      return 0.9;
    case 'string':
    case 'equals-ignore-case':
      return 1;
    case 'literal':
      return 1.5;
    case 'numeric':
      return m.low === m.high ? 0.9 : 3;
    case 'prefix':
    case 'suffix':
      return 2;
    case 'cidr':
      return 3;
    case 'wildcard':
      return 4;
    case 'exists':
      return 6;
    default:
      return 7;
  }
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Whether a matcher of the equals-ignore-case family has an ASCII operand (see `Condition.ascii`). */
function asciiOperand(m: Matcher): boolean {
  if (m.kind === 'equals-ignore-case') return isAscii(m.value);
  if ((m.kind === 'prefix' || m.kind === 'suffix') && m.ignoreCase) return isAscii(m.value);
  return false;
}

function conditionKey(m: Matcher): string {
  switch (m.kind) {
    case 'anything-but':
      return `ab|${JSON.stringify([[...m.strings].sort(), [...m.lexemes].sort(), [...m.numbers].sort()])}`;
    case 'anything-but-prefix':
    case 'anything-but-suffix':
    case 'anything-but-equals-ignore-case':
    case 'anything-but-wildcard':
      return `${m.kind}|${JSON.stringify([...m.values].sort())}`;
    case 'numeric':
      return `numeric|${m.low}|${m.lowInclusive}|${m.high}|${m.highInclusive}`;
    case 'prefix':
    case 'suffix':
      return `${m.kind}|${m.ignoreCase}|${m.value}`;
    case 'number':
      return `number|${m.lexeme}|${m.value}`;
    case 'exists':
      return 'exists';
    case 'cidr':
      return `cidr|${m.low}|${m.high}`;
    case 'literal':
      return `literal|${m.value}`;
    case 'string':
      return m.ip === undefined ? `string|${m.value}` : `ip|${m.ip}`;
    default:
      return `${m.kind}|${m.value}`;
  }
}

/** The anchor conditions filed at one path. */
class AnchorIndex {
  readonly conditions = new Map<string, Condition>();
  readonly exact = new FilteredMap<Set<Condition>>();
  /** Exact strings, by the string itself. */
  readonly strings = new FilteredMap<Set<Condition>>();
  /** Comparable numbers (exact values and `numeric =`), by value. */
  readonly values = new Map<number, Set<Condition>>();
  readonly prefix = new CharTrie<Condition>();
  readonly suffix = new CharTrie<Condition>(true);
  readonly prefixFolded = new CharTrie<Condition>();
  readonly suffixFolded = new CharTrie<Condition>(true);
  readonly wildcard = new CharTrie<Condition>();
  readonly numeric = new IntervalIndex<number, Condition>();
  readonly cidr = new IntervalIndex<string, Condition>();
  readonly scan = new Set<Condition>();
  folded = 0;

  #exactKeys(m: Matcher): string[] {
    switch (m.kind) {
      case 'number':
        return m.value === undefined ? [`l:${m.lexeme}`] : [];
      case 'literal':
        return [m.value === true ? 't' : m.value === false ? 'f' : 'z'];
      case 'equals-ignore-case': {
        const key = caseKey(m.value, m.forms);
        return key === undefined ? [] : [`i:${key}`];
      }
      default:
        return [];
    }
  }

  /** Files (add) or unfiles (remove) a condition in the structure its matcher belongs to. */
  file(c: Condition, add: boolean): void {
    const m = c.matcher;
    const keys = this.#exactKeys(m);
    if (keys.length > 0) {
      for (const k of keys) {
        let set = this.exact.get(k);
        if (set === undefined) {
          set = new Set();
          this.exact.set(k, set);
        }
        if (add) set.add(c);
        else {
          set.delete(c);
          if (set.size === 0) this.exact.delete(k);
        }
      }
      if (m.kind === 'equals-ignore-case') this.folded += add ? 1 : -1;
      return;
    }
    switch (m.kind) {
      case 'string': {
        if (m.ip !== undefined) {
          // An address: found by its key in the interval index, as a block of one address.
          if (add) this.cidr.add({ low: m.ip, lowInclusive: true, high: m.ip, highInclusive: true, item: c });
          else this.cidr.remove(c);
          return;
        }
        let set = this.strings.get(m.value);
        if (set === undefined) {
          set = new Set();
          this.strings.set(m.value, set);
        }
        if (add) set.add(c);
        else {
          set.delete(c);
          if (set.size === 0) this.strings.delete(m.value);
        }
        return;
      }
      case 'number':
      case 'numeric': {
        const value = m.kind === 'number' ? m.value : m.low === m.high ? m.low : undefined;
        if (value !== undefined) {
          let set = this.values.get(value);
          if (set === undefined) {
            set = new Set();
            this.values.set(value, set);
          }
          if (add) set.add(c);
          else {
            set.delete(c);
            if (set.size === 0) this.values.delete(value);
          }
          return;
        }
        if (m.kind === 'number') return;
        if (add) {
          const { low, lowInclusive, high, highInclusive } = m;
          this.numeric.add({ low, lowInclusive, high, highInclusive, item: c });
        } else this.numeric.remove(c);
        return;
      }
      case 'prefix':
      case 'suffix': {
        const key = m.ignoreCase ? caseKey(m.value, m.forms) : m.value;
        if (key === undefined) {
          if (add) this.scan.add(c);
          else this.scan.delete(c);
          return;
        }
        const trie =
          m.kind === 'prefix'
            ? m.ignoreCase
              ? this.prefixFolded
              : this.prefix
            : m.ignoreCase
              ? this.suffixFolded
              : this.suffix;
        if (add) trie.add(key, c);
        else trie.remove(key, c);
        if (m.ignoreCase) this.folded += add ? 1 : -1;
        return;
      }
      case 'wildcard': {
        const key = m.wildcard.pieces[0] ?? '';
        if (add) this.wildcard.add(key, c);
        else this.wildcard.remove(key, c);
        return;
      }
      case 'cidr':
        if (add)
          this.cidr.add({ low: m.low, lowInclusive: true, high: m.high, highInclusive: true, item: c });
        else this.cidr.remove(c);
        return;
      default:
        if (add) this.scan.add(c);
        else this.scan.delete(c);
    }
  }

  /** The leaf and visitor of the lookup under way, for `#confirm` (made once, not per leaf). */
  #leaf: Leaf | undefined;
  #visitConfirmed: (c: Condition) => void = () => {};
  /** Visits a condition found by case key once `matchLeaf` confirms it. */
  readonly #confirm = (c: Condition): void => {
    const leaf = this.#leaf as Leaf;
    if (c.ascii) {
      this.#asciiLeaf ??= isAscii(leaf.text);
      if (this.#asciiLeaf) {
        this.#visitConfirmed(c);
        return;
      }
    }
    if (matchLeaf(c.matcher, leaf)) this.#visitConfirmed(c);
  };
  /** Whether the leaf of the lookup under way is ASCII, once a condition asked. */
  #asciiLeaf: boolean | undefined;

  #exact(key: string, visit: (c: Condition) => void): void {
    const set = this.exact.get(key);
    if (set !== undefined) for (const c of set) visit(c);
  }

  /**
   * Calls `visit` with every condition that the leaf satisfies. Conditions found by case key (the
   * equals-ignore-case family) are candidates, confirmed by `matchLeaf`.
   */
  lookup(leaf: Leaf, visit: (c: Condition) => void): void {
    switch (leaf.kind) {
      case 's': {
        const text = leaf.text;
        const exact = this.strings.get(text);
        if (exact !== undefined) for (const c of exact) visit(c);
        if (!this.prefix.isEmpty) this.prefix.collect(text, visit);
        if (!this.suffix.isEmpty) this.suffix.collect(text, visit);
        if (this.folded > 0) {
          const key = textCaseKey(text);
          this.#leaf = leaf;
          this.#asciiLeaf = undefined;
          this.#visitConfirmed = visit;
          this.#exact(`i:${key}`, this.#confirm);
          if (!this.prefixFolded.isEmpty) this.prefixFolded.collect(key, this.#confirm);
          if (!this.suffixFolded.isEmpty) this.suffixFolded.collect(key, this.#confirm);
        }
        if (!this.wildcard.isEmpty) {
          this.wildcard.collect(text, (c) => {
            if (c.matcher.kind === 'wildcard' && matchWildcard(c.matcher.wildcard, text)) visit(c);
          });
        }
        if (this.cidr.size > 0) {
          const key = ipKey(text);
          if (key !== undefined) this.cidr.collect(key, visit);
        }
        break;
      }
      case 'n':
        if (leaf.value !== undefined) {
          const set = this.values.get(leaf.value);
          if (set !== undefined) for (const c of set) visit(c);
          if (this.numeric.size > 0) this.numeric.collect(leaf.value, visit);
        } else if (leaf.lexical) this.#exact(`l:${leaf.text}`, visit);
        break;
      default:
        this.#exact(leaf.kind, visit);
    }
    if (this.scan.size > 0) for (const c of this.scan) if (matchLeaf(c.matcher, leaf)) visit(c);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber)
  );
}

/** Every enabled pattern in one structure: incremental `add`/`remove`, `match` in one walk of the event. */
export class PatternIndex {
  readonly #entries = new Map<string, Entry>();
  readonly #root: PathNode = { children: new Map(), index: undefined, uses: 0 };
  /** Sub-patterns without a present field (only `exists: false`): checked for every event. */
  readonly #unanchored = new Set<Sub>();
  readonly #limits: Partial<PatternLimits>;
  #epoch = 0;
  #candidates: Sub[] = [];
  /** Whether the walk met an array or a dotted key, so that candidates need the array-consistent check. */
  #complex = false;
  /** Whether the walk met a dotted or repeated key, so that the check needs the event with them merged. */
  #dotted = false;
  readonly #visit = (c: Condition): void => {
    for (const sub of c.subs) {
      if (sub.stamp !== this.#epoch) {
        sub.stamp = this.#epoch;
        this.#candidates.push(sub);
      }
    }
  };

  /** @param limits pattern limits applied by `add`. @default DEFAULT_PATTERN_LIMITS */
  constructor(limits: Partial<PatternLimits> = {}) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#entries.size;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /**
   * The trie of every field path the patterns use, read-only and live (it changes with `add` and `remove`): what a
   * reader needs of an event to match it. A node where more fields pass than go on to its children ends a path.
   */
  get paths(): PathTrie {
    return this.#root;
  }

  /** Validates and adds a pattern under `id`, replacing the pattern already there. */
  add(id: string, pattern: unknown): void {
    this.addCompiled(id, compilePattern(pattern, this.#limits));
  }

  /** Adds a pattern already compiled by `compilePattern` (which validated it), replacing the one under `id`. */
  addCompiled(id: string, compiled: CompiledPattern): void {
    this.remove(id);
    const entry: Entry = { id, subs: [], stamp: 0 };
    for (const sp of compiled.subPatterns) {
      const present = sp.fields.filter((f) => f.mode === 'present');
      const anchorField = this.#anchorField(present);
      const sub: Sub = {
        entry,
        pattern: sp,
        direct: sp.fields.length === 1 && present.length === 1,
        anchors: [],
        stamp: 0,
      };
      entry.subs.push(sub);
      const nodes = sp.fields.map((f) => this.#retainPath(f.segments));
      if (anchorField === undefined) {
        this.#unanchored.add(sub);
        continue;
      }
      const node = nodes[sp.fields.indexOf(anchorField)] as PathNode;
      node.index ??= new AnchorIndex();
      const index = node.index;
      for (const m of anchorField.matchers) {
        const key = conditionKey(m);
        let c = index.conditions.get(key);
        if (c === undefined) {
          c = { key, matcher: m, node, subs: new Set(), ascii: asciiOperand(m) };
          index.conditions.set(key, c);
          index.file(c, true);
        }
        c.subs.add(sub);
        sub.anchors.push(c);
      }
    }
    this.#entries.set(id, entry);
  }

  /** Removes the pattern filed under `id`; false when there was none. */
  remove(id: string): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    for (const sub of entry.subs) {
      this.#unanchored.delete(sub);
      for (const c of sub.anchors) {
        c.subs.delete(sub);
        const index = c.node.index;
        if (c.subs.size === 0 && index !== undefined && index.conditions.get(c.key) === c) {
          index.conditions.delete(c.key);
          index.file(c, false);
          if (index.conditions.size === 0) c.node.index = undefined;
        }
      }
      for (const f of sub.pattern.fields) this.#releasePath(f.segments);
    }
    this.#entries.delete(id);
    return true;
  }

  /** The ids of the patterns that match the event (each once, in no particular order). */
  match(event: unknown): string[] {
    this.#epoch++;
    if (this.#epoch > 0x3fffffff) this.#resetStamps();
    const candidates: Sub[] = [];
    this.#candidates = candidates;
    this.#complex = false;
    this.#dotted = false;
    if (!isObject(event)) return [];
    this.#walkObject(event, this.#root);
    for (const sub of this.#unanchored) candidates.push(sub);
    const out: string[] = [];
    /** The event the array-consistent check reads: merged once, when a dotted key was met and a candidate needs it. */
    let tree: unknown;
    for (const sub of candidates) {
      const entry = sub.entry;
      if (entry.stamp === this.#epoch) continue;
      let holds = sub.direct;
      if (!holds && this.#complex) {
        tree ??= this.#dotted ? normalizeEvent(event) : event;
        holds = satisfiesNormalized(sub.pattern, tree);
      } else if (!holds) holds = satisfiesFlat(sub.pattern, event);
      if (holds) {
        entry.stamp = this.#epoch;
        out.push(entry.id);
      }
    }
    return out;
  }

  #resetStamps(): void {
    this.#epoch = 1;
    for (const e of this.#entries.values()) {
      e.stamp = 0;
      for (const s of e.subs) s.stamp = 0;
    }
  }

  #walkObject(object: Record<string, unknown>, node: PathNode): void {
    for (const key in object) {
      let child = node.children.get(key);
      if (child === undefined) {
        if (!key.includes('.')) continue;
        this.#complex = true;
        this.#dotted = true;
        child = this.#descend(node, key);
        if (child === undefined) continue;
      }
      this.#walk(object[key], child);
    }
  }

  #descend(node: PathNode, dotted: string): PathNode | undefined {
    let at: PathNode | undefined = node;
    for (const seg of dotted.split('.')) {
      at = at.children.get(seg);
      if (at === undefined) return undefined;
    }
    return at;
  }

  #walk(value: unknown, node: PathNode): void {
    if (typeof value === 'object' && value !== null) {
      if (value instanceof RepeatedKey) {
        // A key written several times: like the spellings of a dotted key, merged before the full check.
        this.#complex = true;
        this.#dotted = true;
        for (const item of value.values) this.#walk(item, node);
        return;
      }
      if (Array.isArray(value)) {
        this.#complex = true;
        for (const item of value) this.#walk(item, node);
        return;
      }
      if (!(value instanceof JsonNumber)) {
        if (node.children.size > 0) this.#walkObject(value as Record<string, unknown>, node);
        return;
      }
    }
    const index = node.index;
    if (index === undefined) return;
    const leaf = leafOf(value);
    if (leaf !== undefined) index.lookup(leaf, this.#visit);
  }

  #anchorField(present: readonly FieldCondition[]): FieldCondition | undefined {
    let best: FieldCondition | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const f of present) {
      const score = Math.max(...f.matchers.map(selectivity)) + (f.matchers.length > 8 ? 1 : 0);
      if (score < bestScore) {
        best = f;
        bestScore = score;
      }
    }
    return best;
  }

  /** The trie node of a path, made as needed, with one more use along the way. */
  #retainPath(segments: readonly string[]): PathNode {
    let node = this.#root;
    for (const seg of segments) {
      let child = node.children.get(seg);
      if (child === undefined) {
        child = { children: new Map(), index: undefined, uses: 0 };
        node.children.set(seg, child);
      }
      child.uses++;
      node = child;
    }
    return node;
  }

  /** One use less along a path; nodes no field uses any more leave the trie. */
  #releasePath(segments: readonly string[]): void {
    let node = this.#root;
    for (const seg of segments) {
      const child = node.children.get(seg);
      if (child === undefined) return;
      child.uses--;
      if (child.uses <= 0) {
        node.children.delete(seg);
        return;
      }
      node = child;
    }
  }
}
