/**
 * The relays a sidecar runs for the TCP toxics that apply to its calls, one
 * per (fault, workload). Created on first use, closed when the fault expires
 * or leaves the snapshot (`sync`). Connections through a closed relay fail,
 * and the HTTP/2 pool opens a direct session again.
 */
import type { RuntimeFault } from '../../protocol';
import { active } from './runtimeFaults';
import { ToxicRelay } from './toxicRelay';
import { toxicOf } from './toxics';

export class ToxicRegistry {
  private readonly relays = new Map<string, { relay: ToxicRelay; fault: RuntimeFault }>();

  constructor(private readonly random: () => number, private readonly now: () => number = Date.now) {}

  /** The relay port for this toxic toward `targetPort` (opening the relay if needed). */
  portFor(fault: RuntimeFault, workload: string, targetPort: number): Promise<number> | number {
    const key = `${fault.id}|${workload}`;
    const have = this.relays.get(key);
    if (have) return have.relay.port || have.relay.listening;
    const relay = new ToxicRelay(toxicOf(fault.tcp!), targetPort, this.random);
    this.relays.set(key, { relay, fault });
    return relay.listening;
  }

  /** Closes relays whose fault expired or is gone from `faults`. */
  sync(faults: readonly RuntimeFault[]): void {
    const now = this.now();
    const live = new Map(faults.filter((f) => f.tcp && active(f, now)).map((f) => [f.id, f]));
    for (const [key, { relay, fault }] of this.relays) {
      const current = live.get(fault.id);
      if (!current || JSON.stringify(current.tcp) !== JSON.stringify(fault.tcp)) {
        relay.close();
        this.relays.delete(key);
      }
    }
  }

  get size(): number {
    return this.relays.size;
  }

  toJSON() {
    return [...this.relays].map(([key, { relay }]) => ({ key, toxic: relay.toxic, port: relay.port, connections: relay.connections }));
  }

  close(): void {
    for (const { relay } of this.relays.values()) relay.close();
    this.relays.clear();
  }
}
