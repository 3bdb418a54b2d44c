/**
 * A recorded trace read as hops the walk can explain: each span a caller's
 * sidecar wrote (outbound, or the ingress) with the request it carried and
 * its decision records, and the records of the callee spans under it (one
 * per attempt that reached a workload). Pure: the spans come from the
 * control API (`GET /api/traces/:id`).
 */
import type { SpanRecord } from '../control/api/contract';
import type { HopSeen } from './compare';
import type { ExplainRequest } from './result';

export interface TraceHop {
  span: SpanRecord;
  /** The request as the walk takes it: the headers its sidecar recorded (those its policies read), then `-H`'s. */
  request: ExplainRequest;
  /** The config version the caller's sidecar decided under (its request record); absent from older sidecars. */
  config?: number;
  seen: HopSeen;
}

/** The hops of a trace, in the order they started; spans recorded without decisions (an older sidecar) are skipped. */
export function hopsOf(spans: readonly SpanRecord[], headers: Record<string, string> = {}): TraceHop[] {
  const hops: TraceHop[] = [];
  const callers = spans.filter((s) => s.role !== 'inbound' && s.decisions).sort((a, b) => a.start - b.start);
  for (const span of callers) {
    const under = spans.filter((s) => s.role === 'inbound' && s.parentSpanId === span.spanId).sort((a, b) => a.start - b.start);
    const inbound = new Map<string, HopSeen['outbound'][]>();
    for (const s of under) {
      const list = inbound.get(s.workload) ?? [];
      list.push(s.decisions ?? []);
      inbound.set(s.workload, list);
    }
    const a = span.attributes;
    const recorded = span.decisions?.find((d) => d.step === 'request');
    hops.push({
      span,
      request: {
        from: span.role === 'ingress' ? 'ingress' : span.workload,
        method: String(a['http.method']),
        url: String(a['http.url']),
        headers: { ...recorded?.headers, ...headers },
        appStatus: appStatusOf(under),
        ...appGrpcStatusOf(under),
        // The hosts the caller's outlier detection held out when it picked: the walk ejects them as its detector did.
        ...(recorded?.ejected?.length ? { ejected: recorded.ejected } : {}),
      },
      ...(recorded ? { config: recorded.config } : {}),
      seen: { status: Number(a['http.status_code']), ...(a['rpc.grpc.status_code'] !== undefined ? { grpcStatus: Number(a['rpc.grpc.status_code']) } : {}), flags: String(a['response_flags'] ?? '-'), outbound: span.decisions ?? [], inbound },
    });
  }
  return hops;
}

/** What the app answered at the callee, as the walk assumes it: the status of an inbound span the proxy did not answer itself. */
function appStatusOf(inbound: readonly SpanRecord[]): number | undefined {
  const app = appSpan(inbound);
  return app ? Number(app.attributes['http.status_code']) : undefined;
}

/** For a gRPC call, the grpc-status the app answered with (the same span). */
function appGrpcStatusOf(inbound: readonly SpanRecord[]): { appGrpcStatus?: number } {
  const code = appSpan(inbound)?.attributes['rpc.grpc.status_code'];
  return code === undefined ? {} : { appGrpcStatus: Number(code) };
}

const appSpan = (inbound: readonly SpanRecord[]) => inbound.find((s) => (s.attributes['response_flags'] ?? '-') === '-' && Number(s.attributes['http.status_code']) > 0);
