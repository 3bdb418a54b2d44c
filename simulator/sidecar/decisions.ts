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
import type { AuthzDecision, PolicyRule } from './security/authorization';
import type { FaultDecision } from './resilience/faultDecision';
import type { RoutePlan } from './routing/plan';
import type { RouteOrigin } from './tables';
import type { RequestContext } from './context';
import { admits } from './security/peerAuthentication';
import { sharedRecord } from './sharedRecords';

export type { RuleRef, DecisionRecord, RequestRecord, RouteRecord, FaultRecord, MirrorRecord, AttemptRecord, MtlsRecord, AuthzRecord } from '../control/api/contract';
import type { RuleRef, DecisionRecord, RequestRecord, RouteRecord, FaultRecord, MirrorRecord, AttemptRecord, MtlsRecord, AuthzRecord } from '../control/api/contract';
import type { IncomingHttpHeaders } from 'node:http';
import type { MeshTables } from './tables';
import { PER_TRY_TIMEOUT_HEADER, TIMEOUT_HEADER } from './resilience/timeoutPolicy';

export { RULE_KEY, ruleKey, parseRuleKey } from './ruleKey';
import { ruleKey } from './ruleKey';

/** What the filters note on a request while deciding (RequestContext.notes), read into records at the end. */
export interface DecisionNotes {
  fault?: FaultDecision;
  /** Hosts the mirror filter copied the request to. */
  mirrors?: string[];
  /** The retry filter's tries, in order. */
  attempts?: AttemptNote[];
  authz?: AuthzDecision;
  /** What cut the attempt in flight short (`UT`: the route timeout); the retry filter notes that attempt with it. */
  cut?: string;
  /** The routed cluster's hosts ejected by outlier detection at the first endpoint pick, in the order they were ejected (empty: none). */
  ejected?: string[];
}

export interface AttemptNote {
  endpoint?: string;
  result: string;
  retried: boolean;
}

export function ruleOf(origin: RouteOrigin | undefined): RuleRef | undefined {
  if (!origin) return undefined;
  const ref: RuleRef = { kind: origin.kind, namespace: origin.namespace, name: origin.name, rule: origin.rule };
  if (origin.section) ref.section = origin.section;
  return ref;
}

export function routeRecord(plan: RoutePlan, proxy: string): RouteRecord {
  if (plan.kind === 'error') return { step: 'route', proxy, route: '-', action: 'refused', status: plan.error.status, flag: plan.error.flag, reason: plan.error.reason };
  // Keys added in the record's order and only when defined (never `delete`d: that turns an object into a dictionary).
  const r = { step: 'route', proxy, route: plan.routeName } as RouteRecord;
  const rule = ruleOf(plan.origin);
  if (rule) r.rule = rule;
  if (plan.kind === 'forward') {
    r.action = 'forward';
    r.host = plan.host;
    r.port = plan.port;
    if (plan.subset !== undefined) r.subset = plan.subset;
  } else {
    r.action = plan.kind;
    r.status = plan.status;
  }
  return r;
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
  const rule = plan && plan.kind !== 'error' ? ruleOf(plan.origin) : undefined;
  return rule ? { step: 'mirror', rule, to } : { step: 'mirror', to };
}

export function attemptRecord(n: number, note: AttemptNote): AttemptRecord {
  return note.endpoint !== undefined
    ? { step: 'attempt', n, endpoint: note.endpoint, result: note.result, retried: note.retried }
    : { step: 'attempt', n, result: note.result, retried: note.retried };
}

