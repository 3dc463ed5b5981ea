/**
 * AggregateStore on DynamoDB: aggregation windows and each partition's fence in the state table (see
 * fenced-state.ts for how a commit of any size is all or nothing and fenced). Items of partition P under pk
 * `aggregate#P`: `r#<rule>#` (the rule's own row) and `w#<rule>#<start>#<key>` (a window).
 */
import type { AggregateCommit, AggregatePartition, AggregateStore } from '../../ports.ts';
import { requireNum, requireStr } from './codec.ts';
import { FencedState, type FencedStoreOptions, ruleRow, type StateOp, stateSk } from './fenced-state.ts';

export type DynamoAggregateStoreOptions = FencedStoreOptions;

export class DynamoAggregateStore implements AggregateStore {
  readonly #state: FencedState;
  readonly #table: string;

  constructor(options: DynamoAggregateStoreOptions) {
    this.#table = options.table;
    this.#state = new FencedState({ ...options, kind: 'aggregate', what: 'aggregation' });
  }

  async load(partition: number): Promise<AggregatePartition> {
    const { fence, items } = await this.#state.load(partition);
    const t = this.#table;
    const rules: AggregatePartition['rules'][number][] = [];
    const windows: AggregatePartition['windows'][number][] = [];
    for (const item of items) {
      const kind = requireStr(item, 't', t);
      if (kind === 'r') {
        rules.push(ruleRow(item, t));
      } else if (kind === 'w') {
        windows.push({
          rule: requireStr(item, 'rule', t),
          key: requireStr(item, 'key', t),
          start: requireNum(item, 'start', t),
          state: requireStr(item, 'state', t),
        });
      }
    }
    return { fence, rules, windows };
  }

  async commit(change: AggregateCommit): Promise<void> {
    const { partition } = change;
    const ops: StateOp[] = [];
    for (const rule of change.dropRules) {
      for (const sk of await this.#state.keysUnder(partition, `w#${rule}#`)) ops.push({ sk });
      ops.push({ sk: stateSk('r', rule, '') });
    }
    for (const r of change.rules) {
      ops.push({
        sk: stateSk('r', r.rule, ''),
        row: { t: 'r', rule: r.rule, version: r.version, state: r.state },
      });
    }
    for (const w of change.windows) {
      const sk = stateSk('w', w.rule, `${w.start}#${w.key}`);
      ops.push(
        w.state === null
          ? { sk }
          : { sk, row: { t: 'w', rule: w.rule, key: w.key, start: w.start, state: w.state } },
      );
    }
    await this.#state.commit(partition, change.expectedFence, change.fence, ops);
  }
}
