/** The live set of enabled rules, compiled: one pattern index for all patterns, CESQL filters beside it. */
import { type CompiledFilter, compileFilter } from '../core/cesql/index.ts';
import type { StoredEvent } from '../core/cloudevent.ts';
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { type FieldTrie, fieldTrieOf, selectJson } from '../core/codec/json-select.ts';
import { rawDataText } from '../core/codec/raw-data.ts';
import {
  eventBridgeOverrides,
  eventBridgeReads,
  SOURCE_EXTENSION,
  toCloudEventsPattern,
} from '../core/eventbridge-shape.ts';
import { PatternIndex, parsePatternText } from '../core/pattern/index.ts';
import type { Rule } from '../core/rule-types.ts';

interface Entry {
  readonly rule: Rule;
  readonly filter: CompiledFilter | undefined;
  /** The rule's place among all the rules' names in sorted order (`#rankEntries`), for ordering matches. */
  rank: number;
}

/** Up to this many matches are ordered by insertion (no comparator calls); more by `Array.prototype.sort`. */
const FEW_MATCHES = 16;

/**
 * Matches events against every enabled rule. Rules with a pattern are found through the compiled index (cost in
 * proportion to the event and the matches, not the number of rules); a filter is then checked on those. Rules
 * with only a filter are evaluated one by one — their cost grows with their number (documented in docs/rules.md).
 * A pattern is indexed in its CloudEvents shape (`toCloudEventsPattern`: EventBridge's `detail-type`, `detail`, …
 * become `type`, `data`, …), and events are matched as that mapping reads them (`eventBridgeOverrides`).
 */
/** The extension attribute naming the scheduled rule an event of a schedule is for (lib/engine/scheduler.ts). */
export const SCHEDULE_EXTENSION = 'schedulerule';

export class RuleMatcher {
  readonly #index = new PatternIndex();
  readonly #entries = new Map<string, Entry>();
  readonly #filterOnly = new Map<string, Entry>();
  /** What the patterns read of `data` (`null` when none reads it); `undefined` after a change, until the next match. */
  #dataFields: FieldTrie | null | undefined = null;
  /** Which derived EventBridge fields the patterns read (`eventBridgeReads`); set with `#dataFields`. */
  #reads = 0;
  /** The top-level names the patterns read besides `data` (what a view copies of the event); set with `#dataFields`. */
  #attributes: readonly string[] = [];
  /** Whether every entry's `rank` is current (a rule set since has none yet; a deletion keeps the others' order). */
  #ranked = true;

  /** Adds or replaces a rule; a disabled rule is removed from matching. */
  set(rule: Rule): void {
    this.delete(rule.name);
    if (!rule.enabled) return;
    const entry: Entry = {
      rule,
      filter: rule.filter === undefined ? undefined : compileFilter(rule.filter, { path: 'filter' }),
      rank: 0,
    };
    this.#ranked = false;
    if (rule.schedule !== undefined) {
      // A scheduled rule matches the events its schedule publishes: they name it in an extension.
      this.#index.add(rule.name, { [SCHEDULE_EXTENSION]: [rule.name] });
      this.#entries.set(rule.name, entry);
      this.#dataFields = undefined;
    } else if (rule.pattern === undefined) {
      this.#filterOnly.set(rule.name, entry);
    } else {
      // The text as written keeps number lexemes and repeated keys; a pattern in EventBridge's vocabulary is indexed
      // in its CloudEvents shape, translated from that text when there is one (from the value otherwise).
      const written = rule.patternText === undefined ? rule.pattern : parsePatternText(rule.patternText);
      this.#index.add(rule.name, toCloudEventsPattern(written));
      this.#entries.set(rule.name, entry);
      this.#dataFields = undefined;
    }
  }

  delete(name: string): void {
    if (this.#entries.delete(name)) {
      this.#index.remove(name);
      this.#dataFields = undefined;
    }
    this.#filterOnly.delete(name);
  }

  get size(): number {
    return this.#entries.size + this.#filterOnly.size;
  }

  /** The enabled rules the event matches, in name order (so traces and deliveries are deterministic). */
  match(event: CloudEvent): Rule[] {
    return this.#match(event, rawDataText(event), 0, () => event);
  }

