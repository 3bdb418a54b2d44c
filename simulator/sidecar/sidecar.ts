/**
 * One sidecar: a workload's outbound + inbound + admin listeners, or the
 * ingress edge (workload `null`: ingress + admin). All state lives in the
 * returned object — no module globals — so several sidecars can share one
 * process (the memory option issue 8 asks to measure) and tests run them
 * in-process.
 *
 * Config swaps are one reference assignment: a request keeps the tables it
 * started with, new requests see the new ones, nothing is dropped. A snapshot
 * that does not compile is rejected and the old tables keep serving.
 */
import type * as http from 'node:http';
import type * as net from 'node:net';
import type { Certificates, ControlMessage, SidecarMessage, BootstrapOptions } from '../protocol';
import { AccessLog, type AccessLogSink } from './accessLog';
import { clusterChain, inboundChain, inboundUpgradeChain, outboundChain, outboundUpgradeChain, type OutboundDeps, type SecurityDeps } from './chains';
import type { Source } from './context';
import type { Exchange } from './downstream';
import { createAdminServer } from './listeners/admin';
import { createInboundListener, type InboundListener } from './listeners/inbound';
import { createOutboundServer } from './listeners/outbound';
import { createHttp2Entry, type ServeHttp2 } from './listeners/http2Entry';
import { GatewayListeners } from './listeners/gatewayListeners';
import { newLbStats } from './routing/loadBalancer';
import { ResilienceState } from './resilience/state';
import { JwksStore } from './security/jwksStore';
import { Stats } from './stats';
import { StatusReporter } from './status';
import { SidecarTelemetry } from './telemetry';
import { compileTables, type MeshTables } from './tables';
import { proxyConfigOf } from './proxyConfig';
import { authzCaller } from './upstream/authzCall';
import { H2Pool } from './upstream/h2Pool';
import { H2cPool } from './upstream/h2cPool';
import { newKeepAliveAgent } from './upstream/http1';

export type Bootstrap = Extract<ControlMessage, { type: 'bootstrap' }>;

export interface StartOptions {
  /** Where to send messages for the control plane (IPC in a child process). */
  send?: (m: SidecarMessage) => void;
  /** Access log lines; default: none (main.ts writes them to stdout). */
  accessLog?: AccessLogSink;
  /** Random source for weights and load balancing (tests pass a seeded one). */
  random?: () => number;
  /**
   * The clock of every time-bound decision: outlier ejections and their end,
   * runtime fault and toxic expiry, JWT lifetimes (tests pass a fake one and move it).
   */
  now?: () => number;
  /** The process this sidecar shares (main.ts): admin `/memory` says who else is in it. */
  host?: { sidecars: () => string[]; restart?: () => void };
  /** false: no tracing and no Istio metrics (bench/observability.ts measures the difference). */
  observability?: boolean;
}

export interface Sidecar {
  readonly workload: string | null;
  readonly ports: { inbound?: number; outbound?: number; ingress?: number; admin: number; listeners?: Record<string, number> };
  readonly stats: Stats;
  readonly accessLog: AccessLog;
  /** Istio metrics, spans, edges and log entries (sent to the control plane in batches). */
  readonly telemetry: SidecarTelemetry;
  tables(): MeshTables;
  /**
   * Serves HTTP/2 (prior knowledge) from the app on a connection opened for
   * one service port — a CONNECT tunnel after its 200, or a local upstream
   * port — running every stream through the outbound chain.
   */
  serveHttp2: ServeHttp2;
  /** Handles one control message and returns the reply (also passed to `send`). */
  handle(msg: ControlMessage): Promise<SidecarMessage | undefined>;
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then closes everything. */
  close(graceMs?: number): Promise<void>;
}

