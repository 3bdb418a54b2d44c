/**
 * One sidecar's effective configuration in Envoy's terms — listeners, route
 * configurations, clusters, endpoints and secrets — as `/config_dump` serves
 * it under `proxyConfig` and `devmesh proxy-config` prints it in istioctl's
 * columns. Built from the tables this sidecar acts on (compileTables), the
 * ports it bound, its outlier detectors' state and its certificates, so it
 * says what this proxy does now, not what the files say. Pure but for the
 * certificate parsing.
 *
 * The mapping to Envoy: the outbound listener has one filter chain per
 * service port, each to the route configuration named by the port (`9080`)
 * whose virtual hosts are the services on it (`reviews.default.svc.cluster.local:9080`);
 * a route per match of each VirtualService rule; a cluster per service port
 * and DestinationRule subset (`outbound|9080|v1|reviews.default.svc.cluster.local`),
 * its endpoints the callee sidecars' inbound listeners; the inbound listener
 * one chain per workload port (TLS, plaintext, or both as PERMISSIVE takes
 * them) to `inbound|<app port>||`; secrets `default` (the workload
 * certificate) and `ROOTCA` (the trust bundle).
 */
import { X509Certificate } from 'node:crypto';
import type { HTTPMatchRequest } from '../policy/model';
import type { ClusterConfig, EndpointConfig, HostOutlier, ListenerConfig, ProxyConfigDump, RouteConfig, RouteEntry, SecretConfig } from '../proxy-config/types';
import type { Certificates, ServiceInfo } from '../protocol';
import { clusterName } from './resilience/state';
import { portsOf } from './routing/servicePorts';
import { subsetEndpoints } from './routing/subsets';
import { effectiveWeights } from './routing/weights';
import { destinationService, type CompiledRule, type MeshTables } from './tables';
import { externalTarget } from './routing/externalEndpoints';
import { qualifyHost } from '../policy/hosts';
import { planGatewayL4, planGatewayTls, type L4Plan } from './routing/l4Plan';
import { buildVirtualHosts, virtualHostRoutes } from './routing/virtualHost';
import type { RequestAttributes } from './routing/match';

export interface LiveState {
  /** The ports this sidecar bound. */
  ports: { inbound?: number; outbound?: number; ingress?: number; admin: number };
  outlier: (cluster: string, host: string) => HostOutlier;
  certs: Certificates;
  now: number;
}

export function proxyConfigOf(t: MeshTables, live: LiveState): ProxyConfigDump {
  const clusters = clustersOf(t);
  return {
    proxy: t.identity.name,
    version: t.version,
    listeners: listenersOf(t, live),
    routes: [...outboundRoutes(t), ...gatewayRoutes(t), ...inboundRoutes(t)],
    clusters,
    endpoints: endpointsOf(t, clusters, live),
    secrets: secretsOf(live.certs, live.now),
  };
}

/** The service port numbers this proxy routes, ascending: one route configuration (and outbound chain) each. */
function servicePortNumbers(t: MeshTables): number[] {
  return [...new Set(t.registry.flatMap((s) => portsOf(s).map((p) => p.port)))].sort((a, b) => a - b);
}

/** Gateway server ports of the Gateways the ingress serves, ascending. */
function gatewayPorts(t: MeshTables): number[] {
  return [...new Set(t.istioGateways.flatMap((g) => (g.spec.servers ?? []).map((s) => s.port?.number)).filter((n): n is number => typeof n === 'number'))].sort((a, b) => a - b);
}

