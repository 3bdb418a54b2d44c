/**
 * A TCP connection's recorded decisions read as one hop the L4 walk can
 * explain. A connection has no span: each end's access-log entry carries its
 * id (trace_id, 16 hex digits, made by the caller's sidecar and sent with the
 * tunnel) and its decision records (l4/decisions.ts). Pure: the entries come
 * from the control API (`GET /api/logs`).
 */
import type { AccessLogEntry } from '../control/api/contract';
import type { HopSeen } from './compare';
import type { ExplainConnection } from './walkL4';

/** A connection id as sidecars make it (l4/connection.ts nextConnectionId); a trace id has 32 digits. */
export const CONNECTION_ID = /^[0-9a-f]{16}$/;

export interface ConnectionHop {
  entry: AccessLogEntry;
  connection: ExplainConnection;
  /** The config version the caller's sidecar decided under. */
  config?: number;
  seen: HopSeen;
}

/**
 * The hop of connection `id` from the entries it was logged under: the
 * caller's (outbound) entry, with the callee's inbound entry beside it; or
 * why there is none to walk.
 */
export function connectionHop(entries: readonly AccessLogEntry[], id: string): ConnectionHop | { problem: string } {
  const mine = entries.filter((e) => e.trace_id === id && e.protocol === '-');
  const out = mine.find((e) => e.listener === 'outbound');
  if (!out) {
    return { problem: mine.length ? `connection ${id} was logged only by ${mine.map((e) => `${e.workload} (${e.listener})`).join(', ')}: the walk starts at a workload's outbound listener` : `no connection ${id} in the mesh's access logs (they keep the newest entries; devmesh logs shows ids as "conn <id>")` };
  }
  const request = out.decisions.find((d) => d.step === 'request');
  if (!request || request.step !== 'request' || !request.target) return { problem: `connection ${id} at ${out.workload} was refused before it named a mesh service (${out.proxy_error}): nothing to walk` };
  const inbound = new Map<string, HopSeen['outbound'][]>();
  for (const e of mine) if (e.listener === 'inbound') inbound.set(e.workload, [...(inbound.get(e.workload) ?? []), e.decisions]);
  const sni = out.requested_server_name !== '-' ? out.requested_server_name : undefined;
  return {
    entry: out,
    connection: { from: out.workload, protocol: sni !== undefined ? 'tls' : 'tcp', target: request.target, ...(sni !== undefined ? { sni } : {}) },
    config: request.config,
    seen: { status: 0, flags: out.response_flags, outbound: out.decisions, inbound },
  };
}
