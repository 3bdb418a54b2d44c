/**
 * Mirror: copies the request to `mirror`/`mirrors` destinations,
 * fire-and-forget — the copy's answer is thrown away and never delays or
 * changes the real one. The copy keeps its authority (Istio 1.28 on sets
 * Envoy's disable_shadow_host_suffix_append); with the defaults of 1.27 or
 * older it gets Envoy's `-shadow`. Bodies are copied when they fit the
 * replay buffer.
 */
import { destinationPort } from '../routing/servicePorts';
import { qualifyHost } from '../../policy/hosts';
import type { Filter, Handler, RequestContext } from '../context';
import { hasBody } from '../upstream/hopByHop';
import { discard } from '../resilience/attempt';
import { replayableBody } from '../resilience/bodyBuffer';
import { mirrorTargets, shadowAuthority } from '../routing/mirror';
import type { Stats } from '../stats';
import type { Destination } from '../../policy/model';
import { Readable } from 'node:stream';

export interface MirrorSettings {
  random: () => number;
  /** The cluster part of the chain (endpoint pick -> upstream) the copies go through. */
  send: Handler;
  stats?: Stats;
}

export const mirror = (s: MirrorSettings): Filter => (next) => (ctx) => {
  const plan = ctx.plan;
  if (plan?.kind !== 'forward') return next(ctx);
  const targets = mirrorTargets(plan.rule, s.random);
  if (targets.length === 0) return next(ctx);
  if (ctx.notes) ctx.notes.mirrors = targets.map((d) => d.host);
  const withBody = hasBody(ctx.downstream);
  if (!withBody) {
    for (const d of targets) shadow(ctx, d, null, s);
    return next(ctx);
  }
  const body = replayableBody(ctx.downstream.body);
  // A stream of its own: retry, below, keeps its own replay buffer of what it reads.
  const live = body.tee();
  void body.complete().then((buf) => {
    if (!buf) return s.stats?.inc('mirror.skipped_body_too_large');
    for (const d of targets) shadow(ctx, d, buf, s);
  });
  next({ ...ctx, downstream: { ...ctx.downstream, body: live } } as RequestContext);
};

function shadow(ctx: RequestContext, d: Destination, body: Buffer | null, s: MirrorSettings): void {
  const plan = ctx.plan;
  if (plan?.kind !== 'forward') return;
  const t = ctx.tables;
  // A mirror host is read in the namespace of the rule that names it, as a route destination is.
  const service = t.serviceByHost.get(qualifyHost(d.host, plan.origin?.namespace ?? t.hostNamespace));
  if (!service) return s.stats?.inc('mirror.unknown_destination');
  s.stats?.inc('mirror.requests');
  const copy: RequestContext = {
    ...ctx,
    plan: { ...plan, service, host: service.fqdn, subset: d.subset, port: destinationPort(service, d.port?.number, plan.port) },
    authority: t.defaults.mirrorShadowHostSuffix ? shadowAuthority(ctx.authority) : ctx.authority,
    headers: { ...ctx.headers },
    downstream: { ...ctx.downstream, body: body ? Readable.from([body], { objectMode: false }) : Readable.from([]) },
    flags: [],
    responseHeaderOps: [],
    // The copy's decisions are its own: they never land in the original's records.
    notes: {},
    endpoint: undefined,
    policy: undefined,
    respond: (_status, _headers, b) => {
      if (b !== null && typeof b !== 'string') b.resume();
      else discard(b);
    },
    fail: () => s.stats?.inc('mirror.failed'),
    onAbort: () => undefined,
  };
  s.send(copy);
}