export function mtlsRecord(proxy: string, port: number, mtls: { mode: string; source: string }, peer: { tls: boolean; spiffeId?: string }, admitted: boolean): MtlsRecord {
  const id = peer.tls ? peer.spiffeId : undefined;
  return id !== undefined
    ? { step: 'mtls', proxy, port, mode: mtls.mode, source: mtls.source, peer: id, admitted }
    : { step: 'mtls', proxy, port, mode: mtls.mode, source: mtls.source, admitted };
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

/** Flags that say an attempt failed at the proxy rather than got the app's answer. */
const FAILURE_FLAGS = ['UF', 'UC', 'UT', 'UO', 'UH', 'NR', 'NC', 'FI', 'UAEX'] as const;

function failureFlag(flags: readonly string[]): string | undefined {
  // Most exchanges carry no flag at all: no walk, no closure.
  if (flags.length === 0) return undefined;
  for (const f of FAILURE_FLAGS) if (flags.includes(f)) return f;
  return undefined;
}

/**
 * The records of one finished exchange, from what its filters noted: at an
 * outbound (or the ingress) listener the route, fault, mirror and attempts
 * (and the ingress's own authorization), at an inbound one PeerAuthentication
 * and authorization.
 */
export function recordsOf(listener: string, ctx: RequestContext, status: number): DecisionRecord[] {
  const out: DecisionRecord[] = [];
  const notes = ctx.notes;
  // A context no listener made (a unit test's) has noted nothing.
  if (!notes) return out;
  const t = ctx.tables;
  const proxy = t.identity.name;
  if (listener === 'inbound') {
    const port = ctx.inbound;
    if (port) {
      const peer = { tls: ctx.source.tls !== false, spiffeId: ctx.source.spiffeId };
      const admitted = admits(port.mtls.mode, peer);
      const id = peer.tls ? peer.spiffeId : undefined;
      out.push(sharedRecord(t, () => mtlsRecord(proxy, port.number, port.mtls, peer, admitted), 'mtls', port, port.mtls, id ?? NONE, admitted));
    }
    if (notes.authz) out.push(authzRecordOf(t, notes.authz, proxy));
    return out;
  }
  const request = requestRecordOf(t, ctx.downstream.headers);
  // Ejections are rare: only then is the request record its own object.
  out.push(notes.ejected?.length ? { ...request, ejected: notes.ejected } : request);
  if (notes.authz) out.push(authzRecordOf(t, notes.authz, proxy));
  const plan = ctx.plan;
  if (!plan) return out;
  out.push(plan.kind === 'forward'
    ? sharedRecord(t, () => routeRecord(plan, proxy), 'route', plan.origin ?? NONE, plan.routeName, plan.host, plan.port, plan.subset ?? NONE)
    : routeRecord(plan, proxy));
  if (notes.fault) out.push(faultRecord(notes.fault, plan));
  if (notes.mirrors) out.push(mirrorRecord(notes.mirrors, plan));
  if (notes.attempts) notes.attempts.forEach((a, i) => out.push(attemptRecordOf(t, i + 1, a)));
  else if (plan.kind === 'forward' && (ctx.endpoint || ctx.flags.includes('UH'))) {
    const failed = failureFlag(ctx.flags);
    out.push(attemptRecordOf(t, 1, { endpoint: ctx.endpoint?.name, result: failed ?? String(status), retried: false }));
  }
  return out;
}

/** Stands for an absent value in a shared record's key. */
const NONE = Symbol('none');

/** The request record: shared when the request carries none of the headers the config reads (the common case). */
function requestRecordOf(t: MeshTables, h: IncomingHttpHeaders): RequestRecord {
  for (const name of headersRead(t)) if (h[name] !== undefined) return requestRecord(t, h);
  return sharedRecord(t, () => requestRecord(t, h), 'request');
}

function attemptRecordOf(t: MeshTables, n: number, a: AttemptNote): AttemptRecord {
  return sharedRecord(t, () => attemptRecord(n, a), 'attempt', n, a.endpoint ?? NONE, a.result, a.retried);
}

/** Shared unless AUDIT or dry-run policies add what only this request's decision says. */
function authzRecordOf(t: MeshTables, d: AuthzDecision, proxy: string): AuthzRecord {
  if (d.audited || d.dryRun) return authzRecord(d, proxy);
  return sharedRecord(t, () => authzRecord(d, proxy), 'authz', d.allowed, d.policy, d.by ?? NONE);
}

const keys = new WeakMap<object, string>();

/** The rule key of a compiled rule's origin, made once per origin (they live as long as their tables). */
export function originKey(origin: RouteOrigin): string {
  let k = keys.get(origin);
  if (k === undefined) keys.set(origin, (k = ruleKey(origin)));
  return k;
}

/** The rule keys an exchange counts against: its route rule (outbound, ingress) and its authorization rule. */
export function ruleKeysOf(ctx: RequestContext, listener: string): string[] | undefined {
  const plan = ctx.plan;
  const by = ctx.notes?.authz?.by;
  const route = listener !== 'inbound' && plan && plan.kind !== 'error' && plan.origin ? originKey(plan.origin) : undefined;
  if (!by) return route === undefined ? undefined : [route];
  const authz = policyRuleKey(by);
  return route === undefined ? [authz] : [authz, route];
}

const policyKeys = new WeakMap<PolicyRule, string>();

/** The rule key of the AuthorizationPolicy rule that decided, made once per rule (authorization.ts gives each its one object). */
function policyRuleKey(by: PolicyRule): string {
  let k = policyKeys.get(by);
  if (k === undefined) policyKeys.set(by, (k = ruleKey({ kind: 'AuthorizationPolicy', namespace: by.namespace, name: by.name, rule: by.rule })));
  return k;
}

/** Headers that carry credentials: never recorded, whatever reads them. */
const SECRET = new Set(['authorization', 'proxy-authorization', 'x-forwarded-client-cert']);
const readHeaders = new WeakMap<MeshTables, ReadonlySet<string>>();

/**
 * The request headers some policy of this config reads: route match
 * headers (VirtualService, HTTPRoute, GRPCRoute) and withoutHeaders,
 * AuthorizationPolicy `request.headers[...]` conditions, consistent-hash
 * headers and cookies, and Envoy's timeout headers. Once per tables.
 */
export function headersRead(t: MeshTables): ReadonlySet<string> {
  let names = readHeaders.get(t);
  if (names) return names;
  const s = t.snapshot;
  const out = new Set<string>([TIMEOUT_HEADER, PER_TRY_TIMEOUT_HEADER]);
  const add = (k: string | undefined) => { if (k && !SECRET.has(k.toLowerCase())) out.add(k.toLowerCase()); };
  for (const vs of s.virtualServices) for (const r of vs.spec.http ?? []) for (const m of r.match ?? []) {
    for (const k of Object.keys(m.headers ?? {})) add(k);
    for (const k of Object.keys(m.withoutHeaders ?? {})) add(k);
  }
  for (const hr of [...(s.httpRoutes ?? []), ...(s.grpcRoutes ?? [])]) for (const r of hr.spec.rules ?? []) for (const m of r.matches ?? []) for (const h of m.headers ?? []) add(h.name);
  for (const ap of s.authorizationPolicies) for (const r of ap.spec.rules ?? []) for (const c of r.when ?? []) add(/^request\.headers\[(.+)\]$/.exec(c.key ?? '')?.[1]);
  for (const dr of s.destinationRules) {
    for (const tp of [dr.spec.trafficPolicy, ...(dr.spec.subsets ?? []).map((x) => x.trafficPolicy)]) {
      const ch = tp?.loadBalancer?.consistentHash;
      add(ch?.httpHeaderName);
      if (ch?.httpCookie) add('cookie');
    }
  }
  readHeaders.set(t, (names = out));
  return names;
}

/** The config version in force and the headers of this request its policies read (see RequestRecord). */
export function requestRecord(t: MeshTables, h: IncomingHttpHeaders): RequestRecord {
  const r: RequestRecord = { step: 'request', config: t.snapshot.version };
  for (const name of headersRead(t)) {
    const v = h[name];
    if (v !== undefined) (r.headers ??= {})[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  return r;
}
