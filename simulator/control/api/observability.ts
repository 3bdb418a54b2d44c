/**
 * Observability routes of the control API, mounted after the guards (so
 * every one needs the session token, Prometheus included: it sends it with
 * `authorization: { credentials: <token> }`):
 *
 *   GET /api/traces?service=&minDuration=<ms>&errors=true&limit=   recent traces, newest first
 *   GET /api/traces/:traceId                                       every span of one trace
 *   GET /api/traces?rule=<kind/ns/name/index>                       recent traces a rule decided a hop of
 *   GET /api/logs?workload=&limit=&after=<seq>                     recent access-log entries, oldest first
 *   GET /api/rules?rule=&edge=<source>%3E<destination>              per-rule counters over the last 10 minutes
 *   GET /api/telemetry                                             store sizes and export counters
 *   GET /metrics                                                   Istio metrics of every sidecar, merged
 */
import { Router, type Request } from 'express';
import type { TelemetryHub } from '../telemetry/hub';
import type { ApiErrorBody, LogPage, RuleList, TelemetryStatus, TraceList } from './contract';
import { RULE_WINDOW_MS } from '../telemetry/ruleWindow';

export interface ObservabilityDeps {
  hub: TelemetryHub;
  /** Merged Prometheus text of every sidecar. */
  metrics: () => Promise<{ text: string; contentType: string }>;
}

const str = (req: Request, name: string): string | undefined => {
  const v = req.query[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
};
const num = (req: Request, name: string): number | undefined => {
  const v = Number(str(req, name));
  return Number.isFinite(v) ? v : undefined;
};
const bool = (req: Request, name: string): boolean => ['1', 'true', 'yes'].includes(str(req, name) ?? '');

export function observabilityRouter(d: ObservabilityDeps): Router {
  const r = Router();
  r.get('/api/traces', (req, res) => {
    const limit = Math.min(Math.max(num(req, 'limit') ?? 20, 1), 1000);
    res.json({ traces: d.hub.traces.list({ service: str(req, 'service'), rule: str(req, 'rule'), minDurationMs: num(req, 'minDuration'), errors: bool(req, 'errors'), limit }), stored: d.hub.traces.size } satisfies TraceList);
  });
  r.get('/api/traces/:traceId', (req, res) => {
    const t = d.hub.traces.get(String(req.params.traceId));
    if (!t) return void res.status(404).json({ error: 'not-found', message: `no trace ${req.params.traceId} in the store (it keeps the last ${d.hub.traces.maxTraces})` } satisfies ApiErrorBody);
    res.json(t);
  });
  r.get('/api/logs', (req, res) => {
    const limit = Math.min(Math.max(num(req, 'limit') ?? 100, 1), d.hub.logs.capacity);
    res.json({ entries: d.hub.logs.query({ workload: str(req, 'workload'), limit, after: num(req, 'after') }), lastSeq: d.hub.logs.lastSeq, dropped: d.hub.logs.dropped } satisfies LogPage);
  });
  r.get('/api/rules', (req, res) => {
    res.json({ windowMs: RULE_WINDOW_MS, now: Date.now(), rules: d.hub.rules.view(Date.now(), { rule: str(req, 'rule'), edge: str(req, 'edge') }) } satisfies RuleList);
  });
  r.get('/api/telemetry', (_req, res) => {
    const o = d.hub.otlp;
    res.json({
      batches: d.hub.batches, traces: d.hub.traces.size, maxTraces: d.hub.traces.maxTraces, logs: d.hub.logs.lastSeq,
      otlp: o ? { url: o.url, sent: o.sent, failed: o.failed, dropped: o.dropped } : null,
    } satisfies TelemetryStatus);
  });
  r.get('/metrics', async (_req, res) => {
    const m = await d.metrics();
    res.set('content-type', m.contentType).send(m.text);
  });
  return r;
}
