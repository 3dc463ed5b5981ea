/**
 * CorrelationStore on DynamoDB: pending A's of correlation rules and each partition's fence in the state table (see
 * fenced-state.ts for how a commit of any size is all or nothing and fenced). Items of partition P under pk
 * `correlate#P`: `r#<rule>#` (the rule's own row) and `p#<rule>#<offset>` (a pending A).
 */
import type { CorrelationCommit, CorrelationPartition, CorrelationStore } from '../../ports.ts';
import { requireNum, requireStr } from './codec.ts';
import { FencedState, type FencedStoreOptions, ruleRow, type StateOp, stateSk } from './fenced-state.ts';

export type DynamoCorrelationStoreOptions = FencedStoreOptions;

export class DynamoCorrelationStore implements CorrelationStore {
  readonly #state: FencedState;
  readonly #table: string;

  constructor(options: DynamoCorrelationStoreOptions) {
    this.#table = options.table;
    this.#state = new FencedState({ ...options, kind: 'correlate', what: 'correlation' });
  }

  async load(partition: number): Promise<CorrelationPartition> {
    const { fence, items } = await this.#state.load(partition);
    const t = this.#table;
    const rules: CorrelationPartition['rules'][number][] = [];
    const pending: CorrelationPartition['pending'][number][] = [];
    for (const item of items) {
      const kind = requireStr(item, 't', t);
      if (kind === 'r') {
        rules.push(ruleRow(item, t));
      } else if (kind === 'p') {
        pending.push({
          rule: requireStr(item, 'rule', t),
          offset: requireNum(item, 'offset', t),
          key: requireStr(item, 'key', t),
          deadline: requireNum(item, 'deadline', t),
          state: requireStr(item, 'state', t),
        });
      }
    }
    pending.sort((a, b) => (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : a.offset - b.offset));
    return { fence, rules, pending };
  }

  async commit(change: CorrelationCommit): Promise<void> {
    const { partition } = change;
    const ops: StateOp[] = [];
    for (const rule of change.dropRules) {
      for (const sk of await this.#state.keysUnder(partition, `p#${rule}#`)) ops.push({ sk });
      ops.push({ sk: stateSk('r', rule, '') });
    }
    for (const r of change.rules) {
      ops.push({
        sk: stateSk('r', r.rule, ''),
        row: { t: 'r', rule: r.rule, version: r.version, state: r.state },
      });
    }
    for (const p of change.remove) ops.push({ sk: stateSk('p', p.rule, String(p.offset)) });
    for (const p of change.put) {
      ops.push({
        sk: stateSk('p', p.rule, String(p.offset)),
        row: { t: 'p', rule: p.rule, offset: p.offset, key: p.key, deadline: p.deadline, state: p.state },
      });
    }
    await this.#state.commit(partition, change.expectedFence, change.fence, ops);
  }
}
