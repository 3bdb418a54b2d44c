/**
 * `devmesh explain`'s human format: the walk's steps in the order the
 * sidecars decide, each deciding resource with the place it is written
 * (file:line:col, which terminals and editors open), odds as percentages,
 * then the outcomes. Golden files in test/explain/golden hold what it prints.
 */
import type { GatewayHandshake } from './gatewayTls';
import { formatDuration } from '../policy/duration';
import type { DestinationStep, EndpointStep, ExplainResult, Location, ResourceRef } from './result';

const pct = (p: number) => `${Number((p * 100).toFixed(1))} %`;
const at = (l: Location | undefined) => (l ? `  ${l.file}:${l.line}:${l.column}` : '');
const res = (r: ResourceRef) => `${r.kind} ${r.namespace}/${r.name}${at(r.location)}`;
const ms = formatDuration;

export function formatExplain(r: ExplainResult): string {
  const out: string[] = [];
  const line = (label: string, text: string) => out.push(`${label.padEnd(12)}${text}`);
  const more = (text: string) => out.push(`${' '.repeat(12)}${text}`);
  const q = r.request;
  const headers = Object.entries(q.headers).map(([k, v]) => ` -H '${k}: ${v}'`).join('');
  const gateway = q.gateway !== undefined ? ` --gateway ${q.gateway}` : '';
  line('Request', `${q.method.toUpperCase()} ${q.url}${headers}${gateway}`);
  more(`from ${r.caller.proxy} (${r.caller.listener} listener, namespace ${r.caller.namespace}, ${r.caller.spiffeId}); ${r.defaults.flavor} ${r.defaults.version} defaults`);
  // What the walk assumes of the app (it predicts retries and timeouts from them).
  if (q.ejected?.length) more(`outlier detection is assumed to have seen ${q.ejected.join(', ')} fail past its threshold (ejected, in that order, up to maxEjectionPercent)`);
  if (q.inFlight) more(`the caller is assumed to have ${q.inFlight} request(s) in flight to the destination already`);
  if (q.appStatus !== undefined || q.appDelayMs) more(`the app is assumed to answer${q.appStatus !== undefined ? ` ${q.appStatus}` : ''}${q.appDelayMs ? ` after ${ms(q.appDelayMs)}` : ''}`);

  const h = r.host;
  if (h.via === 'gateway') {
    line('Host', `${h.authority}${h.path}: an origin-form request at the ingress, routed by Gateways`);
    for (const g of h.gateways ?? []) more(`Gateway ${g.name} hosts ${g.hosts.join(', ')}: ${g.matched ? 'covers it' : 'does not cover it'}`);
    const domain = h.virtualServices?.find((v) => v.domain !== undefined && v.outcome !== 'other-virtual-host')?.domain ?? h.virtualServices?.find((v) => v.domain !== undefined)?.domain;
    if (domain !== undefined) more(`virtual host ${domain}: the most specific name the servers and VirtualServices share that covers the host; only its routes apply`);
    for (const v of h.virtualServices ?? []) more(`VirtualService ${v.name} on ${v.gateway}: ${v.outcome === 'routed' ? 'routes it' : v.outcome === 'host-not-covered' ? 'hosts do not cover it' : v.outcome === 'other-virtual-host' ? `its hosts cover it, but virtual host ${v.domain} is more specific (no fall-through)` : 'no rule matches'}`);
    if (h.tls) for (const s of h.tls.servers) more(`TLS terminated on server port ${h.tls.port} of Gateway ${s.gateway}: ${s.mode}, certificate ${s.certificate}`);
    if (h.tls?.handshake) for (const l of handshakeLines(h.tls.handshake)) more(l);
  } else if (h.service) {
    line('Host', `${h.authority} -> service ${h.service.name}.${h.service.namespace} (${h.service.fqdn})${h.port ? `, port ${h.port.port} (${h.port.name}, ${h.port.protocol})` : ''}`);
    if (h.problem) more(h.problem);
  } else line('Host', `${h.authority}: ${h.problem ?? 'not a mesh service'}`);

  if (r.ingress) formatEndpoint(r.ingress, line, more);

  const rt = r.route;
  line('Route', rt.source ? res(rt.source) : rt.action === 'refused' ? 'refused before any rule' : 'no route resource: the default route to the service');
  for (const s of rt.rules) {
    more(`  rule ${s.rule.rule}${s.rule.kind === 'VirtualService' && rt.source && s.rule.name === rt.source.name ? '' : ` of ${s.rule.kind} ${s.rule.namespace}/${s.rule.name}`}  ${s.matched ? `matched: ${s.because}` : `no match: ${(s.failed ?? []).join('; or ')}`}${at(s.location)}`);
  }
  if (rt.action === 'refused') more(`-> ${rt.status} ${rt.message ?? ''}`.trimEnd());
  else if (rt.action !== 'forward') more(`-> route ${rt.routeName}: ${rt.status} ${rt.message}`);
  else {
    for (const d of rt.destinations ?? []) more(`-> ${d.host}:${d.port}${d.subset ? ` subset ${d.subset}` : ''}  ${pct(d.probability)}${d.weight !== undefined ? ` (weight ${d.weight})` : ''}`);
    if (rt.timeout) more(`timeout: ${rt.timeout.ms !== undefined ? ms(rt.timeout.ms) : 'none'} — ${rt.timeout.source}`);
    if (rt.retries) more(`retries: ${rt.retries.retries > 0 ? `up to ${rt.retries.retries} on ${rt.retries.on}${rt.retries.perTryTimeoutMs ? `, ${ms(rt.retries.perTryTimeoutMs)} per try` : ''}` : 'none'} — ${rt.retries.source}${at(rt.retries.location)}`);
    more(`faults: ${rt.faults && rt.faults.length ? rt.faults.map((f) => f.kind === 'delay' ? `delay ${ms(f.delayMs!)} for ${pct(f.probability)}` : `abort ${f.grpcStatus !== undefined ? `grpc-status ${f.grpcStatus}` : f.status} for ${pct(f.probability)}`).join(', ') : 'none'}`);
    more(`mirror: ${rt.mirrors && rt.mirrors.length ? rt.mirrors.map((m) => `${m.host} ${pct(m.probability)}`).join(', ') : 'none'}`);
  }

  for (const d of r.destinations) formatDestination(d, line, more);

  out.push('');
  formatOutcomes(r.outcomes, line, more);
  if (r.outcomes.some((o) => o.kind === 'answered') && rt.retries && rt.retries.retries > 0) more(`up to ${rt.retries.retries} retries on ${rt.retries.on}`);
  return out.join('\n').replace(PILOT, 'pilot ') + '\n';
}