function listenersOf(t: MeshTables, live: LiveState): ListenerConfig[] {
  const out: ListenerConfig[] = [];
  const routed = servicePortNumbers(t).map((p) => ({ match: `Addr: *:${p}`, destination: `Route: ${p}` }));
  const unknown = { match: 'ALL', destination: 'BlackHoleCluster' };
  if (t.self) {
    out.push({ name: 'virtualOutbound', address: '127.0.0.1', port: live.ports.outbound ?? t.self.sidecar.outboundPort, chains: [...routed, unknown] });
    const chains: ListenerConfig['chains'] = [];
    const seen = new Set<number>();
    for (const p of [...(t.inbound?.byDestination.values() ?? [])].sort((a, b) => a.number - b.number)) {
      if (seen.has(p.number)) continue;
      seen.add(p.number);
      const to = `Cluster: inbound|${p.localPort}||`;
      if (p.mtls.mode !== 'DISABLE') chains.push({ match: `Trans: tls; Addr: *:${p.number}`, destination: to });
      if (p.mtls.mode !== 'STRICT') chains.push({ match: `Trans: raw_buffer; Addr: *:${p.number}`, destination: to });
    }
    out.push({ name: 'virtualInbound', address: '127.0.0.1', port: live.ports.inbound ?? t.self.sidecar.inboundPort, chains });
  } else {
    // Origin-form requests go to the Gateways' routes; proxy-form ones (curl -x) are routed as inside the mesh.
    // Not the ports with listeners of their own (TCP, TLS, HTTPS that terminates).
    const own = new Set([...t.gatewayTcpPorts.keys(), ...t.gatewayTlsPorts.keys(), ...(t.snapshot.ingress.listeners ?? []).filter((l) => l.istio).map((l) => l.port)]);
    const gateways = gatewayPorts(t).filter((p) => !own.has(p)).map((p) => ({ match: 'Origin form', destination: `Route: http.${p}` }));
    const proxyForm = routed.map((c) => ({ match: `Proxy form; ${c.match}`, destination: c.destination }));
    out.push({ name: 'ingress', address: '127.0.0.1', port: live.ports.ingress ?? t.snapshot.ingress.port, chains: [...gateways, ...proxyForm, unknown] });
    out.push(...gatewayTlsListeners(t, live.certs));
  }
  out.push({ name: 'admin', address: '127.0.0.1', port: live.ports.admin, chains: [{ match: 'ALL', destination: 'Admin: /config_dump, /clusters, /stats, /stats/prometheus, /certs, /ready' }] });
  return out;
}

/**
 * The ingress's Istio Gateway ports with TLS, as istioctl lists a gateway's
 * listeners: a filter chain per server host (`SNI: host`, or ALL for `*`)
 * on an HTTPS port that terminates (to its `https.<port>` routes), on a TLS
 * port that terminates or passes through (to the cluster its first tcp[] or
 * tls[] rule picks), and ALL on a TCP port.
 */
function gatewayTlsListeners(t: MeshTables, certs: Certificates): ListenerConfig[] {
  const cluster = (plan: L4Plan) => (plan.kind === 'forward' ? `Cluster: outbound|${plan.port}|${plan.subset ?? ''}|${plan.host}` : `(no route: ${plan.message})`);
  const sni = (h: string | undefined) => (h ? `SNI: ${h}` : 'ALL');
  const hostsOn = (port: number, gateways: readonly string[], which: (s: { terminated?: boolean; terminatedTcp?: boolean }) => boolean = () => true) => [...new Set(gateways.flatMap((g) => t.gateways.get(g)?.servers.filter((s) => s.port === port && which(s)).flatMap((s) => s.hosts) ?? []))];
  // One listener per port, as Envoy has: a port mixing HTTPS, terminated TLS and passthrough servers lists every chain under it.
  const byPort = new Map<number, ListenerConfig>();
  const add = (port: number, localPort: number, chains: ListenerConfig['chains']) => {
    const l = byPort.get(port);
    if (l) l.chains.push(...chains);
    else byPort.set(port, { name: `0.0.0.0_${port}`, address: '127.0.0.1', port: localPort, chains: [...chains] });
  };
  for (const l of t.snapshot.ingress.listeners ?? []) {
    if (!l.istio) continue;
    const chains = certs.listeners?.[`${l.gateway}:${l.port}`] ?? [];
    // The chains of TLS servers that terminate on this port route by tcp[] (listed below), not by https.<port>.
    const tcpHosts = new Set(hostsOn(l.port, t.gatewayTcpPorts.get(l.port) ?? [], (s) => !!s.terminatedTcp));
    // A chain whose secret never arrived still matches its SNI, and closes what it matches.
    const warming = (c: (typeof chains)[number]) => (c.warming ? ` (secret ${c.warming.sds} warming: handshakes refused)` : '');
    add(l.port, l.localPort, chains.filter((c) => !tcpHosts.has(c.hostname ?? '*')).map((c) => ({ match: sni(c.hostname), destination: `Route: https.${l.port}${warming(c)}` })));
  }
  for (const [port, gateways] of [...t.gatewayTcpPorts, ...t.gatewayTlsPorts].sort(([a], [b]) => a - b)) {
    const passthrough = t.gatewayTlsPorts.get(port) === gateways;
    const terminated = !passthrough && t.gatewayTerminatedTcpPorts.has(port);
    const hosts = passthrough ? hostsOn(port, gateways, (s) => !s.terminatedTcp && !s.terminated) : terminated ? hostsOn(port, gateways, (s) => !!s.terminatedTcp) : [undefined];
    add(port, byPort.get(port)?.port ?? port, hosts.map((h) => (h === '*' ? undefined : h)).map((h) => ({
      match: sni(h),
      destination: cluster(passthrough ? planGatewayTls(t, gateways, port, h, () => 0) : planGatewayL4(t, gateways, port, () => 0)),
    })));
  }
  return [...byPort.values()];
}

