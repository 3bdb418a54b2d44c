/**
 * L4 inbound: which workload called, from the peer metadata its sidecar sent
 * with the CONNECT, believed only when it belongs to the identity in the
 * peer certificate (Istio's TCP metadata exchange does the same job).
 */
import { learnSource, PEER_HEADER } from '../filters/peerMetadata';
import type { L4Filter } from './context';

export const l4LearnPeer = (): L4Filter => (next) => (ctx) => {
  const claimed = ctx.tunnelHeaders?.[PEER_HEADER];
  if (claimed !== undefined) learnSource(ctx.tables, ctx.source, claimed);
  next(ctx);
};
