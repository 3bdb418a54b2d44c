/**
 * Peer metadata exchange, as Istio's `x-envoy-peer-metadata` does: the
 * caller's sidecar names its workload in a header; the callee's sidecar
 * believes it only when the name belongs to the identity in the peer
 * certificate, then strips it so the app never sees it. This is how the
 * destination side learns `source_workload`/`source_version` when several
 * workloads share a service account (reviews v1/v2/v3).
 */
import type { Filter, Source } from '../context';
import type { MeshTables } from '../tables';

export const PEER_HEADER = 'x-devmesh-peer-workload';

/** Outbound: say who we are. */
export const announcePeer = (): Filter => (next) => (ctx) => {
  ctx.headers[PEER_HEADER] = ctx.tables.identity.name;
  next(ctx);
};

/** Inbound: learn who called, if the certificate agrees. */
export const learnPeer = (): Filter => (next) => (ctx) => {
  const claimed = ctx.headers[PEER_HEADER];
  if (claimed !== undefined) {
    delete ctx.headers[PEER_HEADER];
    learnSource(ctx.tables, ctx.source, claimed);
  }
  next(ctx);
};

/** Fills in the calling workload when its claimed name belongs to the identity in its certificate (HTTP and TCP alike). */
export function learnSource(t: MeshTables, src: Source, claimed: unknown): void {
  if (typeof claimed !== 'string' || !src.spiffeId) return;
  const w = t.workloadByName.get(claimed);
  if (w && w.spiffeId === src.spiffeId) {
    src.workload = w.name;
    src.labels = w.labels;
    src.namespace = w.namespace;
  } else if (claimed === t.snapshot.ingress.name && t.snapshot.ingress.spiffeId === src.spiffeId) {
    src.workload = claimed;
    src.labels = t.snapshot.ingress.labels;
    src.namespace = 'istio-system';
  }
}
