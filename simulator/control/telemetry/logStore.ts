/**
 * The last N access-log entries of every sidecar, for `GET /api/logs` and
 * `devmesh logs`. Each entry gets a sequence number so a follower asks for
 * "everything after the last one I saw".
 */
import type { AccessLogEntry, StoredLogEntry } from '../api/contract';


export class LogStore {
  /** A ring: once full, `next` is the oldest entry and where the following one goes. */
  private readonly ring: StoredLogEntry[] = [];
  private next = 0;
  private seq = 0;
  dropped = 0;

  constructor(readonly capacity = 2000) {}

  /** Keeps `entries` themselves (each gets its `seq`): the hub hands over entries it made for this store (expandBatch). */
  add(entries: readonly AccessLogEntry[], droppedBySidecar = 0): void {
    this.dropped += droppedBySidecar;
    for (const e of entries) {
      const stored = e as StoredLogEntry;
      stored.seq = ++this.seq;
      if (this.ring.length < this.capacity) this.ring.push(stored);
      else {
        this.ring[this.next] = stored;
        this.next = (this.next + 1) % this.capacity;
      }
    }
  }

  get lastSeq(): number { return this.seq; }

  /** The newest `limit` entries (oldest first), optionally of one workload and after a sequence number. */
  query(q: { workload?: string; limit?: number; after?: number } = {}): StoredLogEntry[] {
    const limit = q.limit ?? 100;
    const out: StoredLogEntry[] = [];
    const n = this.ring.length;
    for (let k = 1; k <= n && out.length < limit; k++) {
      const e = this.ring[(this.next - k + n) % n];
      if (q.after !== undefined && e.seq <= q.after) break;
      if (q.workload && e.workload !== q.workload) continue;
      out.push(e);
    }
    return out.reverse();
  }
}
