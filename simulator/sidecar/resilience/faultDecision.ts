/**
 * The fault decision for one request, pure: a VirtualService `fault` and the
 * runtime faults (`devmesh fault add`) that target this route, the random
 * source, nothing else. Delay and abort are drawn independently, delay first,
 * as Envoy's fault filter does (an aborted request may also be delayed).
 */
import type { HTTPFaultInjection } from '../../policy/model';
import { parseDuration } from '../../policy/duration';
import { GRPC_STATUS, grpcStatusCode } from '../../policy/grpc-status';
import type { RuntimeFault } from '../../protocol';
import { chosen, percentOf } from './percent';

export interface FaultAbort {
  /** HTTP status to answer with (200 for a gRPC abort, which carries grpc-status). */
  httpStatus: number;
  grpcStatus?: number;
}

export interface FaultDecision {
  delayMs?: number;
  abort?: FaultAbort;
  /** Which fault decided (for logs): `route` or a runtime fault id. */
  source?: string;
}

/** The route's own fault (Istio `HTTPFaultInjection`). */
export function decideRouteFault(fault: HTTPFaultInjection | undefined, random: () => number): FaultDecision {
  if (!fault) return {};
  const out: FaultDecision = {};
  const d = fault.delay;
  if (d?.fixedDelay !== undefined) {
    // `percent` (integer) is Istio's deprecated spelling; `percentage` wins when both are given.
    const pct = d.percentage !== undefined ? percentOf(d.percentage, 0) : percentOf(d.percent, 0);
    const ms = parseDuration(d.fixedDelay);
    if (ms !== undefined && ms > 0 && chosen(pct, random)) out.delayMs = ms;
  }
  const a = fault.abort;
  if (a && (a.httpStatus !== undefined || a.grpcStatus !== undefined)) {
    if (chosen(percentOf(a.percentage, 0), random)) {
      if (a.grpcStatus !== undefined) {
        // Validation refuses other names, as Istio does; a snapshot that has one anyway aborts with UNKNOWN.
        const code = grpcStatusCode(a.grpcStatus) ?? GRPC_STATUS.UNKNOWN;
        out.abort = { httpStatus: 200, grpcStatus: code };
      } else out.abort = { httpStatus: a.httpStatus! };
    }
  }
  if (out.delayMs !== undefined || out.abort) out.source = 'route';
  return out;
}

/** Runtime HTTP faults that apply, combined: the longest chosen delay, the first chosen abort. */
export function decideRuntimeFaults(faults: readonly RuntimeFault[], random: () => number): FaultDecision {
  const out: FaultDecision = {};
  for (const f of faults) {
    if (f.delay && f.delay.fixedDelayMs > 0 && chosen(f.delay.percentage, random)) {
      if ((out.delayMs ?? 0) < f.delay.fixedDelayMs) { out.delayMs = f.delay.fixedDelayMs; out.source = f.id; }
    }
    if (f.abort && !out.abort && chosen(f.abort.percentage, random)) {
      out.abort = { httpStatus: f.abort.httpStatus };
      out.source = f.id;
    }
  }
  return out;
}

/** Route fault then runtime faults; a delay from either, the abort of the first that aborts. */
export function mergeFaults(a: FaultDecision, b: FaultDecision): FaultDecision {
  const delayMs = Math.max(a.delayMs ?? 0, b.delayMs ?? 0) || undefined;
  const abort = a.abort ?? b.abort;
  const source = a.abort ? a.source : b.abort ? b.source : (a.delayMs ?? 0) >= (b.delayMs ?? 0) ? a.source : b.source;
  return delayMs !== undefined || abort ? { delayMs, abort, source } : {};
}
