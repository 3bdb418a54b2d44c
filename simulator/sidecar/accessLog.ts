/**
 * One access-log line per request per sidecar, in (a trimmed) Envoy default
 * format so people who read Envoy logs know it:
 * [START] "METHOD PATH PROTOCOL" CODE FLAGS "PROXY_ERROR" DURATION "X-REQUEST-ID" "AUTHORITY" "UPSTREAM" ROUTE
 * or the same fields as JSON. A bounded ring keeps the last lines for `/access_log`.
 */
import type { Exchange } from './downstream';

export type AccessLogSink = (line: string) => void;

export interface AccessLogEntry {
  start_time: string;
  listener: string;
  method: string;
  path: string;
  protocol: string;
  response_code: number;
  response_flags: string;
  proxy_error: string;
  duration: number;
  x_request_id: string;
  authority: string;
  upstream_host: string;
  upstream_cluster: string;
  route_name: string;
  downstream_peer: string;
}

export function entryOf(listener: string, e: Exchange): AccessLogEntry {
  const { ctx } = e;
  const plan = ctx.plan;
  return {
    start_time: new Date(Date.now() - e.durationMs).toISOString(),
    listener,
    method: ctx.method,
    path: ctx.path,
    protocol: `HTTP/${ctx.downstream.httpVersion}`,
    response_code: e.status,
    response_flags: ctx.flags.length > 0 ? ctx.flags.join(',') : '-',
    proxy_error: e.proxyError ?? '-',
    duration: Math.round(e.durationMs),
    x_request_id: ctx.requestId,
    authority: ctx.authority,
    upstream_host: ctx.endpoint ? `${ctx.endpoint.name}:${ctx.endpoint.sidecar.inboundPort}` : '-',
    upstream_cluster: plan?.kind === 'forward' ? `outbound|${plan.port}|${plan.subset ?? ''}|${plan.host}` : '-',
    route_name: plan && plan.kind !== 'error' ? plan.routeName : '-',
    downstream_peer: ctx.source.spiffeId ?? '-',
  };
}

export function formatText(e: AccessLogEntry): string {
  return `[${e.start_time}] "${e.method} ${e.path} ${e.protocol}" ${e.response_code} ${e.response_flags} "${e.proxy_error}" ${e.duration} "${e.x_request_id}" "${e.authority}" "${e.upstream_host}" ${e.upstream_cluster} ${e.route_name} ${e.listener}`;
}

export class AccessLog {
  private readonly ring: AccessLogEntry[] = [];

  constructor(private readonly sink: AccessLogSink | undefined, private readonly format: 'text' | 'json' = 'text', private readonly keep = 200) {}

  record(listener: string, e: Exchange): void {
    const entry = entryOf(listener, e);
    if (this.ring.length >= this.keep) this.ring.shift();
    this.ring.push(entry);
    if (this.sink) this.sink(this.format === 'json' ? JSON.stringify(entry) : formatText(entry));
  }

  tail(): AccessLogEntry[] {
    return this.ring.slice();
  }
}
