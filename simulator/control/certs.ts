/**
 * One workload certificate per sidecar from the mesh CA (`ca.ts`), kept in
 * memory only and replaced before it expires: at the CA's renewal time a new
 * certificate is minted and handed to `onRotate`, which pushes a `certs`
 * message, so sidecars swap identities without restarting or dropping
 * connections.
 */
import { createCa, renewalTime, type MeshCa } from './ca';
import type { Certificates } from '../protocol';

export class WorkloadCertificates {
  private readonly ca: MeshCa;
  private readonly current = new Map<string, Certificates>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    trustDomain: string,
    private readonly onRotate: (owner: string, certs: Certificates) => void,
    private readonly lifetimeMs?: number,
    private readonly now: () => number = Date.now,
  ) {
    this.ca = createCa({ trustDomain, workloadLifetimeMs: lifetimeMs });
  }

  get caPem(): string { return this.ca.trustBundlePem; }

  /** The CA itself, for certificates that are not workload identities (HTTPS Gateway listeners). */
  get authority(): MeshCa { return this.ca; }

  /** Issues (or returns) the certificate of `owner` (a workload or the ingress) for `spiffeId`. */
  get(owner: string, spiffeId: string): Certificates {
    const have = this.current.get(owner);
    if (have) return have;
    return this.issue(owner, spiffeId);
  }

  private issue(owner: string, spiffeId: string): Certificates {
    const certs = this.ca.issue(spiffeId);
    this.current.set(owner, certs);
    clearTimeout(this.timers.get(owner));
    const delay = Math.max(1_000, renewalTime(certs, this.lifetimeMs) - this.now());
    // unref: a pending renewal must never keep a stopping devmesh alive.
    this.timers.set(owner, setTimeout(() => this.onRotate(owner, this.issue(owner, spiffeId)), delay).unref());
    return certs;
  }

  /** Drops `owner`'s certificate and its renewal (a workload removed, or given a new identity). */
  forget(owner: string): void {
    clearTimeout(this.timers.get(owner));
    this.timers.delete(owner);
    this.current.delete(owner);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
