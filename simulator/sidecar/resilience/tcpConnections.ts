/**
 * Open TCP connections per cluster (host, subset, port) on the L4 path, for
 * `connectionPool.tcp.maxConnections` (l4/connectionLimit.ts), with Envoy's
 * overflow counter for `/clusters`.
 */
export class TcpConnections {

  private readonly active = new Map<string, number>();
  readonly overflows = new Map<string, number>();

  /** Counts one more connection unless `max` are open; false = overflow. */
  open(cluster: string, max: number): boolean {
    const n = this.active.get(cluster) ?? 0;
    if (n >= max) {
      this.overflows.set(cluster, (this.overflows.get(cluster) ?? 0) + 1);
      return false;
    }
    this.active.set(cluster, n + 1);
    return true;
  }

  close(cluster: string): void {
    const n = (this.active.get(cluster) ?? 1) - 1;
    if (n <= 0) this.active.delete(cluster);
    else this.active.set(cluster, n);
  }

  clusters(): string[] {
    return [...new Set([...this.active.keys(), ...this.overflows.keys()])];
  }

  toJSON(cluster: string) {
    return { connectionsActive: this.active.get(cluster) ?? 0, upstream_cx_overflow: this.overflows.get(cluster) ?? 0 };
  }
}
