/** Percentiles of a set of latencies, in milliseconds. */
export interface Percentiles {
  p50: number;
  p99: number;
}

/** The nearest-rank percentile `p` (0..100) of ascending values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error("no values");
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

function percentiles(values: number[]): Percentiles {
  const sorted = values.sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/**
 * When each job was created (acknowledged to the buyer), picked up (held by an executor) and
 * completed (acknowledged to the executor), in `performance.now()` milliseconds. Events may
 * arrive in any order; a job completed twice is an error at once.
 */
export class Recorder {
  readonly created = new Map<string, number>();
  readonly picked = new Map<string, number>();
  readonly completed = new Map<string, number>();

  /** Records a creation acknowledged at `at`. */
  create(id: string, at: number): void {
    if (this.created.has(id)) throw new Error(`job ${id} was created twice`);
    this.created.set(id, at);
  }

  /** Records that an executor holds the job. */
  pick(id: string, at: number): void {
    if (this.picked.has(id)) throw new Error(`job ${id} was handed out twice`);
    this.picked.set(id, at);
  }

  /** Records a completion acknowledged at `at`. */
  complete(id: string, at: number): void {
    if (this.completed.has(id)) throw new Error(`job ${id} was completed twice`);
    this.completed.set(id, at);
  }

  /** Throws unless exactly `jobs` jobs were created and each of them completed once. */
  verify(jobs: number): void {
    if (this.created.size !== jobs) {
      throw new Error(`${this.created.size} jobs created, expected ${jobs}`);
    }
    if (this.completed.size !== jobs) {
      throw new Error(`${this.completed.size} of ${jobs} jobs completed`);
    }
    for (const id of this.completed.keys()) {
      if (!this.created.has(id)) throw new Error(`job ${id} completed but never created`);
    }
  }

  /** End-to-end (created → completed) and pickup (created → picked) latencies. */
  latencies(): { endToEnd: Percentiles; pickup: Percentiles; pickedBeforeAck: number } {
    const endToEnd: number[] = [];
    const pickup: number[] = [];
    let pickedBeforeAck = 0;
    for (const [id, createdAt] of this.created) {
      const done = this.completed.get(id);
      const picked = this.picked.get(id);
      if (done === undefined || picked === undefined) throw new Error(`job ${id} not finished`);
      endToEnd.push(done - createdAt);
      // The executor may hold a job before the buyer's acknowledgement arrives: counted as 0.
      if (picked < createdAt) pickedBeforeAck += 1;
      pickup.push(Math.max(0, picked - createdAt));
    }
    return { endToEnd: percentiles(endToEnd), pickup: percentiles(pickup), pickedBeforeAck };
  }
}
