/**
 * Decision records: what a sidecar decided for one request, each with the
 * origin behind it (kind, namespace/name, rule index). The filters only note
 * what they decided on the request (`DecisionNotes`, a field or two each, no
 * strings); the records are built from those notes when the exchange ends,
 * and only where something reads them (a sampled span, the access log, the
 * per-rule counters). `devmesh explain` builds the same records with the same
 * builders from the same decision functions run with odds instead of dice,
 * so a record from a live span and one from the static walk compare field
 * by field.
 */
import type { AuthzDecision } from './security/authorization';
import type { FaultDecision } from './resilience/faultDecision';
import type { RoutePlan } from './routing/plan';
import type { RouteOrigin } from './tables';

/** A rule of a resource: a route rule (VirtualService http[i], HTTPRoute rules[i]) or an AuthorizationPolicy rule. */
export interface RuleRef {
  kind: string;
  namespace: string;
  name: string;
  rule: number;
}

/** `VirtualService/default/reviews/1`: the id per-rule counters, spans and the editor's code lenses share. */
export function ruleKey(r: RuleRef): string {
  return `${r.kind}/${r.namespace}/${r.name}/${r.rule}`;
}

export function parseRuleKey(key: string): RuleRef | undefined {
  const m = /^([A-Za-z]+)\/([^/]+)\/([^/]+)\/(\d+)$/.exec(key);
  return m ? { kind: m[1], namespace: m[2], name: m[3], rule: Number(m[4]) } : undefined;
}

export type DecisionRecord = RouteRecord | FaultRecord | MirrorRecord | AttemptRecord | MtlsRecord | AuthzRecord;

/** Which rule routed the request (or that none did), and where to. */
export interface RouteRecord {
  step: 'route';
  /** The proxy that decided (workload, or the ingress's name). */
  proxy: string;
  /** Envoy's route name: the rule's `name`, else `<resource>.<index>`; `default` without a route resource. */
  route: string;
  rule?: RuleRef;
  action: 'forward' | 'redirect' | 'direct' | 'refused';
  /** forward: the destination service host, service port and subset. */
  host?: string;
  port?: number;
  subset?: string;
  /** redirect, direct, refused: the status the route answers with, and for refused the flag and reason. */
  status?: number;
  flag?: string;
  reason?: string;
}

/** A fault that acted on the request: the route rule's, or a runtime fault's (`devmesh fault add`). */
export interface FaultRecord {
  step: 'fault';
  rule?: RuleRef;
  runtime?: string;
  delayMs?: number;
  abort?: number;
  grpcStatus?: number;
}

export interface MirrorRecord {
  step: 'mirror';
  rule?: RuleRef;
  /** Hosts a copy went to. */
  to: string[];
}

/** One try at the cluster: the endpoint the load balancer picked and how it ended. */
export interface AttemptRecord {
  step: 'attempt';
  n: number;
  endpoint?: string;
  /** The status the attempt got, or the flag it failed with (`UF`, `UT`, `UO`, `FI` ...). */
  result: string;
  retried: boolean;
}

/** PeerAuthentication at the callee's inbound port. */
export interface MtlsRecord {
  step: 'mtls';
  proxy: string;
  /** The container port, as portLevelMtls keys it. */
  port: number;
  mode: string;
  /** `ns/name` of the PeerAuthentication that set the mode, or `default`. */
  source: string;
  peer?: string;
  admitted: boolean;
}

export interface AuthzRecord {
  step: 'authz';
  proxy: string;
  allowed: boolean;
  /** The policy and rule that decided, when one did (none: no ALLOW policy, or none matched). */
  rule?: RuleRef;
  action?: string;
  /** `ns/name` of the deciding policy, or why none decided. */
  reason: string;
  audit?: string[];
  dryRun?: { allowed: boolean; policy: string };
}

