/**
 * The admin port (127.0.0.1 only), in the spirit of Envoy's admin API:
 * /ready, /stats (JSON counters), /config_dump (snapshot version + route
 * tables), /memory, /access_log (recent lines), /certs, and
 * /stats/prometheus (Istio's standard metrics; `?format=json` gives
 * prom-client's JSON form, which the control plane merges).
 */
import { headersLimits } from '../../http-limits';
import * as http from 'node:http';
import { X509Certificate } from 'node:crypto';
import type { Certificates } from '../../protocol';
import type { AccessLog } from '../accessLog';
import type { IstioMetrics } from '../istioMetrics';
import type { Stats } from '../stats';
import type { MeshTables } from '../tables';

export interface AdminDeps {
  tables: () => MeshTables;
  stats: Stats;
  accessLog: AccessLog;
  metrics: IstioMetrics;
  certs: () => Certificates;
  ready: () => boolean;
  extra?: () => Record<string, unknown>;
  /** More JSON views by path (e.g. `/clusters` from the resilience filters). */
  routes?: Record<string, () => unknown>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

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
    // Read-only: nothing here changes state, so other methods (and their bodies) are refused unread.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(405, { error: 'method-not-allowed', message: `the admin port is read-only (got ${req.method})` });
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
        return json(200, { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, pid: process.pid, note: 'process-wide: sidecars sharing a process share these figures' });
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
        return json(404, { error: `unknown admin path ${path}`, paths: ['/ready', '/stats', '/config_dump', '/memory', '/access_log', '/certs', '/stats/prometheus', ...Object.keys(deps.routes ?? {})] });
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
    services: t.snapshot.services.map((s) => ({ host: s.fqdn, port: s.port, workloads: s.workloads })),
    meshRoutes: [...t.meshRoutes.values(), ...t.meshWildcards].map((vs) => ({ virtualService: `${vs.namespace}/${vs.name}`, hosts: vs.hosts, rules: vs.rules.map((r) => r.rule) })),
    gatewayRoutes: t.gatewayRoutes.map((vs) => ({ virtualService: `${vs.namespace}/${vs.name}`, gateways: vs.gateways, hosts: vs.hosts, rules: vs.rules.map((r) => r.rule) })),
    destinationRules: Object.fromEntries(t.destinationRules),
    ...extra,
  };
}
