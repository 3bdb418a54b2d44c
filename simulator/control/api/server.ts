/**
 * The control API: express on 127.0.0.1 only. Guards run in the order a
 * reader would check them — is this really us (Host), is this really the
 * user (token), is this a cross-site write (CSRF) — then the routes.
 */
import express from 'express';
import * as http from 'node:http';
import { hostGuard } from './host-guard';
import { headersLimits } from '../../http-limits';
import { tokenAuth } from './token-auth';
import { csrfGuard } from './csrf-guard';
import { sidecarAdminProxy } from './sidecar-proxy';
import { observabilityRouter, type ObservabilityDeps } from './observability';
import { dashboardRoutes } from './dashboard';
import type { EventLog } from '../events';
import type { ApiErrorBody, ConfigView, Health, MeshEvent, Topology } from './contract';
import type { FaultStore } from '../faults';
import type { MeshSnapshot } from '../../protocol';
import { faultsRouter } from './faults';

export interface ControlApiDeps {
  token: string;
  events: EventLog;
  isReady: () => boolean;
  topology: () => Topology;
  config: () => ConfigView;
  /** A recent config version's snapshot, while the control plane keeps it. */
  configVersion?: (version: number) => MeshSnapshot | undefined;
  adminPortOf: (workload: string) => number | undefined;
  /** Traces, access logs, merged metrics (observability.ts). */
  observability?: ObservabilityDeps;
  /** Runtime chaos (`/api/faults`). */
  faults?: FaultStore;
}

export function createControlApp(deps: ControlApiDeps, getPort: () => number): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(hostGuard(getPort));
  // The dashboard page and bundle hold no data: they load without the token, which the page reads from its URL fragment.
  app.use(dashboardRoutes());
  app.use(tokenAuth(deps.token));
  app.use(csrfGuard(getPort));

  app.get('/api/health', (_req, res) => {
    const ready = deps.isReady();
    res.status(ready ? 200 : 503).json({ ready } satisfies Health);
  });
  app.get('/api/topology', (_req, res) => { res.json(deps.topology()); });
  app.get('/api/config', (_req, res) => { res.json(deps.config()); });
  app.get('/api/config/:version', (req, res) => {
    const s = /^\d+$/.test(req.params.version) ? deps.configVersion?.(Number(req.params.version)) : undefined;
    if (s) res.json(s);
    else res.status(404).json({ error: 'not-found', message: `config version ${req.params.version} is not kept (the last versions published are)` } satisfies ApiErrorBody);
  });
  app.get('/api/events', (req, res) => serveEvents(deps.events, req, res));
  app.use('/api/sidecars', sidecarAdminProxy(deps.adminPortOf));
  if (deps.observability) app.use(observabilityRouter(deps.observability));
  if (deps.faults) app.use('/api/faults', faultsRouter(deps.faults));

  app.use((req, res) => { res.status(404).json({ error: 'not-found', message: `no route ${req.method} ${req.path}` } satisfies ApiErrorBody); });
  return app;
}

/** Server-sent events: replay what the client missed (Last-Event-ID), then stream. */
function serveEvents(events: EventLog, req: express.Request, res: express.Response): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (e: MeshEvent) => res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  res.write('retry: 1000\n\n');
  const after = Number(req.headers['last-event-id'] ?? req.query.after ?? 0) || 0;
  events.recent(after).forEach(send);
  const unsubscribe = events.subscribe(send);
  // A comment line now and then keeps idle proxies and clients from timing out.
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  heartbeat.unref();
  req.on('close', () => { unsubscribe(); clearInterval(heartbeat); });
}

export interface ControlApiServer { server: http.Server; port: number; close(): Promise<void> }

/** Listens on 127.0.0.1 only — never 0.0.0.0 — so nothing off this machine reaches it. */
export function listenControlApi(deps: ControlApiDeps, port: number): Promise<ControlApiServer> {
  let bound = port;
  const app = createControlApp(deps, () => bound);
  const server = http.createServer({ ...headersLimits() }, app);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.off('error', reject);
      bound = (server.address() as import('node:net').AddressInfo).port;
      resolve({
        server, port: bound,
        close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
      });
    });
  });
}