/** Every spelling of a service a caller here can use, as Envoy's virtual host domains (with and without the port). */
function domainsOf(t: MeshTables, s: ServiceInfo, port: number): string[] {
  const names = [s.fqdn, ...(s.namespace === t.hostNamespace ? [s.name] : []), `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`];
  return names.flatMap((n) => [n, `${n}:${port}`]);
}

function outboundRoutes(t: MeshTables): RouteConfig[] {
  return servicePortNumbers(t).map((port) => ({
    name: String(port),
    virtualHosts: t.registry.filter((s) => portsOf(s).some((p) => p.port === port)).map((s) => {
      const table = t.routes.get(`${s.fqdn}:${port}`)!;
      const routes = table.source ? table.rules.flatMap((r) => routeEntries(t, r, port)) : [defaultRoute(s, port)];
      return { name: `${s.fqdn}:${port}`, domains: domainsOf(t, s, port), routes };
    }),
  }));
}

/**
 * The ingress's Gateway routes: per Gateway server port, one virtual host
 * per name the servers' and the bound VirtualServices' hosts share, with
 * their routes merged oldest first and catch-alls last (routing/virtualHost.ts).
 */
function gatewayRoutes(t: MeshTables): RouteConfig[] {
  if (t.self) return [];
  return gatewayPorts(t).map((port) => {
    const servers = [...t.gateways].flatMap(([gateway, g]) => g.servers.filter((s) => s.port === port).map((s) => ({ gateway, hosts: s.hosts, hostNamespaces: s.hostNamespaces, ...(s.httpsRedirect ? { httpsRedirect: true } : {}) })));
    const at = { port, sourceLabels: t.identity.labels, sourceNamespace: t.identity.namespace } as RequestAttributes;
    const virtualHosts: RouteConfig['virtualHosts'] = [];
    for (const vh of buildVirtualHosts(servers, t.gatewayRoutes).values()) {
      const routes = virtualHostRoutes(vh.sources, at).flatMap((r) => routeEntries(t, r.entry, undefined));
      // A server with httpsRedirect that brought the host: Envoy's require_tls ALL (a plain request gets 301 to https).
      const requireTls = vh.requireTls || vh.sources.some((s) => s.redirect && virtualHostRoutes([s], at).length > 0);
      if (routes.length > 0 || requireTls) virtualHosts.push({ name: `${vh.domain}:${port}`, domains: [vh.domain, `${vh.domain}:${port}`], routes, ...(requireTls ? { requireTls: true } : {}) });
    }
    return { name: `http.${port}`, virtualHosts };
  });
}