/** The outcomes: the one, or each with its odds. */
export function formatOutcomes(outcomes: ExplainResult['outcomes'], line: (l: string, t: string) => void, more: (t: string) => void): void {
  if (outcomes.length === 1) return line('Outcome', outcomes[0].summary);
  line('Outcome', `${outcomes.length} possible outcomes`);
  for (const o of outcomes) more(`${pct(o.probability).padStart(7)}  ${o.summary}`);
}

/** Sources name pilot files by their full path in the JSON; the text keeps it short. */
const PILOT = /istio\/istio@release-[\d.]+ pilot\/pkg\/networking\//g;

function formatDestination(d: DestinationStep, line: (l: string, t: string) => void, more: (t: string) => void): void {
  line('Cluster', `${d.cluster}  ${pct(d.probability)}`);
  for (const dr of d.destinationRule ?? []) more(res(dr));
  if (d.selector) more(`subset ${d.subset}: ${Object.entries(d.selector).map(([k, v]) => `${k}=${v}`).join(',') || '(no labels)'} -> ${d.workloads.join(', ') || 'no workload'}`);
  else more(`workloads: ${d.workloads.join(', ') || 'none'}`);
  if (d.problem) more(`problem: ${d.problem}`);
  if (d.endpoints.length === 0 && !d.ejected?.length) return;
  more(`load balancing: ${d.loadBalancer.policy} — ${d.loadBalancer.source}`);
  const ejected = d.ejected?.length ? `${d.endpoints.length ? ';' : ' —'} ejected by outlier detection: ${d.ejected.join(', ')}` : '';
  more(`endpoints: ${d.endpoints.map((e) => `${e.workload} ${pct(e.probability)}`).join(', ') || 'none'}${ejected}`);
  more(`policy: ${d.policy.levels.join(' + ')}${d.policy.tls ? `; tls ${d.policy.tls}` : ''}`);
  more(`connection pool: ${describePool(d.policy.connectionPool)} — ${d.policy.connectionPoolSource}`);
  const od = d.policy.outlierDetection;
  more(`outlier detection: ${od ? `eject after ${od.consecutive5xx} consecutive 5xx${od.consecutiveGateway ? ` or ${od.consecutiveGateway} gateway errors` : ''}, every ${ms(Number(od.intervalMs))}, for ${ms(Number(od.baseEjectionMs))} x ejections, at most ${od.maxEjectionPercent} % of hosts` : 'off (the DestinationRule sets no outlierDetection)'}`);
  for (const a of d.at) formatEndpoint(a, line, more);
}

const POOL_WORDS: Record<string, string> = {
  maxConnections: 'max connections', maxPending: 'max pending requests', maxRequests: 'max requests', maxRetries: 'max retries in flight',
  maxRequestsPerConnection: 'max requests per connection', idleTimeoutMs: 'idle timeout', connectTimeoutMs: 'connect timeout',
};

function describePool(p: Record<string, number>): string {
  const limits = Object.entries(p).filter(([k, v]) => !(k === 'maxRequestsPerConnection' && v === 0) && !k.endsWith('Ms'));
  const times = Object.entries(p).filter(([k]) => k.endsWith('Ms'));
  return [limits.length ? limits.map(([k, v]) => `${POOL_WORDS[k] ?? k} ${v}`).join(', ') : 'no limits', ...times.map(([k, v]) => `${POOL_WORDS[k] ?? k} ${ms(v)}`)].join(', ');
}

