/**
 * `devmesh describe workload|service NAME`, offline, in the spirit of
 * `istioctl x describe pod|svc`: what the policy files make of one workload
 * or service — its ports and protocols, the DestinationRule and which of its
 * subsets select it, the route rules that reach it (with their shares) and
 * those that never will, the mTLS mode its inbound enforces and which
 * PeerAuthentication set it, the AuthorizationPolicies that apply to it, and
 * how the ingress exposes it.
 *
 * Every answer comes from the tables the sidecars compile (compileTables):
 * the VirtualService, DestinationRule and PeerAuthentication each proxy
 * selects, policy selection and subsets are the sidecars' own functions.
 * Callers in different namespaces can see different VirtualServices and
 * DestinationRules (exportTo); the routes are grouped by what the callers
 * see, with the namespaces that see each. Pure.
 */
import type { MeshSnapshot, ServiceInfo, ServicePortInfo, WorkloadInfo } from '../protocol';
import { hostMatches, stripPort } from '../policy/hosts';
import { isDryRun, policiesFor } from '../sidecar/security/authorization';
import { applyingPeerAuthentications } from '../sidecar/security/peerAuthentication';
import { proxyTarget } from '../sidecar/security/proxyTarget';
import { portsOf } from '../sidecar/routing/servicePorts';
import { compileTables, routeKey, serviceForAuthority, type MeshTables } from '../sidecar/tables';
import { routeLines, type RouteLines, type Target } from './routes';

export class DescribeUsageError extends Error {}

export interface DescribeResult {
  kind: 'workload' | 'service';
  mesh: string;
  workload?: WorkloadDescription;
  services: ServiceDescription[];
  /** Per workload described (one for a workload; every workload of a service). */
  security: WorkloadSecurity[];
  ingress: IngressExposure;
}

export interface WorkloadDescription {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  spiffeId: string;
  /** Container ports the services address, with where the app listens. */
  ports: Array<{ containerPort: number; targetPort: string; appPort: number; services: string[] }>;
}

export interface ServiceDescription {
  name: string;
  namespace: string;
  fqdn: string;
  workloads: string[];
  ports: PortDescription[];
}

export interface PortDescription {
  name?: string;
  port: number;
  protocol: string;
  targetPort: string;
  /** What callers see for this port, one view per distinct (VirtualService, DestinationRule) they get. */
  views: CallerView[];
}

export interface CallerView {
  /** The namespaces whose callers see this view. */
  callerNamespaces: string[];
  destinationRule?: DestinationRuleView;
  /** `VirtualService ns/name` routing the port; none: the default route (every workload, round the load balancer). */
  routeSource?: { kind: string; namespace: string; name: string };
  routes: RouteLines;
}

export interface DestinationRuleView {
  /** `ns/name` of each rule merged into the one in force. */
  from: string[];
  host: string;
  matchingSubsets: string[];
  nonMatchingSubsets: string[];
  tlsMode?: string;
  /** `load balancer`, `connection pool`, `outlier detection`: the top-level policies it sets. */
  policies: string[];
  /** Ports with their own settings. */
  portLevel: number[];
}

export interface WorkloadSecurity {
  workload: string;
  mtls: { mode: string; source: string; ports: Array<{ port: number; mode: string; source: string }> };
  appliedPeerAuthentications: string[];
  authorizationPolicies: Array<{ policy: string; action: string; rules: number; dryRun: boolean; provider?: string; note?: string }>;
}

export interface IngressExposure {
  /** The ingress's local URL (`http://127.0.0.1:15080`). */
  url: string;
  /** Gateways and the VirtualServices bound to them whose rules reach the target. */
  gateways: Array<{ gateway: string; hosts: string[]; virtualService: string; routes: RouteLines }>;
  /** Without any Gateway the ingress routes by Host to mesh services, as devmesh does. */
  byHost?: string;
  /** Every mesh service is reachable through the ingress in proxy form (curl -x). */
  proxyForm: string;
}

