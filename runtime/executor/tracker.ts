/**
 * Acknowledgement tracking. Each source batch gets a Tracker counting the work still owed on it: one
 * unit per batch derived from it that sits in a queue or in a node. When the count reaches zero every
 * sink downstream has acknowledged it, and the source's position may be committed, in read order.
 */
export class Tracker {
  private pending = 1; // held by the source until it has pushed the batch everywhere

  constructor(
    readonly ledger: PositionLedger,
    readonly seq: number,
    readonly position: unknown,
  ) {}

  hold(n = 1): void {
    this.pending += n;
  }

  release(): void {
    this.pending -= 1;
    if (this.pending === 0) this.ledger.completed(this.seq);
    else if (this.pending < 0) throw new Error('tracker released more often than held');
  }
}

/** Per source: positions of batches in read order, and the last one whose batches all completed. */
export class PositionLedger {
  private nextSeq = 0;
  private nextToCommit = 0;
  private readonly done = new Set<number>();
  private readonly positions = new Map<number, unknown>();
  /** the highest position with every batch up to it acknowledged */
  committable: unknown;
  /** batches read but not yet acknowledged */
  inFlight = 0;

  constructor(
    readonly sourceId: string,
    initial: unknown,
    private readonly onAdvance: () => void,
  ) {
    this.committable = initial;
  }

  track(position: unknown): Tracker {
    const seq = this.nextSeq++;
    this.positions.set(seq, position);
    this.inFlight++;
    return new Tracker(this, seq, position);
  }

  completed(seq: number): void {
    this.done.add(seq);
    this.inFlight--;
    let advanced = false;
    while (this.done.has(this.nextToCommit)) {
      this.done.delete(this.nextToCommit);
      this.committable = this.positions.get(this.nextToCommit);
      this.positions.delete(this.nextToCommit);
      this.nextToCommit++;
      advanced = true;
    }
    if (advanced) this.onAdvance();
  }
}