/** One workload's verdict; `l4`: on a TCP connection's tunnel, with the policies as network RBAC reads them (formatL4.ts). */
export function formatEndpoint(a: EndpointStep, line: (l: string, t: string) => void, more: (t: string) => void, l4 = false): void {
  line(`At`, `${a.workload}`);
  more(`${l4 ? 'tunnel' : 'connection'}: ${a.mtls.sends ? 'mTLS' : 'plaintext'} (${a.mtls.why})`);
  if (a.port) {
    const src = a.port.source === 'default' ? 'no PeerAuthentication: the default' : res(a.port.source);
    more(`PeerAuthentication: port ${a.port.port} ${a.port.mode} — ${src}; ${a.port.admitted ? 'admits' : 'REFUSES'} the connection`);
  }
  if (a.jwt) {
    more(`RequestAuthentication: ${a.jwt.status === 'OK' ? `passes${a.jwt.principal ? `, end user ${a.jwt.principal}` : ' (no end user)'}` : a.jwt.status === 'not verified' ? 'a token explain did not verify' : `REFUSES: ${a.jwt.status}`}`);
    for (const p of a.jwt.providers) more(`  ${p.policy} issuer ${p.issuer || '(any)'}: ${p.result}`);
  }
  if (a.custom) more(`AuthorizationPolicy CUSTOM ${a.custom.policies.join(', ')}: ${a.custom.verdict}`);
  if (a.refusedBy) {
    more(`-> DENIED by ${a.refusedBy}: AuthorizationPolicy DENY and ALLOW are not reached`);
    return;
  }
  formatAuthz(a.authz, more, l4);
}

/** The AuthorizationPolicies of one proxy, rule by rule, and the verdict; `l4`: as network RBAC reads them on a connection. */
export function formatAuthz(authz: EndpointStep['authz'], more: (t: string) => void, l4 = false): void {
  if (authz.policies.length === 0) {
    more(`AuthorizationPolicy: ${authz.reason}: allowed`);
    return;
  }
  more(l4 ? 'AuthorizationPolicy, as network RBAC reads it (DENY, then ALLOW; HTTP-only fields: an ALLOW rule never matches, a DENY rule drops them):'
    : 'AuthorizationPolicy (CUSTOM, then DENY, then ALLOW; AUDIT and dry-run never decide):');
  for (const p of authz.policies) {
    const verdict = p.matched >= 0 ? `matches rule ${p.matched}` : p.rules.length === 0 ? 'no rules: matches nothing' : 'no rule matches';
    more(`  ${p.action}${p.dryRun ? ' (dry-run)' : ''} ${p.policy.namespace}/${p.policy.name}: ${verdict}${at(p.policy.location)}`);
    // A matched rule says something only on TCP (the HTTP-only fields a DENY rule dropped).
    for (const r of p.rules) if (r.failed) more(`    rule ${r.rule}: ${r.failed}${at(r.location)}`);
  }
  more(`-> ${authz.allowed ? 'allowed' : 'DENIED'} (${authz.reason})`);
}

/** The client's TLS handshake at an Istio Gateway server, a line per step: the chain its server name picks, the client certificate, and the refusal or the XFCC the ingress sets. */
export function handshakeLines(h: GatewayHandshake): string[] {
  const out: string[] = [];
  const name = h.sni ? `server name "${h.sni}"` : 'no server name (SNI)';
  const c = h.chain;
  out.push(c ? `handshake: ${name} picks the chain for ${c.hostname ?? 'any host (*)'}: ${c.mode ?? 'SIMPLE'}${c.source ? `, certificate ${c.source}` : ''}${c.clientCa ? `, client certificates of ${c.clientCa}` : ''}` : `handshake: no server of the port covers ${name}`);
  const cl = h.client;
  if (h.clientCert === undefined) out.push('client certificate: not asked for (no server of the port asks)');
  else if (!cl?.presented) out.push(`client certificate: asked for (${h.clientCert}); none presented (assume one with --client-cert FILE)`);
  else out.push(`client certificate: presented, ${cl.verified ? 'verified' : `does not verify (${cl.why})`}${cl.principal ? `; SPIFFE id ${cl.principal} (the source principal for AuthorizationPolicy at the ingress)` : ''}`);
  if (h.refused) out.push(`REFUSED: ${h.refused}`);
  // The Cert element is the whole certificate, URL-encoded: shortened here (--format json has it all).
  else if (h.xfcc) out.push(`x-forwarded-client-cert the ingress sets (SANITIZE_SET): ${h.xfcc.replace(/;Cert="([^"]*)"/, (_, pem: string) => `;Cert="${pem.slice(0, 32)}…" (the client certificate, URL-encoded PEM, ${pem.length} characters)`)}`);
  return out;
}
