/**
 * The human form of `devmesh describe`, in the shape istioctl users know
 * from `istioctl x describe pod|svc` (sections separated by dashes, three
 * spaces per level, "Route to host ... with weight 30 %", "Match: /prefix*"),
 * with devmesh's `namespace/name` for resources and relative weights shown as
 * the shares the sidecars give. Pure.
 */
import type { CallerView, DescribeResult, PortDescription, ServiceDescription, WorkloadSecurity } from './describe';
import { percent, type DestinationLine, type RouteLine, type RouteLines } from './routes';

const RULE = '--------------------';
const pad = (level: number) => ' '.repeat(3 * level);

export function formatDescribe(r: DescribeResult): string {
  const out: string[] = [];
  const subject = r.kind === 'workload' ? 'this workload' : 'this service';
  if (r.workload) {
    const w = r.workload;
    out.push(`Workload: ${w.namespace}/${w.name}`);
    out.push(`${pad(1)}Labels: ${Object.entries(w.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)'}`);
    out.push(`${pad(1)}Service account: ${w.serviceAccount} (${w.spiffeId})`);
    if (w.ports.length === 0) out.push(`${pad(1)}Workload does not serve any service port`);
    for (const p of w.ports) out.push(`${pad(1)}Workload port ${p.containerPort}${p.targetPort !== String(p.containerPort) ? ` (${p.targetPort})` : ''}: app on 127.0.0.1:${p.appPort}, for ${p.services.join(', ')}`);
    if (r.services.length === 0) out.push(`${pad(1)}No service selects it: nothing in the mesh can call it`);
  }
  for (const s of r.services) {
    if (out.length) out.push(RULE);
    formatService(out, s, subject);
  }
  out.push(RULE);
  formatSecurity(out, r.security);
  out.push(RULE);
  formatIngress(out, r, subject);
  return out.join('\n') + '\n';
}

function formatService(out: string[], s: ServiceDescription, subject: string): void {
  out.push(`Service: ${s.namespace}/${s.name}`);
  for (const p of s.ports) out.push(`${pad(1)}Port: ${p.name ? `${p.name} ` : ''}${p.port}/${p.protocol} targets workload port ${p.targetPort}`);
  out.push(`${pad(1)}Workloads: ${s.workloads.join(', ') || '(none)'}`);
  const multiPort = s.ports.length > 1;
  for (const p of s.ports) {
    if (multiPort) out.push(`${p.port}:`);
    formatPort(out, p, multiPort ? 1 : 0, subject);
  }
}

function formatPort(out: string[], p: PortDescription, level: number, subject: string): void {
  const several = p.views.length > 1;
  for (const v of p.views) {
    if (several) out.push(`${pad(level)}For callers in namespace${v.callerNamespaces.length > 1 ? 's' : ''} ${v.callerNamespaces.join(', ')}:`);
    formatView(out, v, several ? level + 1 : level, subject);
  }
}

function formatView(out: string[], v: CallerView, level: number, subject: string): void {
  const dr = v.destinationRule;
  if (dr) {
    out.push(`${pad(level)}DestinationRule: ${dr.from.join(' + ')} for "${dr.host}"`);
    if (dr.matchingSubsets.length || dr.nonMatchingSubsets.length) {
      if (dr.matchingSubsets.length === 0) out.push(`${pad(level + 1)}WARNING: ${subject.toUpperCase()} DOES NOT MATCH ANY SUBSET (non-matching subsets ${dr.nonMatchingSubsets.join(',')})`);
      else out.push(`${pad(level + 1)}Matching subsets: ${dr.matchingSubsets.join(',')}`);
      if (dr.matchingSubsets.length && dr.nonMatchingSubsets.length) out.push(`${pad(level + 2)}(Non-matching subsets ${dr.nonMatchingSubsets.join(',')})`);
    }
    if (!dr.tlsMode && dr.policies.length === 0 && dr.portLevel.length === 0) out.push(`${pad(level + 1)}No Traffic Policy`);
    if (dr.tlsMode) out.push(`${pad(level + 1)}Traffic Policy TLS Mode: ${dr.tlsMode}`);
    if (dr.policies.length) out.push(`${pad(level + 1)}Policies: ${dr.policies.join('/')}`);
    if (dr.portLevel.length) out.push(`${pad(level + 1)}Port Level Settings: ${dr.portLevel.join(', ')}`);
  }
  if (!v.routeSource) {
    out.push(`${pad(level)}No VirtualService: every workload of the service takes requests (default route)`);
    return;
  }
  out.push(`${pad(level)}${v.routeSource.kind}: ${v.routeSource.namespace}/${v.routeSource.name}`);
  formatRoutes(out, v.routes, level + 1, subject);
}

