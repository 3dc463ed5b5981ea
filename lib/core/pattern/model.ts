/** The compiled form of an event pattern: a disjunction of sub-patterns, each a conjunction of field conditions. */
import type { Wildcard } from './wildcard.ts';

/**
 * An equals-ignore-case operand as event-ruler reads it: per character (per code point), the strings that may stand
 * for it in the event, its lower and its upper case (`["ß", "SS"]`, `["a", "A"]`, `["1"]`).
 */
export type CaseForms = readonly (readonly string[])[];

/** One value condition on a leaf of the event. */
export type Matcher =
  | {
      readonly kind: 'string';
      readonly value: string;
      /**
       * For a bare string that is an IP address (`"10.0.0.1"`, `"2001:db8::1"`): its key (`ipKey`). It matches any
       * text of the same address (`"2001:DB8:0::1"`), as in event-ruler.
       */
      readonly ip?: string;
    }
  | { readonly kind: 'number'; readonly lexeme: string; readonly value: number | undefined }
  | { readonly kind: 'literal'; readonly value: true | false | null }
  | {
      readonly kind: 'prefix' | 'suffix';
      readonly value: string;
      readonly ignoreCase: boolean;
      /** With `ignoreCase`: the forms of `value`. */
      readonly forms?: CaseForms;
    }
  | { readonly kind: 'equals-ignore-case'; readonly value: string; readonly forms: CaseForms }
  | { readonly kind: 'wildcard'; readonly value: string; readonly wildcard: Wildcard }
  | {
      readonly kind: 'anything-but';
      readonly strings: ReadonlySet<string>;
      /** Lexemes of numbers no double holds exactly (compared as text). */
      readonly lexemes: ReadonlySet<string>;
      /** Comparable numbers (compared by value). */
      readonly numbers: ReadonlySet<number>;
      readonly shown: unknown;
    }
  | { readonly kind: 'anything-but-prefix' | 'anything-but-suffix'; readonly values: readonly string[] }
  | {
      readonly kind: 'anything-but-equals-ignore-case';
      readonly values: readonly string[];
      /** The forms of each value. */
      readonly forms: readonly CaseForms[];
    }
  | {
      readonly kind: 'anything-but-wildcard';
      readonly values: readonly string[];
      readonly wildcards: readonly Wildcard[];
    }
  | {
      readonly kind: 'numeric';
      readonly low: number;
      readonly lowInclusive: boolean;
      readonly high: number;
      readonly highInclusive: boolean;
      readonly shown: readonly unknown[];
    }
  | { readonly kind: 'exists' }
  | { readonly kind: 'cidr'; readonly value: string; readonly low: string; readonly high: string };

/** A field of a sub-pattern: a dotted path into the event and what it requires there. */
export interface FieldCondition {
  /** The dotted path, e.g. `data.total` (a key containing dots is the same as nesting). */
  readonly path: string;
  /** `path` split on dots. */
  readonly segments: readonly string[];
  /** Where in the pattern this field was written, e.g. `pattern.data.total`. */
  readonly source: string;
  /** `present`: some leaf at the path matches one of `matchers`; `absent`: no leaf at the path. */
  readonly mode: 'present' | 'absent';
  readonly matchers: readonly Matcher[];
}

/** One conjunction (a `$or` pattern expands into several). */
export interface SubPattern {
  readonly fields: readonly FieldCondition[];
}

export interface CompiledPattern {
  readonly subPatterns: readonly SubPattern[];
}

/** Bounds that keep every pattern cheap to store and to match. */
export interface PatternLimits {
  /** Largest pattern, in bytes of its JSON text. @default 65536 */
  readonly maxBytes: number;
  /** Deepest nesting of objects and arrays in the pattern. @default 64 */
  readonly maxDepth: number;
  /** Most `*` in one wildcard value. @default 32 */
  readonly maxWildcardStars: number;
  /** Most wildcard values (including anything-but wildcards) in one pattern. @default 256 */
  readonly maxWildcardValues: number;
  /** Most sub-patterns a pattern expands into (`$or` branches times `exists: false` alternatives). @default 256 */
  readonly maxCombinations: number;
  /** Most values in one list (alternatives, anything-but lists). @default 4096 */
  readonly maxValues: number;
}

export const DEFAULT_PATTERN_LIMITS: PatternLimits = Object.freeze({
  maxBytes: 65536,
  maxDepth: 64,
  maxWildcardStars: 32,
  maxWildcardValues: 256,
  maxCombinations: 256,
  maxValues: 4096,
});
