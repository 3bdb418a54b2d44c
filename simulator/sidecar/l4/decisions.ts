/**
 * Decision records of one TCP connection, the L4 counterpart of
 * decisions.ts's `recordsOf` and with its record types: the filters only
 * note what they decided on the connection's context (the plan, the plan
 * error, the endpoint, the authz decision, the first failure); the records
 * are built from those when the connection is over, for its access-log
 * entry. `devmesh explain ... tcp` (explain/walkL4.ts) builds the same
 * records with the same builders, so a connection's entry and the walk
 * compare field by field.
 *
 * - At the caller's sidecar (outbound, the ingress, the egress gateway's
 *   routing): the config version, the tcp[]/tls[] rule (or the default
 *   route, or why no route), and the one attempt: the endpoint and how it
 *   ended (`connected`, or the flag: UO overflow, UF connect failure, UH no
 *   healthy endpoint; the peer's refusal status when it refused).
 * - At the callee's inbound: PeerAuthentication on the port, then the
 *   network RBAC verdict with the rule as written. At the ingress (and the
 *   egress gateway's routing), its own network RBAC verdict follows the
 *   route, and a denial still records the attempt that connected (l4/authz.ts).
 */
import type { AttemptRecord, DecisionRecord, RouteRecord } from '../decisions';
import { attemptRecord, authzRecord, mtlsRecord, ruleOf } from '../decisions';
import type { L4ForwardPlan, L4PlanError } from '../routing/l4Plan';
import { admits } from '../security/peerAuthentication';
import type { InboundPort } from '../tables';
import type { L4Context, L4Error } from './context';

/** What an L4 attempt that carried bytes records as its result (HTTP records a status there). */
export const CONNECTED = 'connected';

export function l4RouteRecord(plan: L4ForwardPlan | L4PlanError, proxy: string): RouteRecord {
  if (plan.kind === 'error') return { step: 'route', proxy, route: '-', action: 'refused', flag: plan.flag, reason: plan.reason };
  const r: RouteRecord = { step: 'route', proxy, route: plan.routeName, action: 'forward', host: plan.host, port: plan.port };
  const rule = ruleOf(plan.origin);
  if (rule) r.rule = rule;
  if (plan.subset !== undefined) r.subset = plan.subset;
  return r;
}

/** How the one attempt of a connection ended: connected, or the flag it failed with (the peer's status when it refused without one). */
export function l4AttemptResult(connected: boolean, failure: L4Error | undefined): string {
  if (connected || !failure) return CONNECTED;
  return failure.flag ?? (failure.status !== undefined ? String(failure.status) : failure.reason);
}

export function l4AttemptRecord(endpoint: string | undefined, result: string): AttemptRecord {
  return attemptRecord(1, { ...(endpoint !== undefined ? { endpoint } : {}), result, retried: false });
}

export function l4MtlsRecord(proxy: string, port: InboundPort, peer: { tls: boolean; spiffeId?: string }): DecisionRecord {
  return mtlsRecord(proxy, port.number, port.mtls, peer, admits(port.mtls.mode, peer));
}

/**
 * The records of one connection, from what its filters noted (built once, when it is over).
 *
 * A gateway's own network ext_authz and RBAC (the ingress's; the egress
 * gateway's on what it routes on) decide on the client's first bytes, after
 * the gateway routed and connected upstream (l4/authz.ts, l4/connection.ts
 * relay): their verdict is recorded in the filters' order, after the route
 * and before the attempt, and the attempt says `connected` even when the
 * verdict then closed the connection — as a caller's sidecar records its
 * attempt `connected` when the callee's RBAC closes the tunnel on the first
 * bytes. An attempt that did not connect was never decided on (no verdict).
 */
export function l4RecordsOf(ctx: L4Context, connected: boolean): DecisionRecord[] {
  const proxy = ctx.tables.identity.name;
  const out: DecisionRecord[] = [];
  if (ctx.listener === 'inbound') {
    if (ctx.inbound) out.push(l4MtlsRecord(proxy, ctx.inbound, { tls: ctx.source.tls !== false, spiffeId: ctx.source.spiffeId }));
    if (ctx.authz) out.push(authzRecord(ctx.authz, proxy));
    // A workload's inbound ends at its verdict (the app it connected to is not a decision). The egress gateway routes
    // what its inbound takes: its route and attempt follow, its verdict (filters' order) before them.
    if (!ctx.plan && !ctx.planError) return out;
  } else {
    out.push(ctx.destination ? { step: 'request', config: ctx.tables.snapshot.version, target: ctx.destination.authority } : { step: 'request', config: ctx.tables.snapshot.version });
  }
  const plan = ctx.plan ?? ctx.planError;
  // A connection refused before any route (a bad CONNECT target, a passthrough host): its access-log entry says why.
  if (!plan) return out;
  out.push(l4RouteRecord(plan, proxy));
  if (plan.kind === 'error') return out;
  // The ingress's own verdict, in the filters' order (after the route, before the attempt), once the client's first bytes came.
  if (ctx.listener === 'ingress' && ctx.authz) out.push(authzRecord(ctx.authz, proxy));
  // Closed by that verdict (or its ext_authz's, UAEX) after it connected upstream: the attempt connected all the same.
  const closedByVerdict = ctx.upstreamConnected === true && (ctx.authz?.allowed === false || ctx.failure?.flag === 'UAEX');
  out.push(l4AttemptRecord(ctx.endpoint?.name, closedByVerdict ? CONNECTED : l4AttemptResult(connected, ctx.failure)));
  return out;
}
