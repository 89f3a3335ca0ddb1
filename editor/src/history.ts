/**
 * Undo/redo of the graph: snapshots of nodes and edges taken before each change the user makes (a drag
 * counts once, at its start; bursts of typing in one field coalesce into one step). Selection and
 * measured sizes are not history.
 */
export interface Snapshot<N, E> {
  nodes: N[];
  edges: E[];
}

export class History<N, E> {
  private past: Snapshot<N, E>[] = [];
  private future: Snapshot<N, E>[] = [];
  private lastTag?: string;
  private lastAt = 0;

  constructor(
    private readonly limit = 100,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /**
   * Records the state before a change. Changes with the same `tag` within `coalesceMs` of the previous
   * one (typing in a field) share one undo step.
   */
  record(before: Snapshot<N, E>, tag?: string, coalesceMs = 1000): void {
    const t = this.now();
    if (tag && tag === this.lastTag && t - this.lastAt < coalesceMs) {
      this.lastAt = t;
      return;
    }
    this.lastTag = tag;
    this.lastAt = t;
    this.past.push(before);
    if (this.past.length > this.limit) this.past.shift();
    this.future = [];
  }

  undo(current: Snapshot<N, E>): Snapshot<N, E> | undefined {
    const prev = this.past.pop();
    if (!prev) return undefined;
    this.future.push(current);
    this.lastTag = undefined;
    return prev;
  }

  redo(current: Snapshot<N, E>): Snapshot<N, E> | undefined {
    const next = this.future.pop();
    if (!next) return undefined;
    this.past.push(current);
    this.lastTag = undefined;
    return next;
  }

  clear(): void {
    this.past = [];
    this.future = [];
    this.lastTag = undefined;
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }
}