function inboundRoutes(t: MeshTables): RouteConfig[] {
  const seen = new Set<number>();
  const out: RouteConfig[] = [];
  for (const p of t.inbound?.byDestination.values() ?? []) {
    if (seen.has(p.localPort)) continue;
    seen.add(p.localPort);
    const cluster = `inbound|${p.localPort}||`;
    out.push({ name: cluster, virtualHosts: [{ name: `inbound|http|${p.number}`, domains: ['*'], routes: [{ name: 'default', match: '/*', action: { clusters: [{ name: cluster, weight: 100 }] } }] }] });
  }
  return out;
}

function defaultRoute(s: ServiceInfo, port: number): RouteEntry {
  return { name: 'default', match: '/*', action: { clusters: [{ name: clusterName({ host: s.fqdn, port }), weight: 100 }] } };
}

/** One route per match of a rule (a rule without matches: one for every path), as pilot translates it. */
function routeEntries(t: MeshTables, r: CompiledRule, port: number | undefined): RouteEntry[] {
  const name = r.rule.name ?? `${r.origin.name}.${r.index}`;
  const action = routeAction(t, r, port);
  const matches = r.matches ?? [null];
  return matches.map((m) => {
    const e: RouteEntry = { name, match: m ? pathMatch(m.source) : '/*', origin: r.origin, action };
    if (m && Object.keys(m.source).some((k) => k !== 'uri' && k !== 'name')) e.conditions = m.source;
    return e;
  });
}

function routeAction(t: MeshTables, r: CompiledRule, port: number | undefined): RouteEntry['action'] {
  if (r.rule.redirect) return { redirect: true };
  if (r.rule.directResponse) return { directResponse: r.rule.directResponse.status };
  const dests = r.rule.route ?? [];
  const weights = effectiveWeights(dests);
  const total = weights.reduce((a, w) => a + w, 0) || 1;
  return {
    clusters: dests.map((d, i) => {
      const service = destinationService(t, d.destination.host, r.origin.namespace);
      const fqdn = service?.fqdn ?? qualifyHost(d.destination.host, r.origin.namespace);
      const p = d.destination.port?.number ?? (service && portsOf(service).length === 1 ? portsOf(service)[0].port : port ?? 0);
      return { name: clusterName({ host: fqdn, port: p, subset: d.destination.subset }), weight: Math.round((10000 * weights[i]) / total) / 100 };
    }),
  };
}

/** istioctl's MATCH column: the path condition only (`/prefix*`, `/exact`, `regex ...`), `/*` when there is none. */
function pathMatch(m: HTTPMatchRequest): string {
  const u = m.uri;
  if (u?.prefix !== undefined) return `${u.prefix}*`;
  if (u?.exact !== undefined) return u.exact;
  if (u?.regex !== undefined) return `regex ${u.regex}`;
  return '/*';
}

function clustersOf(t: MeshTables): ClusterConfig[] {
  const out: ClusterConfig[] = [];
  for (const s of t.registry) {
    const dr = t.destinationRules.get(s.fqdn);
    const from = t.destinationRuleSources.get(s.fqdn);
    for (const p of portsOf(s)) {
      for (const subset of ['', ...(dr?.subsets ?? []).map((x) => x.name)]) {
        const c: ClusterConfig = { name: clusterName({ host: s.fqdn, port: p.port, subset: subset || undefined }), fqdn: s.fqdn, port: p.port, subset, direction: 'outbound', type: 'EDS' };
        if (from) c.destinationRule = from;
        out.push(c);
      }
    }
  }
  const inbound = new Map<number, number>();
  for (const p of t.inbound?.byDestination.values() ?? []) inbound.set(p.localPort, p.number);
  for (const [local, number] of [...inbound].sort((a, b) => a[0] - b[0])) out.push({ name: `inbound|${local}||`, fqdn: '', port: number, subset: '', direction: 'inbound', type: 'STATIC' });
  out.push({ name: 'BlackHoleCluster', fqdn: '', subset: '', direction: '', type: 'STATIC' });
  return out;
}

