/** The EventBridge event-pattern engine: validation, the compiled index, the reference interpreter, explain. */
export { compilePattern, compilePatternText, parsePatternText, validatePattern } from './compile.ts';
export { type PathTrie, PatternIndex } from './engine.ts';
export type { Explanation } from './explain.ts';
export { explain } from './explain.ts';
export {
  comparableValue,
  JsonNumber,
  OrderedObject,
  parseEventText,
  parseJsonPreservingNumbers,
  RepeatedKey,
} from './json-number.ts';
export type { CompiledPattern, FieldCondition, Matcher, PatternLimits, SubPattern } from './model.ts';
export { DEFAULT_PATTERN_LIMITS } from './model.ts';
export { matchesPattern } from './reference.ts';
