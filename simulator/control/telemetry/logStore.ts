/**
 * The last N access-log entries of every sidecar, for `GET /api/logs` and
 * `devmesh logs`. Each entry gets a sequence number so a follower asks for
 * "everything after the last one I saw".
 */
import type { AccessLogEntry, StoredLogEntry } from '../api/contract';
import { ACCESS_LOG_FIELDS, expandLog, type LogRow } from '../../telemetry-protocol';

const WORKLOAD = ACCESS_LOG_FIELDS.indexOf('workload');

export class LogStore {
  /**
   * A ring: once full, `next` is the oldest entry and where the following
   * one goes. A batch's rows are kept as they came and become entries when
   * read (issue 19: an entry object and its ISO start time per request per
   * sidecar were most of what the store promoted, and most are never read).
   */
  private readonly ring: Array<StoredLogEntry | LogRow> = [];
  private readonly seqs: number[] = [];
  private next = 0;
  private seq = 0;
  dropped = 0;

  constructor(readonly capacity = 2000) {}

  /** Keeps `entries` themselves (each gets its `seq`). */
  add(entries: readonly AccessLogEntry[], droppedBySidecar = 0): void {
    this.dropped += droppedBySidecar;
    for (const e of entries) this.keep(e as StoredLogEntry);
  }

  /** Keeps a batch's log rows (their decision records resolved: `resolveRecords`) as they are, each with its `seq`. */
  addRows(rows: readonly LogRow[]): void {
    for (const row of rows) this.keep(row);
  }

  private keep(e: StoredLogEntry | LogRow): void {
    const seq = ++this.seq;
    if (!Array.isArray(e)) e.seq = seq;
    if (this.ring.length < this.capacity) {
      this.ring.push(e);
      this.seqs.push(seq);
    } else {
      this.ring[this.next] = e;
      this.seqs[this.next] = seq;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  get lastSeq(): number { return this.seq; }

  /** The newest `limit` entries (oldest first), optionally of one workload and after a sequence number. */
  query(q: { workload?: string; limit?: number; after?: number } = {}): StoredLogEntry[] {
    const limit = q.limit ?? 100;
    const out: StoredLogEntry[] = [];
    const n = this.ring.length;
    for (let k = 1; k <= n && out.length < limit; k++) {
      const at = (this.next - k + n) % n;
      const e = this.ring[at];
      const seq = this.seqs[at];
      if (q.after !== undefined && seq <= q.after) break;
      if (q.workload && (Array.isArray(e) ? e[WORKLOAD] : e.workload) !== q.workload) continue;
      out.push(Array.isArray(e) ? Object.assign(expandLog(e), { seq }) : e);
    }
    return out.reverse();
  }
}
