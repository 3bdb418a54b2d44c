/**
 * The admin port (127.0.0.1 only), in the spirit of Envoy's admin API:
 * /ready, /stats (JSON counters), /config_dump (snapshot version, route
 * tables, and what the sidecar passes in `extra`: its `proxyConfig` in
 * Envoy's terms, for `devmesh proxy-config`), /memory, /access_log (recent lines), /certs, and
 * /stats/prometheus (Istio's standard metrics; `?format=json` gives
 * prom-client's JSON form, which the control plane merges), and
 * `POST /restart`, which restarts this one sidecar even when it shares its
 * process with others (issue 8).
 */
import { headersLimits } from '../../http-limits';
import * as http from 'node:http';
import { X509Certificate } from 'node:crypto';
import type { Certificates } from '../../protocol';
import type { AccessLog } from '../accessLog';
import type { IstioMetrics } from '../istioMetrics';
import type { Stats } from '../stats';
import type { MeshTables } from '../tables';
import { describeSource } from '../routing/plan';
import { portsOf } from '../routing/servicePorts';

export interface AdminDeps {
  tables: () => MeshTables;
  stats: Stats;
  accessLog: AccessLog;
  metrics: IstioMetrics;
  certs: () => Certificates;
  ready: () => boolean;
  /** Keys of every sidecar in this process (several can share one, issue 8). */
  sharedWith?: () => string[];
  /** Restarts this sidecar alone, in its process (main.ts); absent for in-process test sidecars. */
  restart?: () => void;
  extra?: () => Record<string, unknown>;
  /** More JSON views by path (e.g. `/clusters` from the resilience filters). */
  routes?: Record<string, () => unknown>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function isCrossSite(headers: http.IncomingHttpHeaders): boolean {
  const site = headers['sec-fetch-site'];
  if (site && site !== 'same-origin' && site !== 'none') return true;
  const origin = headers.origin;
  if (!origin) return false;
  try {
    return !LOOPBACK.has(new URL(origin).hostname.toLowerCase().replace(/^\[(.*)\]$/, '[$1]'));
  } catch {
    return true;
  }
}

export function createAdminServer(deps: AdminDeps): http.Server {
  return http.createServer({ ...headersLimits() }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body, null, 2);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    // DNS rebinding: a web page whose name resolves to 127.0.0.1 could otherwise read this
    // port's access log and config (it has no token); any port, since the control API proxies here.
    if (!LOOPBACK.has((req.headers.host ?? '').toLowerCase().replace(/:\d+$/, ''))) {
      return json(403, { error: 'forbidden-host', message: `Host ${JSON.stringify(req.headers.host ?? '')} is not a loopback address` });
    }
    // Read-only but for POST /restart: other methods (and their bodies) are refused unread.
    const restart = req.method === 'POST' && path === '/restart';
    if (req.method !== 'GET' && req.method !== 'HEAD' && !restart) {
      res.setHeader('allow', 'GET, HEAD');
      return json(405, { error: 'method-not-allowed', message: `the admin port is read-only but for POST /restart (got ${req.method})` });
    }
    // A web page may POST to any loopback port without CORS: refuse what a browser marks as cross-site.
    if (restart && isCrossSite(req.headers)) {
      return json(403, { error: 'cross-site', message: 'POST /restart from a web page is refused; use devmesh or the control API' });
    }
    switch (path) {
      case '/ready':
        if (deps.ready()) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('LIVE\n');
        } else {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('DRAINING\n');
        }
        return;
      case '/stats':
        return json(200, deps.stats.toJSON());
      case '/config_dump':
        return json(200, configDump(deps.tables(), deps.extra?.()));
      case '/memory': {
        const m = process.memoryUsage();
        const inProcess = deps.sharedWith?.() ?? [];
        const n = Math.max(1, inProcess.length);
        return json(200, {
          rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, pid: process.pid,
          sidecarsInProcess: inProcess, rssPerSidecar: Math.round(m.rss / n),
          note: n > 1 ? `process-wide figures: ${n} sidecars share this process (and its ${(m.rss / 2 ** 20).toFixed(0)} MB); rssPerSidecar is an even share` : 'process-wide figures; this sidecar has the process to itself',
        });
      }
      case '/restart': {
        if (req.method !== 'POST') return json(405, { error: 'POST /restart restarts this sidecar' });
        if (!deps.restart) return json(501, { error: 'this sidecar is not hosted by a sidecar process' });
        const restart = deps.restart;
        // Answer first: the restart closes this very listener.
        res.once('finish', () => setImmediate(restart));
        return json(202, { restarting: deps.tables().identity.name, pid: process.pid, sharedWith: deps.sharedWith?.() ?? [] });
      }
      case '/access_log':
        return json(200, deps.accessLog.tail());
      case '/certs': {
        const c = deps.certs();
        const x = new X509Certificate(c.certPem);
        return json(200, { subjectAltName: x.subjectAltName, serial: x.serialNumber, validFrom: x.validFrom, validTo: x.validTo });
      }
      case '/stats/prometheus': {
        const asJson = /(?:^|[?&])format=json(?:&|$)/.test((req.url ?? '').split('?')[1] ?? '');
        (asJson ? deps.metrics.json().then((m) => JSON.stringify(m)) : deps.metrics.text()).then(
          (body) => {
            res.writeHead(200, { 'content-type': asJson ? 'application/json' : deps.metrics.registry.contentType, 'content-length': Buffer.byteLength(body) });
            res.end(body);
          },
          (err: Error) => json(500, { error: err.message }),
        );
        return;
      }
      default:
        if (deps.routes?.[path]) return json(200, deps.routes[path]());
        return json(404, { error: `unknown admin path ${path}`, paths: ['/ready', '/stats', '/config_dump', '/memory', '/access_log', '/certs', '/stats/prometheus', 'POST /restart', ...Object.keys(deps.routes ?? {})] });
    }
  });
}

