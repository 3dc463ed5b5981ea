/**
 * The records a log appended most recently, kept for the subscriptions that read them moments later (the validated
 * event, not its stored text scanned again). Per partition a run of consecutive offsets, oldest first; the runs
 * together hold at most `maxRecords` records and `maxChars` characters of stored text, and the oldest added goes
 * first.
 *
 * A queue per partition instead of one `Map` keyed by position: adding and dropping a record is an array push and
 * an index step, no hashing (the `Map` was ≈ 3% of the bus's main thread on durable batches, docs/benchmarks.md).
 */

/** A record as a read answers it, and the size of its stored text. */
export interface RecentRecord<E> {
  readonly event: E;
  readonly key: string;
  readonly timestamp: number;
  readonly chars: number;
}

/**
 * One partition's consecutive records: `items[head]` is at offset `first`. `stale`: how many of the partition's
 * oldest names in `#order` name records a restart of the run dropped.
 */
interface Run<E> {
  first: number;
  head: number;
  items: (RecentRecord<E> | undefined)[];
  stale: number;
}

/** Dropped slots at the front of an array past which it is copied down (and at least half of it dropped). */
const COMPACT_AFTER = 1024;

export class RecentRecords<E> {
  readonly maxRecords: number;
  readonly maxChars: number;
  readonly #runs: (Run<E> | undefined)[] = [];
  /** The partition of every record added, oldest first from `#orderHead` (which partition to drop from next). */
  #order: number[] = [];
  #orderHead = 0;
  #size = 0;
  #chars = 0;

  constructor(maxRecords: number, maxChars: number) {
    this.maxRecords = maxRecords;
    this.maxChars = maxChars;
  }

  /** Records held. */
  get size(): number {
    return this.#size;
  }

  /** Characters of stored text held. */
  get chars(): number {
    return this.#chars;
  }

  /** @internal Names `#order` holds (tests: it stays bounded by the records held). */
  get names(): number {
    return this.#order.length - this.#orderHead;
  }

  /** The record at a position, if held. */
  get(partition: number, offset: number): RecentRecord<E> | undefined {
    const run = this.#runs[partition];
    if (run === undefined) return undefined;
    const at = offset - run.first;
    if (at < 0 || at >= run.items.length - run.head) return undefined;
    return run.items[run.head + at];
  }

  /** Whether the record at a position is held. */
  has(partition: number, offset: number): boolean {
    return this.get(partition, offset) !== undefined;
  }

  /**
   * Adds the record at a position. A position that does not follow the partition's run (another process appended
   * between, or the run was dropped) starts the partition's run again from it. Then the oldest records go until the
   * bounds hold.
   */
  add(partition: number, offset: number, record: RecentRecord<E>): void {
    let run = this.#runs[partition];
    if (run === undefined) {
      run = { first: offset, head: 0, items: [], stale: 0 };
      this.#runs[partition] = run;
    } else if (offset !== run.first + run.items.length - run.head) {
      this.#dropRun(run);
      run.first = offset;
    }
    run.items.push(record);
    this.#order.push(partition);
    this.#size++;
    this.#chars += record.chars;
    while (this.#size > this.maxRecords || this.#chars > this.maxChars) this.#dropOldest();
    const names = this.#order.length - this.#orderHead;
    if (names > 2 * this.#size + COMPACT_AFTER) this.#renameAll();
    else if (this.#orderHead > COMPACT_AFTER && this.#orderHead * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#orderHead);
      this.#orderHead = 0;
    }
  }

  /** Drops every record. */
  clear(): void {
    this.#runs.length = 0;
    this.#order = [];
    this.#orderHead = 0;
    this.#size = 0;
    this.#chars = 0;
  }

  /**
   * Drops the oldest record held. `#order` names partitions in the order records were added; a name of a record a
   * restarted run dropped (the partition's oldest names, `stale`) is passed over.
   */
  #dropOldest(): void {
    while (this.#orderHead < this.#order.length) {
      const run = this.#runs[this.#order[this.#orderHead++]!];
      if (run === undefined) continue;
      if (run.stale > 0) {
        run.stale--;
        continue;
      }
      if (run.head === run.items.length) continue;
      const record = run.items[run.head]!;
      run.items[run.head++] = undefined;
      run.first++;
      this.#size--;
      this.#chars -= record.chars;
      if (run.head > COMPACT_AFTER && run.head * 2 > run.items.length) {
        run.items = run.items.slice(run.head);
        run.head = 0;
      }
      return;
    }
    // `#order` always names at least as many records as are held; not reached.
    this.clear();
  }

  #dropRun(run: Run<E>): void {
    for (let i = run.head; i < run.items.length; i++) {
      this.#size--;
      this.#chars -= run.items[i]!.chars;
    }
    run.stale += run.items.length - run.head;
    run.items = [];
    run.head = 0;
  }

  /**
   * Names the records held again, partition by partition, when mostly stale names fill `#order` (runs restarted
   * over and over by another process's appends, and too few records added to drop the names): bounds `#order` by
   * the records held, at the cost of the order between partitions.
   */
  #renameAll(): void {
    this.#order = [];
    this.#orderHead = 0;
    for (const [partition, run] of this.#runs.entries()) {
      if (run === undefined) continue;
      run.stale = 0;
      for (let i = run.head; i < run.items.length; i++) this.#order.push(partition);
    }
  }
}
