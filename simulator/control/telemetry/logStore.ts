/**
 * The last N access-log entries of every sidecar, for `GET /api/logs` and
 * `devmesh logs`. Each entry gets a sequence number so a follower asks for
 * "everything after the last one I saw".
 */
import type { AccessLogEntry, StoredLogEntry } from '../api/contract';


export class LogStore {
  private readonly ring: StoredLogEntry[] = [];
  private seq = 0;
  dropped = 0;

  constructor(readonly capacity = 2000) {}

  add(entries: readonly AccessLogEntry[], droppedBySidecar = 0): void {
    this.dropped += droppedBySidecar;
    for (const e of entries) {
      this.ring.push({ ...e, seq: ++this.seq });
      if (this.ring.length > this.capacity) this.ring.shift();
    }
  }

  get lastSeq(): number { return this.seq; }

  /** The newest `limit` entries (oldest first), optionally of one workload and after a sequence number. */
  query(q: { workload?: string; limit?: number; after?: number } = {}): StoredLogEntry[] {
    const limit = q.limit ?? 100;
    const out: StoredLogEntry[] = [];
    for (let i = this.ring.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.ring[i];
      if (q.after !== undefined && e.seq <= q.after) break;
      if (q.workload && e.workload !== q.workload) continue;
      out.push(e);
    }
    return out.reverse();
  }
}