function endpointsOf(t: MeshTables, clusters: readonly ClusterConfig[], live: LiveState): EndpointConfig[] {
  const out: EndpointConfig[] = [];
  for (const c of clusters) {
    if (c.direction === 'outbound') {
      const picked = subsetEndpoints(t.workloadsByService.get(c.fqdn) ?? [], t.destinationRules.get(c.fqdn), c.subset || undefined, c.fqdn);
      if ('error' in picked) continue;
      const service = t.registry.find((s) => s.fqdn === c.fqdn);
      for (const w of picked.endpoints) {
        // An endpoint outside the mesh is its own address; a workload is its sidecar's inbound listener.
        const to = w.external && service ? externalTarget(w, { service, port: c.port ?? service.port }) : { host: '127.0.0.1', port: w.sidecar.inboundPort };
        out.push({ cluster: c.name, address: `${to.host}:${to.port}`, workload: w.name, health: 'HEALTHY', outlier: live.outlier(c.name, w.name) });
      }
    } else if (c.direction === 'inbound' && t.self) {
      const local = Number(c.name.split('|')[1]);
      out.push({ cluster: c.name, address: `127.0.0.1:${local}`, workload: t.self.name, health: 'HEALTHY', outlier: live.outlier(c.name, t.self.name) });
    }
  }
  return out;
}

/** The workload certificate and each CA of the trust bundle; no key material. */
function secretsOf(certs: Certificates, now: number): SecretConfig[] {
  const entry = (name: string, type: SecretConfig['type'], pem: string): SecretConfig => {
    const x = new X509Certificate(pem);
    const notBefore = Date.parse(x.validFrom);
    const notAfter = Date.parse(x.validTo);
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const s: SecretConfig = { name, type, status: 'ACTIVE', valid: now >= notBefore && now <= notAfter, serial: x.serialNumber.toLowerCase(), notAfter: iso(notAfter), notBefore: iso(notBefore) };
    if (x.subjectAltName) s.subjectAltName = x.subjectAltName;
    return s;
  };
  const cas = certs.caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  // The ingress's Gateway credentials, named as istio-agent names SDS resources: kubernetes://<Secret>, file-cert:<cert>~<key>, file-root:<ca>.
  const gateway = new Map<string, SecretConfig>();
  for (const c of Object.values(certs.listeners ?? {}).flat()) {
    // Asked for and never sent: istioctl lists it WARMING, with no type or validity to read.
    if (c.warming) {
      if (!gateway.has(c.warming.sds)) gateway.set(c.warming.sds, { name: c.warming.sds, type: '', status: 'WARMING', valid: false, serial: '', notAfter: '', notBefore: '' });
      continue;
    }
    const name = resourceName(c.source, 'cert');
    if (!gateway.has(name)) gateway.set(name, entry(name, 'Cert Chain', c.certPem));
    const ca = c.clientCaPem && c.clientCaSource && !c.clientCaSource.startsWith('the mesh CA') ? resourceName(c.clientCaSource, 'root') : undefined;
    if (ca && !gateway.has(ca)) gateway.set(ca, entry(ca, 'CA', firstPem(c.clientCaPem!)));
  }
  return [entry('default', 'Cert Chain', certs.certPem), ...gateway.values(), ...cas.map((pem) => entry('ROOTCA', 'CA', pem))];
}

/** An SDS resource name for where a gateway certificate came from (`Secret ns/name`, `files a, b`, `file ca`, or minted). */
function resourceName(source: string, kind: 'cert' | 'root'): string {
  const secret = /^Secret [^/]+\/(.+)$/.exec(source);
  // istiod serves a Secret's CA as `<name>-cacert`, whether it is the Secret's ca.crt or a Secret of that name.
  if (secret) return `kubernetes://${secret[1]}${kind === 'root' && !secret[1].endsWith('-cacert') ? '-cacert' : ''}`;
  const files = /^files? (.+)$/.exec(source);
  if (files) return `file-${kind}:${files[1].split(', ').join('~')}`;
  return source;
}

function firstPem(pem: string): string {
  return /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem)?.[0] ?? pem;
}