export function describeWorkload(snapshot: MeshSnapshot, name: string): DescribeResult {
  const w = snapshot.workloads.find((x) => x.name === name);
  if (!w) throw new DescribeUsageError(`no workload named "${name}" in mesh ${snapshot.meshName}; workloads: ${snapshot.workloads.map((x) => x.name).join(', ') || '(none)'}`);
  const own = compileTables(snapshot, w.name);
  const services = snapshot.services.filter((s) => s.workloads.includes(w.name));
  const ports = [...(own.inbound?.byDestination.values() ?? [])];
  const byPort = new Map<number, WorkloadDescription['ports'][number]>();
  for (const p of ports) {
    const entry = byPort.get(p.number) ?? { containerPort: p.number, targetPort: p.targetPort, appPort: p.localPort, services: [] };
    if (p.service && p.servicePort !== undefined) entry.services.push(`${p.service.name}.${p.service.namespace}:${p.servicePort}`);
    byPort.set(p.number, entry);
  }
  return {
    kind: 'workload',
    mesh: snapshot.meshName,
    workload: {
      name: w.name, namespace: w.namespace, labels: w.labels, serviceAccount: w.serviceAccount, spiffeId: w.spiffeId,
      ports: [...byPort.values()].sort((a, b) => a.containerPort - b.containerPort),
    },
    services: services.map((s) => describeServiceFor(snapshot, { service: s, workloads: [w.name] })),
    security: [securityOf(own)],
    ingress: exposure(snapshot, services.map((s) => ({ service: s, workloads: [w.name] }))),
  };
}

export function describeService(snapshot: MeshSnapshot, name: string): DescribeResult {
  const service = findService(snapshot, name);
  const target: Target = { service, workloads: service.workloads };
  return {
    kind: 'service',
    mesh: snapshot.meshName,
    services: [describeServiceFor(snapshot, target)],
    security: service.workloads.map((w) => securityOf(compileTables(snapshot, w))),
    ingress: exposure(snapshot, [target]),
  };
}

/** `reviews` (in the Mesh's namespace, or the one service of that name), `reviews.default`, or the FQDN: as the ingress resolves a Host. */
function findService(snapshot: MeshSnapshot, name: string): ServiceInfo {
  const found = serviceForAuthority(compileTables(snapshot, null), name) ?? (name.includes('.') ? undefined : only(snapshot.services.filter((s) => s.name === name.toLowerCase())));
  if (!found) {
    const known = snapshot.services.map((s) => `${s.name}.${s.namespace}`).join(', ') || '(none)';
    throw new DescribeUsageError(`no service named "${name}" in mesh ${snapshot.meshName} (a short name is looked up in namespace ${snapshot.namespace}; write name.namespace for another); services: ${known}`);
  }
  return found;
}

function only<T>(xs: T[]): T | undefined {
  return xs.length === 1 ? xs[0] : undefined;
}

/** Each port of the service as callers see it: grouped by the VirtualService and DestinationRule their sidecars select. */
function describeServiceFor(snapshot: MeshSnapshot, target: Target): ServiceDescription {
  const s = target.service;
  const callers = callerTables(snapshot);
  return {
    name: s.name, namespace: s.namespace, fqdn: s.fqdn, workloads: s.workloads,
    ports: portsOf(s).map((port) => ({
      name: port.name, port: port.port, protocol: protocolName(port), targetPort: String(port.targetPort ?? port.port),
      views: callerViews(callers, target, port),
    })),
  };
}

/** One compiled table per namespace that has workloads: what a caller there sees (exportTo and selection are per namespace). */
function callerTables(snapshot: MeshSnapshot): MeshTables[] {
  const seen = new Set<string>();
  const out: MeshTables[] = [];
  for (const w of snapshot.workloads) {
    if (seen.has(w.namespace)) continue;
    seen.add(w.namespace);
    out.push(compileTables(snapshot, w.name));
  }
  return out;
}

function callerViews(callers: readonly MeshTables[], target: Target, port: ServicePortInfo): CallerView[] {
  const views = new Map<string, CallerView>();
  for (const t of callers) {
    const table = t.routes.get(routeKey(target.service.fqdn, port.port));
    const drFrom = t.destinationRuleSources.get(target.service.fqdn);
    const key = `${table?.source ? table.source.resources.map((r) => `${r.kind} ${r.namespace}/${r.name}`).join(',') : '-'}|${drFrom?.join(',') ?? '-'}`;
    const have = views.get(key);
    if (have) { have.callerNamespaces.push(t.identity.namespace); continue; }
    const view: CallerView = { callerNamespaces: [t.identity.namespace], routes: table ? routeLines(t, table.rules, target, port.port) : { reaching: [], notReaching: [] } };
    // A VirtualService, or the first of the Gateway API routes attached to the port.
    if (table?.source) view.routeSource = table.source.resources[0];
    const dr = destinationRuleView(t, target, port.port);
    if (dr) view.destinationRule = dr;
    views.set(key, view);
  }
  return [...views.values()];
}