export function formatRoutes(out: string[], routes: RouteLines, level: number, subject: string): void {
  for (const r of routes.reaching) {
    for (const d of r.destinations) if (d.reaches) out.push(`${pad(level)}${routeTo(d)}`);
    // A catch-all after other rules takes only what they did not.
    const matches = r.matches.length ? r.matches : r.index > 0 ? ['Match: every request no earlier rule took'] : [];
    const facts = [...r.faults.map((f) => `Fault injection: ${f}`), ...matches];
    if (facts.length) out.push(`${pad(level)}${facts.join(', ')}`);
  }
  if (routes.reaching.length === 0) out.push(`${pad(level)}WARNING: no route reaches ${subject} (checked ${routes.notReaching.length} HTTP route(s))`);
  else if (routes.notReaching.length) out.push(`${pad(level)}${routes.notReaching.length} additional route(s) that will not reach ${subject}`);
  for (const r of routes.notReaching) out.push(`${pad(level + 1)}${whyNot(r)}`);
}

function routeTo(d: DestinationLine): string {
  return `Route to host "${d.host}"${d.subset ? ` subset "${d.subset}"` : ''}${d.port !== undefined ? ` port ${d.port}` : ''} with weight ${percent(d.percent)}`;
}

function whyNot(r: RouteLine): string {
  const when = `for (${r.matches.length ? r.matches.join(', ') : 'everything'})`;
  if (r.shadowedBy !== undefined) return `${r.route}: never used, rule ${r.shadowedBy} takes every request first`;
  if (r.action !== 'route') return `${r.route}: answers with a ${r.action} ${when}`;
  const mine = r.destinations.filter((d) => d.why);
  if (mine.length === 0) return `${r.route}: ${r.destinations.map(routeTo).join(', ') || 'no destination'} ${when}`;
  return `${r.route}: ${mine.map((d) => `${routeTo(d)}: ${d.why}`).join('; ')} ${when}`;
}

function formatSecurity(out: string[], security: readonly WorkloadSecurity[]): void {
  // Workloads with the same security are told once.
  const groups = new Map<string, { workloads: string[]; s: WorkloadSecurity }>();
  for (const s of security) {
    const key = JSON.stringify({ ...s, workload: '' });
    const g = groups.get(key);
    if (g) g.workloads.push(s.workload);
    else groups.set(key, { workloads: [s.workload], s });
  }
  const several = security.length > 1;
  for (const { workloads, s } of groups.values()) {
    if (several) out.push(`Workload${workloads.length > 1 ? 's' : ''} ${workloads.join(', ')}:`);
    const l = several ? 1 : 0;
    out.push(`${pad(l)}Effective PeerAuthentication:`);
    out.push(`${pad(l + 1)}Workload mTLS mode: ${s.mtls.mode} (${s.mtls.source === 'default' ? "the mesh default: no PeerAuthentication sets it" : `set by ${s.mtls.source}`})`);
    const differing = s.mtls.ports.filter((p) => p.mode !== s.mtls.mode || p.source !== s.mtls.source);
    if (differing.length) {
      out.push(`${pad(l + 1)}Port Level mTLS mode:`);
      for (const p of differing) out.push(`${pad(l + 2)}${p.port}: ${p.mode} (${p.source})`);
    }
    if (s.appliedPeerAuthentications.length) {
      out.push(`${pad(l)}Applied PeerAuthentication:`);
      out.push(`${pad(l + 1)}${s.appliedPeerAuthentications.join(', ')}`);
    }
    out.push(`${pad(l)}Authorization policies:`);
    if (s.authorizationPolicies.length === 0) out.push(`${pad(l + 1)}none apply: every request is allowed`);
    for (const p of s.authorizationPolicies) {
      const what = [p.provider ? `provider ${p.provider}` : '', `${p.rules} rule${p.rules === 1 ? '' : 's'}`, p.dryRun ? 'dry-run: logged, not enforced' : '', p.note ?? ''].filter(Boolean).join(', ');
      out.push(`${pad(l + 1)}${p.action} ${p.policy} (${what})`);
    }
    if (s.authorizationPolicies.length && !s.authorizationPolicies.some((p) => p.action === 'ALLOW' && !p.dryRun)) {
      out.push(`${pad(l + 1)}no ALLOW policy: what no DENY${s.authorizationPolicies.some((p) => p.action === 'CUSTOM') ? ' or CUSTOM' : ''} policy refuses is allowed`);
    }
  }
}

function formatIngress(out: string[], r: DescribeResult, subject: string): void {
  const ing = r.ingress;
  if (ing.byHost) out.push(`Exposed on the ingress ${ing.url} by Host (no Gateway is defined): ${ing.byHost}`);
  else if (ing.gateways.length === 0) out.push(`Not exposed through a Gateway: no VirtualService bound to a Gateway routes to ${subject}`);
  for (const g of ing.gateways) {
    out.push(`Exposed on Ingress Gateway ${ing.url} (Gateway ${g.gateway}, hosts ${g.hosts.join(', ')})`);
    out.push(`VirtualService: ${g.virtualService}`);
    formatRoutes(out, g.routes, 1, subject);
  }
  if (ing.proxyForm) out.push(`In proxy form through the ingress: ${ing.proxyForm}`);
}