/** What the filters note on a request while deciding (RequestContext.notes), read into records at the end. */
export interface DecisionNotes {
  fault?: FaultDecision;
  /** Hosts the mirror filter copied the request to. */
  mirrors?: string[];
  /** The retry filter's tries, in order. */
  attempts?: AttemptNote[];
  authz?: AuthzDecision;
}

export interface AttemptNote {
  endpoint?: string;
  result: string;
  retried: boolean;
}

export function ruleOf(origin: RouteOrigin | undefined): RuleRef | undefined {
  return origin && { kind: origin.kind, namespace: origin.namespace, name: origin.name, rule: origin.rule };
}

export function routeRecord(plan: RoutePlan, proxy: string): RouteRecord {
  switch (plan.kind) {
    case 'forward': {
      const r: RouteRecord = { step: 'route', proxy, route: plan.routeName, rule: ruleOf(plan.origin), action: 'forward', host: plan.host, port: plan.port };
      if (plan.subset !== undefined) r.subset = plan.subset;
      return strip(r);
    }
    case 'redirect':
    case 'direct':
      return strip({ step: 'route', proxy, route: plan.routeName, rule: ruleOf(plan.origin), action: plan.kind, status: plan.status });
    case 'error':
      return { step: 'route', proxy, route: '-', action: 'refused', status: plan.error.status, flag: plan.error.flag, reason: plan.error.reason };
  }
}

export function faultRecord(d: FaultDecision, plan: RoutePlan | undefined): FaultRecord {
  const fromRoute = d.source === 'route';
  const r: FaultRecord = { step: 'fault' };
  if (fromRoute && plan && plan.kind !== 'error' && plan.origin) r.rule = ruleOf(plan.origin);
  if (!fromRoute && d.source) r.runtime = d.source;
  if (d.delayMs !== undefined) r.delayMs = d.delayMs;
  if (d.abort) {
    r.abort = d.abort.httpStatus;
    if (d.abort.grpcStatus !== undefined) r.grpcStatus = d.abort.grpcStatus;
  }
  return r;
}

export function mirrorRecord(to: string[], plan: RoutePlan | undefined): MirrorRecord {
  return strip({ step: 'mirror', rule: plan && plan.kind !== 'error' ? ruleOf(plan.origin) : undefined, to });
}

export function attemptRecord(n: number, note: AttemptNote): AttemptRecord {
  return strip({ step: 'attempt', n, endpoint: note.endpoint, result: note.result, retried: note.retried });
}

export function mtlsRecord(proxy: string, port: number, mtls: { mode: string; source: string }, peer: { tls: boolean; spiffeId?: string }, admitted: boolean): MtlsRecord {
  return strip({ step: 'mtls', proxy, port, mode: mtls.mode, source: mtls.source, peer: peer.tls ? peer.spiffeId : undefined, admitted });
}

export function authzRecord(d: AuthzDecision, proxy: string): AuthzRecord {
  const r: AuthzRecord = { step: 'authz', proxy, allowed: d.allowed, reason: d.policy };
  if (d.by) {
    r.rule = { kind: 'AuthorizationPolicy', namespace: d.by.namespace, name: d.by.name, rule: d.by.rule };
    r.action = d.by.action;
  }
  if (d.audited) r.audit = d.audited;
  if (d.dryRun) r.dryRun = d.dryRun;
  return r;
}

/** The rules a request's records name, for the per-rule counters: the route rule and the authorization rule. */
export function rulesOf(records: readonly DecisionRecord[]): RuleRef[] {
  const out: RuleRef[] = [];
  for (const r of records) if ((r.step === 'route' || r.step === 'authz') && r.rule) out.push(r.rule);
  return out;
}

/** Drops keys whose value is undefined, so records compare with deepEqual and serialize the same. */
function strip<T extends object>(r: T): T {
  for (const k of Object.keys(r) as (keyof T)[]) if (r[k] === undefined) delete r[k];
  return r;
}