export async function startSidecar(boot: Bootstrap, opts: StartOptions = {}): Promise<Sidecar> {
  const workload = boot.workload;
  const random = opts.random ?? Math.random;
  let tables = compileTables(boot.snapshot, workload);
  let certs: Certificates = boot.certs;
  let draining = false;
  const options: BootstrapOptions = boot.options ?? {};
  const stats = new Stats();
  const accessLog = new AccessLog(opts.accessLog, options.logFormat ?? 'text');
  const lb = newLbStats();
  let pool = new H2Pool(certs);
  const plaintextAgent = newKeepAliveAgent();
  const appAgent = newKeepAliveAgent();
  const appH2c = new H2cPool();
  const resilience = new ResilienceState(stats, random, opts.now);
  const log = (level: 'info' | 'warn', message: string) => void opts.send?.({ type: 'log', level, message });
  // Toxic relays close when their fault expires, even if no request comes to notice it.
  const toxicSweep = setInterval(() => resilience.toxics.sync(tables.snapshot.faults ?? []), 1000);
  toxicSweep.unref();
  const getTables = () => tables;
  const getCerts = () => certs;
  const sampling = options.sampling ?? 100;
  const telemetry = new SidecarTelemetry({ name: workload ?? boot.snapshot.ingress.name, send: (data) => opts.send?.({ type: 'telemetry', data }) });
  const observe = opts.observability !== false;
  const done = (listener: string) => (e: Exchange) => {
    stats.request(listener, e.status, e.ctx.flags);
    const entry = accessLog.record(listener, e);
    if (observe) telemetry.exchange(listener, e, entry);
  };

  const role = workload === null ? 'ingress' : 'sidecar';
  const outboundName = role === 'ingress' ? 'ingress' : 'outbound';
  const outboundDeps: OutboundDeps = { role, random, lb, pool: () => pool, plaintextAgent, stats, sampling, observe, resilience, log, onEject: (m) => { log('warn', m); status?.poke(); } };
  // The cluster part serves the app's calls and the calls to external authorizers in the mesh.
  const cluster = clusterChain(outboundDeps);
  const security: SecurityDeps = { jwks: new JwksStore({ log }), authzCall: authzCaller({ cluster, agent: plaintextAgent }), now: opts.now };
  const outboundHandler = outboundChain({ ...outboundDeps, security }, cluster);
  const outbound = createOutboundServer({ tables: getTables, handler: outboundHandler, onDone: done(outboundName) });
  // HTTP/2 connections from the app (CONNECT tunnels, local upstream ports): each stream runs the same outbound chain.
  const http2Entry = createHttp2Entry({ tables: getTables, handler: outboundHandler, onDone: done(outboundName), stats, log });
  // The ingress also serves each Gateway API Gateway's listener ports, through the same chain.
  const gatewayListeners = role === 'ingress'
    ? new GatewayListeners({ tables: getTables, handler: outboundHandler, onDone: done('ingress') }, getCerts, (level, message) => void opts.send?.({ type: 'log', level, message }))
    : undefined;
  const upgradeOut = outboundUpgradeChain({ role, random, lb, stats, resilience, log, security, tables: getTables, certs: getCerts, onDone: done(outboundName) });
  outbound.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    countTcp(socket, 'source', { service: upgradeTarget(req) });
    upgradeOut(req, socket, head, { labels: {}, address: socket.remoteAddress });
  });
  /** istio_tcp_* for upgraded (WebSocket/TCP) connections, measured on the downstream socket. */
  const countTcp = (socket: net.Socket, reporter: 'source' | 'destination', peer: { principal?: string; service?: string }) => {
    telemetry.metrics.recordTcp(tables, reporter, peer, 0, 0, 'open');
    const [read0, written0] = [socket.bytesRead, socket.bytesWritten];
    socket.once('close', () => telemetry.metrics.recordTcp(tables, reporter, peer, socket.bytesWritten - written0, socket.bytesRead - read0, 'close'));
  };

  let inbound: InboundListener | undefined;
  if (tables.self) {
    inbound = createInboundListener({
      tables: getTables,
      handler: inboundChain({ appAgent, appH2c: () => appH2c, stats, log, sampling, random, observe, security }),
      onDone: done('inbound'),
      certs,
      stats,
      onUpgrade: (() => {
        const up = inboundUpgradeChain({ stats, log, security, tables: getTables, onDone: done('inbound') });
        return (req: http.IncomingMessage, socket: net.Socket, head: Buffer, source: Source) => {
          countTcp(socket, 'destination', { principal: source.spiffeId });
          up(req, socket, head, source);
        };
      })(),
    });
  }
  const admin = createAdminServer({
    tables: getTables,
    stats,
    accessLog,
    metrics: telemetry.metrics,
    certs: getCerts,
    ready: () => !draining,
    sharedWith: opts.host?.sidecars,
    restart: opts.host?.restart,
    extra: () => ({
      upstreamSessions: pool.size, certificateNotAfter: new Date(certs.notAfter).toISOString(), toxics: resilience.toxics.toJSON(),
      // What `devmesh proxy-config` prints: this sidecar's listeners, routes, clusters, endpoints and secrets now.
      proxyConfig: proxyConfigOf(tables, { ports, outlier: (c, h) => resilience.outlierOf(c, h), certs, now: resilience.now() }),
    }),
    routes: { '/clusters': () => resilience.clusters() },
  });

  const self = tables.self;
  const ingress = tables.snapshot.ingress;
  const listening: Promise<number>[] = [];
  listening.push(listen(admin, self ? self.sidecar.adminPort : ingress.adminPort));
  listening.push(listen(outbound, self ? self.sidecar.outboundPort : ingress.port));
  if (inbound && self) listening.push(listen(inbound.server, self.sidecar.inboundPort));
  let boundPorts: number[];
  try {
    boundPorts = await Promise.all(listening);
  } catch (err) {
    for (const s of [admin, outbound, inbound?.server]) s?.close();
    throw err;
  }
  const [adminPort, outPort, inPort] = boundPorts;
  await gatewayListeners?.reconcile(tables.snapshot.ingress.listeners ?? []);
  const ports = self ? { admin: adminPort, outbound: outPort, inbound: inPort } : { admin: adminPort, ingress: outPort, listeners: gatewayListeners!.ports() };

  const send = (m: SidecarMessage) => {
    opts.send?.(m);
    return m;
  };
  // The app's health and the ejections, for the control API (only a sidecar with a control plane reports).
  const status = opts.send ? new StatusReporter({ appPort: () => tables.self?.appPort, ejections: () => resilience.ejections(), send: (s) => send({ type: 'status', status: s }) }) : undefined;

  const sidecar: Sidecar = {
    workload,
    ports,
    stats,
    accessLog,
    telemetry,
    tables: getTables,
    serveHttp2: http2Entry.serve,
    async handle(msg) {
      switch (msg.type) {
        case 'config': {
          try {
            const next = compileTables(msg.snapshot, workload);
            if (next.version < tables.version) throw new Error(`snapshot ${next.version} is older than the one in force (${tables.version})`);
            const mtlsChanged = next.mtlsModes.join() !== tables.mtlsModes.join();
            tables = next;
            resilience.toxics.sync(next.snapshot.faults ?? []);
            await gatewayListeners?.reconcile(next.snapshot.ingress.listeners ?? []);
            if (gatewayListeners) (ports as { listeners?: Record<string, number> }).listeners = gatewayListeners.ports();
            if (mtlsChanged) inbound?.enforce();
            stats.inc('config.applied');
            return send({ type: 'applied', version: next.version });
          } catch (err) {
            stats.inc('config.rejected');
            return send({ type: 'rejected', version: msg.snapshot?.version ?? -1, error: (err as Error).message });
          }
        }
        case 'certs': {
          certs = msg.certs;
          inbound?.setCertificates(certs);
          gatewayListeners?.refresh();
          const old = pool;
          pool = new H2Pool(certs);
          old.close(); // graceful: streams in flight on the old sessions complete
          stats.inc('certs.rotated');
          return send({ type: 'certsApplied', serial: certs.serial, notAfter: certs.notAfter });
        }
        case 'recheckApp':
          status?.recheck();
          return undefined;
        case 'shutdown':
          await sidecar.close(msg.graceMs);
          return undefined;
        case 'bootstrap':
          return send({ type: 'log', level: 'warn', message: 'bootstrap received twice; ignored' });
      }
    },
    async close(graceMs = 2000) {
      if (draining) return;
      draining = true;
      status?.close();
      telemetry.close();
      const closed = [outbound, inbound?.server, admin].filter((s): s is http.Server | net.Server => !!s).map((s) => new Promise<void>((r) => s.close(() => r())));
      if (gatewayListeners) closed.push(gatewayListeners.drain());
      outbound.closeIdleConnections();
      http2Entry.close();
      inbound?.closeIdle();
      pool.close();
      appH2c.close();
      clearInterval(toxicSweep);
      resilience.close();
      const timer = new Promise<void>((r) => setTimeout(r, graceMs).unref());
      await Promise.race([Promise.all(closed), timer]);
      outbound.closeAllConnections();
      http2Entry.destroyAll();
      admin.closeAllConnections();
      gatewayListeners?.close();
      inbound?.destroyAll();
      pool.destroy();
      plaintextAgent.destroy();
      appAgent.destroy();
      appH2c.destroy();
      await Promise.race([Promise.all(closed), new Promise<void>((r) => setTimeout(r, 200).unref())]);
    },
  };
  send({ type: 'ready', workload, ports });
  status?.start();
  return sidecar;
}

/** The host an upgrade request names (proxy form or Host), for the tcp metrics' destination_service. */
function upgradeTarget(req: http.IncomingMessage): string | undefined {
  const url = req.url ?? '/';
  if (/^http:\/\//i.test(url)) {
    try { return new URL(url).hostname; } catch { return undefined; }
  }
  return req.headers.host?.replace(/:\d+$/, '');
}

function listen(server: net.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} on 127.0.0.1 is already in use`) : err);
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