function destinationRuleView(t: MeshTables, target: Target, port: number): DestinationRuleView | undefined {
  const spec = t.destinationRules.get(target.service.fqdn);
  if (!spec) return undefined;
  const workloads = (t.workloadsByService.get(target.service.fqdn) ?? []).filter((w) => target.workloads.includes(w.name));
  const selects = (labels: Record<string, string> | undefined) => workloads.some((w) => Object.entries(labels ?? {}).every(([k, v]) => w.labels[k] === v));
  const subsets = spec.subsets ?? [];
  const tp = spec.trafficPolicy;
  const portLevel = (tp?.portLevelSettings ?? []).map((p) => p.port?.number).filter((n): n is number => n !== undefined);
  const here = tp?.portLevelSettings?.find((p) => p.port?.number === port);
  const tlsMode = (here?.tls ?? tp?.tls)?.mode;
  const policies = ([['loadBalancer', 'load balancer'], ['connectionPool', 'connection pool'], ['outlierDetection', 'outlier detection']] as const)
    .filter(([f]) => (here ?? tp)?.[f] !== undefined).map(([, label]) => label);
  return {
    from: t.destinationRuleSources.get(target.service.fqdn) ?? [],
    host: spec.host,
    matchingSubsets: subsets.filter((x) => selects(x.labels)).map((x) => x.name),
    nonMatchingSubsets: subsets.filter((x) => !selects(x.labels)).map((x) => x.name),
    ...(tlsMode ? { tlsMode } : {}),
    policies,
    portLevel,
  };
}

function securityOf(t: MeshTables): WorkloadSecurity {
  const self = t.self as WorkloadInfo;
  const snap = t.snapshot;
  const ports = [...new Map([...(t.inbound?.byDestination.values() ?? [])].map((p) => [p.number, { port: p.number, mode: p.mtls.mode, source: p.mtls.source }])).values()]
    .sort((a, b) => a.port - b.port);
  const policies = policiesFor(snap.authorizationPolicies, proxyTarget(t), snap.namespace, t.rootNamespace);
  return {
    workload: self.name,
    mtls: { mode: t.mtls.mode, source: t.mtls.source, ports },
    appliedPeerAuthentications: applyingPeerAuthentications(snap.peerAuthentications, self, snap.namespace, t.rootNamespace)
      .map((p) => `${p.metadata.namespace ?? snap.namespace}/${p.metadata.name}`),
    authorizationPolicies: policies.map((p) => {
      const action = p.spec.action ?? 'ALLOW';
      const rules = p.spec.rules?.length ?? 0;
      const entry: WorkloadSecurity['authorizationPolicies'][number] = { policy: `${p.metadata.namespace ?? snap.namespace}/${p.metadata.name}`, action, rules, dryRun: isDryRun(p) };
      if (p.spec.provider?.name) entry.provider = p.spec.provider.name;
      if (action === 'ALLOW' && rules === 0) entry.note = 'no rules: denies every request';
      return entry;
    }),
  };
}

/** How the ingress reaches the targets: Gateway-bound VirtualService rules, or Host routing without Gateways; and proxy form. */
function exposure(snapshot: MeshSnapshot, targets: readonly Target[]): IngressExposure {
  const t = compileTables(snapshot, null);
  const url = `http://127.0.0.1:${snapshot.ingress.port}`;
  const first = targets[0]?.service;
  const name = first ? `${first.name}.${first.namespace}:${portsOf(first)[0].port}` : '';
  const out: IngressExposure = { url, gateways: [], proxyForm: first ? `curl -x ${url} http://${name}/` : '' };
  if (t.gateways.size === 0) {
    if (first) out.byHost = `curl -H 'Host: ${first.namespace === snapshot.namespace ? first.name : `${first.name}.${first.namespace}`}' ${url}/`;
    return out;
  }
  for (const [gateway, gw] of t.gateways) {
    for (const vs of t.gatewayRoutes) {
      if (!vs.gateways.includes(gateway)) continue;
      // A VirtualService at the ingress serves the Gateway's hosts it names.
      const hosts = gw.hosts.filter((h) => vs.hosts.some((v) => hostMatches(h, stripPort(v)) || hostMatches(stripPort(v), h)));
      if (hosts.length === 0) continue;
      for (const target of targets) {
        const routes = routeLines(t, vs.rules, target, undefined);
        if (routes.reaching.length === 0) continue;
        out.gateways.push({ gateway, hosts, virtualService: `${vs.namespace}/${vs.name}`, routes });
      }
    }
  }
  return out;
}

/** Istio's protocol name for a port: HTTP, HTTP2, GRPC, TCP, TLS. */
function protocolName(p: ServicePortInfo): string {
  return String(p.protocol ?? 'http').toUpperCase();
}