  /**
   * `match` for an event as its log stored it (`LogRecord.stored`): the same rules `match(event)` answers for the event
   * it is (the index walks the same view, made from the stored attributes and data text), without the event — `event`
   * is called only when a rule with a filter matched the pattern, or a rule has only a filter (CESQL reads events).
   */
  matchStored(stored: StoredEvent, event: () => CloudEvent): Rule[] {
    return this.#match(stored.attributes, stored.text, stored.dataAt, event);
  }

  #match(
    attributes: Readonly<Record<string, unknown>>,
    text: string | undefined,
    dataAt: number,
    event: () => CloudEvent,
  ): Rule[] {
    const matched: Entry[] = [];
    for (const name of this.#index.match(this.#patternView(attributes, text, dataAt))) {
      const entry = this.#entries.get(name);
      if (entry && (entry.filter === undefined || entry.filter.matches(event()))) matched.push(entry);
    }
    if (this.#filterOnly.size > 0) {
      const whole = event();
      for (const entry of this.#filterOnly.values()) {
        if (entry.filter?.matches(whole)) matched.push(entry);
      }
    }
    const n = matched.length;
    const rules = new Array<Rule>(n);
    if (n === 1) rules[0] = (matched[0] as Entry).rule;
    if (n < 2) return rules;
    // In name order, by the rules' ranks: comparing the names themselves was 6% of matching where most events match
    // several rules (event-ruler's ANYTHING_BUT families).
    if (!this.#ranked) this.#rankEntries();
    if (n <= FEW_MATCHES) {
      for (let i = 1; i < n; i++) {
        const entry = matched[i] as Entry;
        let j = i - 1;
        for (; j >= 0 && (matched[j] as Entry).rank > entry.rank; j--) matched[j + 1] = matched[j] as Entry;
        matched[j + 1] = entry;
      }
    } else matched.sort((a, b) => a.rank - b.rank);
    for (let i = 0; i < n; i++) rules[i] = (matched[i] as Entry).rule;
    return rules;
  }

  /** Gives every entry its place in the sorted order of all the rules' names. */
  #rankEntries(): void {
    const all = [...this.#entries.values(), ...this.#filterOnly.values()];
    all.sort((a, b) => (a.rule.name < b.rule.name ? -1 : a.rule.name > b.rule.name ? 1 : 0));
    for (let i = 0; i < all.length; i++) (all[i] as Entry).rank = i;
    this.#ranked = true;
  }

  /**
   * What the pattern index walks: the event's attributes themselves (the event, or a stored event's attributes), or
   * a copy of those patterns read — when its `data` is JSON text (in `text` from `dataAt`) and patterns read `data`,
   * with `data` read from the text selectively (only the members the patterns name; numbers with their lexeme); when
   * the EventBridge mapping derives a field patterns read (`eventBridgeOverrides`), with that field. An event's own
   * lazy `data` is left unparsed for whatever reads it later.
   */
  #patternView(
    event: Readonly<Record<string, unknown>>,
    data: string | undefined,
    dataAt: number,
  ): CloudEvent {
    if (this.#dataFields === undefined) {
      const paths = this.#index.paths.children;
      const fields = paths.get('data');
      this.#dataFields = fields === undefined ? null : fieldTrieOf(fields);
      this.#reads = eventBridgeReads((name) => paths.has(name));
      this.#attributes = [...paths.keys()].filter((name) => name !== 'data');
    }
    const overrides =
      this.#reads === 0 && event[SOURCE_EXTENSION] === undefined
        ? undefined
        : eventBridgeOverrides(event, this.#reads);
    const text = this.#dataFields === null ? undefined : data;
    if (text === undefined && overrides === undefined) return event as CloudEvent;
    // Only what the index walks: it reads an event along the paths of its trie, and nothing else (the top-level names
    // of an event have no dots). Data no pattern reads is left out (a copy would parse it).
    const view: Record<string, unknown> = {};
    for (const key of this.#attributes) if (Object.hasOwn(event, key)) view[key] = event[key];
    if (text === undefined && this.#dataFields !== null && Object.hasOwn(event, 'data'))
      view.data = event.data;
    if (text !== undefined) view.data = selectJson(text, this.#dataFields as FieldTrie, dataAt);
    if (overrides !== undefined) Object.assign(view, overrides);
    return view as CloudEvent;
  }

  get(name: string): Rule | undefined {
    return this.#entries.get(name)?.rule ?? this.#filterOnly.get(name)?.rule;
  }
}
