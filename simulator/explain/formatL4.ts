/**
 * `devmesh explain ... tcp|tls`'s human format: the L4 walk's steps in the
 * order the sidecars decide a connection, in format.ts's layout (labels in a
 * column, each deciding resource with file:line:col, odds as percentages).
 * Golden files in test/explain/golden hold what it prints.
 */
import { formatDuration } from '../policy/duration';
import type { ExplainConnectionResult, L4DestinationStep } from './walkL4';
import { formatAuthz, formatEndpoint, formatOutcomes, handshakeLines } from './format';
import type { Location, ResourceRef } from './result';

const pct = (p: number) => `${Number((p * 100).toFixed(1))} %`;
const at = (l: Location | undefined) => (l ? `  ${l.file}:${l.line}:${l.column}` : '');
const res = (r: ResourceRef) => `${r.kind} ${r.namespace}/${r.name}${at(r.location)}`;

export function formatConnection(r: ExplainConnectionResult): string {
  const out: string[] = [];
  const line = (label: string, text: string) => out.push(`${label.padEnd(12)}${text}`);
  const more = (text: string) => out.push(`${' '.repeat(12)}${text}`);
  const c = r.connection;
  line('Connection', `${c.protocol.toUpperCase()} ${c.target}${c.protocol === 'tls' ? ` (ClientHello server name: ${c.sni ?? 'none'})` : ''}`);
  more(`from ${r.caller.proxy} (${r.caller.listener === 'ingress' ? 'a client of the ingress' : 'outbound listener'}, namespace ${r.caller.namespace}, ${r.caller.spiffeId}); ${r.defaults.flavor} ${r.defaults.version} defaults`);
  const h = r.host;
  const g = r.gateway;
  if (g) {
    const what = g.kind === 'mixed' ? 'servers that terminate TLS and pass it through, split by the server name' : g.kind === 'terminated' ? 'a TLS server that terminates, then routes the decrypted stream by tcp[]' : g.kind === 'passthrough' ? 'a TLS passthrough server, routed by tls[] on the server name' : 'a TCP server, routed by tcp[]';
    line('Gateway', `port ${g.port} of ${g.gateways.join(', ')}: ${what}`);
    if (g.handshake) for (const l of handshakeLines(g.handshake)) more(l);
  } else if (h.service) {
    line('Host', `${h.authority} -> service ${h.service.name}.${h.service.namespace} (${h.service.fqdn})${h.port ? `, port ${h.port.port} (${h.port.name}, ${h.port.protocol})` : ''}`);
    if (h.problem) more(h.problem);
  } else line('Host', `${h.authority}: ${h.problem ?? 'not a mesh service'}`);

  const rt = r.route;
  formatRoute(rt, rt.rules.length || rt.action !== 'refused' ? undefined : g?.handshake?.refused ? 'none: the connection ends at the handshake' : 'refused before any rule', line, more);
  // The ingress's own network RBAC, on the client's verified certificate, its address, the server port and name.
  if ((g?.authz || g?.custom) && rt.action !== 'refused') {
    line('At', `${r.caller.proxy} (the ingress's network ${g.custom ? 'ext_authz and ' : ''}RBAC)`);
    if (g.custom) more(`AuthorizationPolicy CUSTOM ${g.custom.policies.join(', ')}: ${g.custom.verdict}`);
    if (g.authz) formatAuthz(g.authz, more, true);
  }

  for (const d of r.destinations) formatDestination(d, line, more);
  // Through the egress gateway: its server on the port, its own route and the cluster it connects to.
  const eg = r.egressGateway;
  if (eg) {
    line('Egress gw', `${eg.proxy}, port ${eg.port}${eg.gateways.length ? ` of ${eg.gateways.join(', ')}: ${eg.kind === 'passthrough' ? 'a TLS server, routed by tls[] on the ClientHello\'s server name' : eg.kind === 'terminated' ? 'a TLS server that terminates the sidecar\'s mTLS, routed by tcp[]' : 'a TCP server, routed by tcp[]'}` : ': no Gateway selecting it has a server on this port'}`);
    formatRoute(eg.route, eg.route.rules.length || eg.route.action !== 'refused' ? undefined : 'no rule: the gateway closes it', line, more);
    for (const d of eg.destinations) formatDestination(d, line, more);
  }

  out.push('');
  formatOutcomes(r.outcomes, line, more);
  return out.join('\n') + '\n';
}

/** A tcp[]/tls[] route step: its source, each rule as weighed, where it goes (`none`: what to say when no rule was weighed and it was refused). */
function formatRoute(rt: ExplainConnectionResult['route'], none: string | undefined, line: (l: string, t: string) => void, more: (t: string) => void): void {
  line('Route', rt.source ? res(rt.source) : rt.rules.length ? 'no tcp[]/tls[] rule takes it' : none ?? 'no tcp[]/tls[] rule for this port: the default route to the service');
  for (const s of rt.rules) {
    // A TLSRoute's or TCPRoute's rule is its rules[i] (Istio runs it as a tls[] / tcp[] rule of the Gateway).
    const gatewayApi = s.rule.kind === 'TLSRoute' || s.rule.kind === 'TCPRoute';
    const where = `${gatewayApi ? 'rules' : s.rule.section}[${s.rule.rule}]${rt.source && s.rule.name === rt.source.name ? '' : ` of ${gatewayApi ? s.rule.kind : 'VirtualService'} ${s.rule.namespace}/${s.rule.name}`}`;
    more(`  ${where}  ${s.matched ? `matched: ${s.because}` : `no match: ${(s.failed ?? []).join('; or ')}`}${at(s.location)}`);
  }
  if (rt.action === 'refused') more(`-> closed${rt.flag ? ` ${rt.flag}` : ''}: ${rt.message ?? ''}`);
  else for (const d of rt.destinations ?? []) more(`-> ${d.host}:${d.port}${d.subset ? ` subset ${d.subset}` : ''}  ${pct(d.probability)}${d.weight !== undefined ? ` (weight ${d.weight})` : ''}`);
}

function formatDestination(d: L4DestinationStep, line: (l: string, t: string) => void, more: (t: string) => void): void {
  line('Cluster', `${d.cluster}  ${pct(d.probability)}`);
  more(`workloads: ${d.workloads.join(', ') || 'none'}`);
  if (d.problem) more(`problem: ${d.problem}`);
  if (d.endpoints.length === 0) return;
  more(`load balancing: ${d.loadBalancer}, one pick per connection`);
  more(`endpoints: ${d.endpoints.map((e) => `${e.workload} ${pct(e.probability)}`).join(', ')}`);
  const pool = d.connectionPool;
  more(`connection pool: ${pool.maxConnections !== undefined ? `max connections ${pool.maxConnections} (the next one is closed, UO)` : 'no connection limit'}, connect timeout ${formatDuration(pool.connectTimeoutMs)} (UF past it), ${pool.idleTimeoutMs > 0 ? `idle timeout ${formatDuration(pool.idleTimeoutMs)} (closed after that long without a byte either way)` : 'no idle timeout'} — ${pool.source}`);
  const od = d.outlierDetection;
  more(`outlier detection: ${od ? `eject after ${od.consecutiveGateway ?? od.consecutive5xx} connect failures or timeouts in a row (they count as gateway errors), for ${formatDuration(Number(od.baseEjectionMs))} x ejections` : 'off (the DestinationRule sets no outlierDetection)'}`);
  for (const a of d.at) formatEndpoint(a, line, more, true);
}
