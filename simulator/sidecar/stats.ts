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

  /** Counter names per listener, built once: a finished request bumps them without making a string. */
  private readonly names = new Map<string, { total: string; byClass: string[]; reset: string; flags: Map<string, string> }>();

  /** Counts one finished request by listener, status class and response flags. */
  request(listener: string, status: number, flags: readonly string[]): void {
    let n = this.names.get(listener);
    if (!n) {
      n = { total: `${listener}.downstream_rq_total`, byClass: [], reset: `${listener}.downstream_rq_reset`, flags: new Map() };
      this.names.set(listener, n);
    }
    this.inc(n.total);
    if (status === 0) this.inc(n.reset);
    else {
      const c = Math.floor(status / 100);
      this.inc(n.byClass[c] ??= `${listener}.downstream_rq_${c}xx`);
    }
    for (const f of flags) {
      let name = n.flags.get(f);
      if (name === undefined) n.flags.set(f, (name = `${listener}.response_flag.${f}`));
      this.inc(name);
    }
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counters].sort(([a], [b]) => a.localeCompare(b)));
  }
}