/** What this sidecar acts on, readable: the version and its route tables. */
export function configDump(t: MeshTables, extra?: Record<string, unknown>): unknown {
  return {
    version: t.version,
    mesh: t.snapshot.meshName,
    identity: t.identity,
    inboundMtls: t.self ? t.mtls : undefined,
    services: t.snapshot.services.map((s) => ({ host: s.fqdn, port: s.port, ports: portsOf(s), workloads: s.workloads })),
    inbound: t.inbound ? [...t.inbound.byDestination].map(([destination, p]) => ({ destination, targetPort: p.targetPort, containerPort: p.number, localPort: p.localPort, mtls: p.mtls })) : undefined,
    routes: [...t.routes].map(([key, r]) => ({
      route: key, protocol: r.port.protocol, source: r.source ? describeSource(r.source) : 'default',
      ...(r.ignored ? { ignored: `${describeSource(r.ignored)} (both APIs route this host; Istio uses the other one for this caller)` } : {}),
      rules: r.rules.map((x) => ({ origin: x.origin, rule: x.rule, ...(x.gatewayApi ? { gatewayApi: x.gatewayApi, match: x.matches?.[0]?.source } : {}) })),
      ...(r.tcp.length ? { tcp: r.tcp.map((x) => ({ origin: x.origin, match: x.matches?.map((m) => m.source), route: x.route })) } : {}),
      ...(r.tls.length ? { tls: r.tls.map((x) => ({ origin: x.origin, match: x.matches?.map((m) => m.source), route: x.route })) } : {}),
    })),
    gatewayRoutes: t.gatewayRoutes.map((vs) => ({ virtualService: `${vs.namespace}/${vs.name}`, gateways: vs.gateways, hosts: vs.hosts, rules: vs.rules.map((r) => r.rule) })),
    destinationRules: Object.fromEntries([...t.destinationRules].map(([host, spec]) => [host, { from: t.destinationRuleSources.get(host), ...spec }])),
    ...extra,
  };
}
