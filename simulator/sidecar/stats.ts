/**
 * Counters a sidecar keeps, served as JSON on the admin port (`/stats`).
 * Names follow Envoy's stats where one exists (downstream_rq_2xx, ...).
 * Plain numbers in a map: cheap to bump on the hot path.
 */
export class Stats {
  private readonly counters = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  /** Counts one finished request by listener, status class and response flags. */
  request(listener: string, status: number, flags: readonly string[]): void {
    this.inc(`${listener}.downstream_rq_total`);
    this.inc(`${listener}.downstream_rq_${status === 0 ? 'reset' : `${Math.floor(status / 100)}xx`}`);
    for (const f of flags) this.inc(`${listener}.response_flag.${f}`);
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counters].sort(([a], [b]) => a.localeCompare(b)));
  }
}
