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
import type * as tls from 'node:tls';
import type { Certificates, ControlMessage, SidecarMessage, BootstrapOptions } from '../protocol';
import { AccessLog, rowOf, type AccessLogSink } from './accessLog';
import { clusterChain, inboundChain, inboundL4Chain, inboundUpgradeChain, outboundChain, outboundL4Chain, outboundUpgradeChain, type OutboundDeps, type SecurityDeps } from './chains';
import type { Source } from './context';
import type { Exchange } from './downstream';
import { createAdminServer } from './listeners/admin';
import { createInboundListener, type InboundListener } from './listeners/inbound';
import { createOutboundServer, pinAuthority, sourceOf, verifiedClientPrincipal } from './listeners/outbound';
import { onConnect } from './listeners/connect';
import { dispatcher, type ConnectAnswer, type ConnectionHandler } from './listeners/dispatch';
import { createHttp2Entry, type ServeHttp2 } from './listeners/http2Entry';
import { GatewayListeners } from './listeners/gatewayListeners';
import { upstreamEntries, upstreamListeners } from './listeners/upstreams';
import { TcpListeners } from './listeners/tcpListeners';
import { TlsTerminator } from './listeners/tlsChains';
import { ISTIO_INGRESS_GATEWAY } from '../policy/gateway-tls';
import type { L4Error, L4Exchange } from './l4/context';
import { newL4Context, type L4Observer } from './l4/connection';
import { l4EntryOf } from './l4/accessLog';
import { passthrough } from './l4/passthrough';
import { CONNECTION_ID_HEADER } from './l4/toPeer';
import { newLbStats } from './routing/loadBalancer';
import { ResilienceState } from './resilience/state';
import { JwksStore } from './security/jwksStore';
import { Stats } from './stats';
import type { ProxyRole } from './filters/route';
import { isEgressGateway } from '../policy/egress-gateway';
import { DEFAULT_TCP_TUNNEL } from '../policy/model';
import { StatusReporter } from './status';
import { SidecarTelemetry } from './telemetry';
import { compileTables, type MeshTables } from './tables';
import { proxyConfigOf } from './proxyConfig';
import { authzCaller } from './upstream/authzCall';
import { AuthzGrpcSessions, grpcAuthzCaller } from './upstream/authzGrpcCall';
import { isMixedTlsPort, mixedPortChain } from './routing/mixedTlsPort';
import { peekClientHello, SNIFF_TIMEOUT_MS } from './listeners/sniff';
import { H2Pool } from './upstream/h2Pool';
import { H2cPool } from './upstream/h2cPool';
import { newKeepAliveAgent } from './upstream/http1';
import { AppConnections } from './upstream/appClient';

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
  const closeNotify = () => stats.inc('upstream_cx_close_notify');
  let pool = new H2Pool(certs, closeNotify);
  const plaintextAgent = newKeepAliveAgent();
  const appAgent = newKeepAliveAgent();
  const appConnections = new AppConnections();
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
    // A Telemetry that turns this side's access log off: no entry anywhere, but the span still carries the hop's records.
    const logged = e.ctx.tables.telemetry.accessLog[listener === 'inbound' ? 'server' : 'client'];
    const row = logged ? accessLog.record(listener, e) : rowOf(listener, e);
    if (observe) telemetry.exchange(listener, e, row, logged);
  };

  // The egress gateway is a workload whose outbound listener is its gateway listener (egress-gateway.ts).
  const egressGateway = tables.self !== null && isEgressGateway(tables.self);
  const role: ProxyRole = workload === null ? 'ingress' : egressGateway ? 'egress' : 'sidecar';
  const outboundName = role === 'ingress' ? 'ingress' : 'outbound';
  const outboundDeps: OutboundDeps = { role, random, lb, pool: () => pool, plaintextAgent, stats, sampling, observe, resilience, log, onEject: (m) => { log('warn', m); status?.poke(); }, credentials: () => certs.credentials };
  // The cluster part serves the app's calls and the calls to external authorizers in the mesh.
  const cluster = clusterChain(outboundDeps);
  // The HTTP and the network ext_authz (CUSTOM on TCP) ask gRPC authorizers through the same cluster part.
  // One HTTP/2 session per local gRPC authorizer, as Envoy keeps one connection per ext_authz cluster.
  const authzSessions = new AuthzGrpcSessions();
  const authzCall = grpcAuthzCaller({ cluster, sessions: authzSessions });
  const security: SecurityDeps = { jwks: new JwksStore({ log }), authzCall: authzCaller({ cluster, agent: plaintextAgent }), grpcAuthzCall: authzCall, now: opts.now };
  const outboundHandler = outboundChain({ ...outboundDeps, security }, cluster);
  const outbound = createOutboundServer({ tables: getTables, handler: outboundHandler, onDone: done(outboundName) });
  // HTTP/2 connections from the app (CONNECT tunnels, local upstream ports): each stream runs the same outbound chain.
  const http2Entry = createHttp2Entry({ tables: getTables, handler: outboundHandler, onDone: done(outboundName), stats, log });
  // The ingress also serves each Gateway API Gateway's listener ports, through the same chain.
  const gatewayListeners = role === 'ingress'
    ? new GatewayListeners({ tables: getTables, handler: outboundHandler, onDone: done('ingress') }, getCerts, (level, message) => void opts.send?.({ type: 'log', level, message }), (info) => ({
      // An Istio HTTPS port that also has TLS servers (passthrough, or terminated for tcp[]): the server name picks the chain, as Envoy's filter chain match does.
      chain: (sni) => {
        const t = getTables();
        if (!isMixedTlsPort(t, info.port)) return 'terminate';
        const chain = mixedPortChain(t, info.port, sni);
        return chain === 'https' ? 'terminate' : chain;
      },
      route: (socket, chain) => routeTlsChain(socket, info.port, chain),
    }))
    : undefined;

  // TCP connections (L4): every one is observed once when accepted and once when over.
  const l4Live = observe ? telemetry.connections : new Set<L4Exchange>();
  const l4Observer: L4Observer = {
    live: l4Live,
    opened: (e) => {
      stats.inc(`${e.ctx.listener}.tcp.cx_total`);
      if (observe) telemetry.connectionOpened(e);
    },
    done: (e) => {
      stats.inc(e.connected ? `${e.ctx.listener}.tcp.cx_closed` : `${e.ctx.listener}.tcp.cx_failed`);
      // tcp_proxy's idle_timeout stat: closed by the proxy after idleTimeoutMs with no bytes either way.
      if (e.ctx.idleTimedOut) stats.inc(`${e.ctx.listener}.tcp.idle_timeout`);
      const logged = e.ctx.tables.telemetry.accessLog[e.ctx.listener === 'inbound' ? 'server' : 'client'];
      const row = logged ? accessLog.push(l4EntryOf(e)) : undefined;
      if (observe) telemetry.connectionDone(e, row);
    },
  };
  /** How an app's CONNECT is answered from an L4 outcome: 200 once connected, else the error's status. */
  const answerOf = (answer: ConnectAnswer | undefined) => answer
    ? { accept: answer.accept, refuse: (err: L4Error) => answer.refuse(err.status ?? (err.flag === 'NR' || err.flag === 'NC' ? 502 : 503), err.reason, err.message) }
    : {};
  const tunnel = { pool: () => pool, certs: getCerts, transport: options.tcpTunnel ?? DEFAULT_TCP_TUNNEL, credentials: () => certs.credentials } as const;
  const outboundL4 = outboundL4Chain({ role: 'sidecar', random, lb, resilience, log, stats, tunnel, authzCall });
  const l4Connection: ConnectionHandler = (socket, destination) => {
    const t = getTables();
    const ctx = newL4Context(t, 'outbound', socket, sourceOf(t, socket.remoteAddress), l4Observer, answerOf(destination.answer));
    ctx.destination = { service: destination.service, port: destination.port, authority: destination.authority };
    outboundL4(ctx);
  };
  // The dispatcher: a connection to one service port goes where the port's protocol says (dispatch.ts).
  const dispatch = dispatcher({
    http1: (socket, destination) => {
      pinAuthority(socket, destination.authority);
      outbound.emit('connection', socket);
      socket.resume();
    },
    // HTTP/2 with prior knowledge inside the socket (gRPC clients): every stream through the outbound chain (http2Entry.ts).
    http2: (socket, destination) => http2Entry.serve(socket, destination),
    l4: l4Connection,
  });
  /** A connection refused before it reached any chain (bad CONNECT target, an upstream whose service is gone): logged as one. */
  const refuseConnection = (socket: net.Socket, err: L4Error, answer?: ConnectAnswer) => {
    const t = getTables();
    newL4Context(t, 'outbound', socket, sourceOf(t, socket.remoteAddress), l4Observer, answerOf(answer)).fail(err);
  };
  if (role === 'sidecar') {
    outbound.on('connect', onConnect({
      tables: getTables,
      dispatch,
      passthrough: (socket, host, port, answer) => {
        const t = getTables();
        passthrough(newL4Context(t, 'outbound', socket, sourceOf(t, socket.remoteAddress), l4Observer, answerOf(answer)), host, port);
      },
      blackhole: (socket, target, answer) => {
        const t = getTables();
        const ctx = newL4Context(t, 'outbound', socket, sourceOf(t, socket.remoteAddress), l4Observer, answerOf(answer));
        ctx.blackhole = `${target.host}:${target.port}`;
        // Envoy's BlackHoleCluster has no endpoint: tcp_proxy closes the connection with UH.
        ctx.fail({ flag: 'UH', status: 502, reason: 'registry-only', message: `${target.host}:${target.port} is not in the service registry and the outbound traffic policy is REGISTRY_ONLY (${target.source}); declare it with a ServiceEntry` });
      },
      refused: (socket, err, answer) => refuseConnection(socket, { flag: 'NR', ...err }, answer),
    }));
  }
  // The ingress: a Gateway server of protocol TCP is a listener of its own on 127.0.0.1:<server port>.
  const ingressL4 = outboundL4Chain({ role: 'ingress', random, lb, resilience, log, stats, tunnel, authzCall });
  const routeGatewayConnection = (socket: net.Socket, target: { port: number; gateways: string[]; tls?: boolean }) => {
    const t = getTables();
    const source = sourceOf(t, socket.remoteAddress);
    // A terminated TLS server: the client certificate it verified names the client for AuthorizationPolicy, and its server name is connection.sni.
    const clientPrincipal = verifiedClientPrincipal(socket);
    if (clientPrincipal) source.clientPrincipal = clientPrincipal;
    const ctx = newL4Context(t, 'ingress', socket, source, l4Observer);
    ctx.gateway = { names: target.gateways, port: target.port, tls: target.tls };
    const servername = (socket as Partial<tls.TLSSocket>).servername;
    if (typeof servername === 'string') ctx.sni = servername;
    ingressL4(ctx);
  };
  // A TLS server that terminates: the handshake with its certificates (SNI picks the server, as for HTTPS), then the decrypted stream routes as TCP.
  const terminators = new Map<string, TlsTerminator>();
  const terminateTls = (socket: net.Socket, target: { port: number; gateways: string[]; terminate: true }, peeked = false) => {
    // One terminator per (port, Gateways): a config that changes the Gateways reopens the port with a new target.
    const key = JSON.stringify(target);
    let port = terminators.get(key);
    if (!port) {
      for (const k of terminators.keys()) if ((JSON.parse(k) as { port: number }).port === target.port) terminators.delete(k);
      terminators.set(key, (port = new TlsTerminator(() => getCerts().listeners?.[`${ISTIO_INGRESS_GATEWAY}:${target.port}`] ?? [], {
        secure: (clear) => routeGatewayConnection(clear, target),
        refused: (why) => log('warn', `Istio Gateway TLS server port ${target.port}: ${why}`),
      })));
    }
    port.accept(socket, peeked);
  };
  /** A connection a mixed port's server name gave to a TLS chain: passed through by tls[], or terminated and routed by tcp[]. */
  const routeTlsChain = (socket: net.Socket, port: number, chain: 'passthrough' | 'tcp') => {
    const t = getTables();
    if (chain === 'passthrough') return routeGatewayConnection(socket, { port, gateways: t.gatewayTlsPorts.get(port) ?? [], tls: true });
    terminateTls(socket, { port, gateways: t.gatewayTcpPorts.get(port) ?? [], terminate: true }, true);
  };
  type GatewayPortTarget = { port: number; gateways: string[]; tls?: boolean; terminate?: boolean; passthrough?: string[] };
  const gatewayPorts = new TcpListeners<GatewayPortTarget>((socket, target) => {
    // A port with TLS servers that terminate and passthrough ones: the ClientHello's server name picks the chain (routing/mixedTlsPort.ts).
    if (target.passthrough) {
      return peekClientHello(socket, SNIFF_TIMEOUT_MS, (sni) => {
        const chain = mixedPortChain(getTables(), target.port, sni);
        if (chain === 'tcp' || chain === 'passthrough') return routeTlsChain(socket, target.port, chain);
        log('warn', `Istio Gateway TLS server port ${target.port}: no server of this port takes ${sni ? `the server name "${sni}"` : 'a ClientHello without a server name'}; connection closed`);
        socket.destroy();
      });
    }
    if (!target.terminate) return routeGatewayConnection(socket, target);
    terminateTls(socket, { port: target.port, gateways: target.gateways, terminate: true });
  }, log);
  const gatewayEntries = (t: MeshTables): { port: number; target: GatewayPortTarget; describe: string }[] => {
    if (role !== 'ingress') return [];
    // A port with servers terminating HTTPS is the HTTPS listener's, which splits by server name.
    const https = new Set((t.snapshot.ingress.listeners ?? []).filter((l) => l.istio).map((l) => l.port));
    const split = (port: number) => t.gatewayTerminatedTcpPorts.has(port) && t.gatewayTlsPorts.has(port);
    return [
      ...[...t.gatewayTcpPorts].filter(([port]) => !split(port) && !(https.has(port) && t.gatewayTerminatedTcpPorts.has(port))).map(([port, gateways]) => (t.gatewayTerminatedTcpPorts.has(port)
        ? { port, target: { port, gateways, terminate: true }, describe: `Gateway ${gateways.join(', ')} TLS server port ${port} (terminated, routed by tcp[])` }
        : { port, target: { port, gateways }, describe: `Gateway ${gateways.join(', ')} TCP server port ${port}` })),
      ...[...t.gatewayTlsPorts].filter(([port]) => !https.has(port)).map(([port, gateways]) => (split(port)
        ? { port, target: { port, gateways: t.gatewayTcpPorts.get(port) ?? [], passthrough: gateways }, describe: `Gateway ${[...new Set([...(t.gatewayTcpPorts.get(port) ?? []), ...gateways])].join(', ')} TLS server port ${port} (terminated for tcp[] and passed through by tls[], split by server name)` }
        : { port, target: { port, gateways, tls: true }, describe: `Gateway ${gateways.join(', ')} TLS passthrough server port ${port}` })),
    ];
  };
  const upstreams = upstreamListeners({
    tables: getTables,
    dispatch,
    unresolved: (socket, u) => refuseConnection(socket, { flag: 'NR', reason: 'unknown-upstream', message: `upstream ${u.localPort} leads to ${u.service}:${u.port}, which the config no longer has` }),
    log,
  });
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
    const inboundL4 = inboundL4Chain({ stats, log, authzCall, egressGateway: egressGateway ? outboundL4Chain({ role: 'egress', random, lb, resilience, log, stats, tunnel, authzCall }) : undefined });
    inbound = createInboundListener({
      tables: getTables,
      handler: inboundChain({ appAgent, appConnections, appH2c: () => appH2c, stats, log, sampling, random, observe, security, egressGateway }),
      onDone: done('inbound'),
      certs,
      stats,
      onTunnel: (tunnel) => {
        const ctx = newL4Context(getTables(), 'inbound', tunnel.stream, tunnel.source, l4Observer, tunnel.ends);
        ctx.mtls = tunnel.source.spiffeId !== undefined;
        ctx.requested = tunnel.authority;
        ctx.tunnelHeaders = tunnel.headers;
        const id = tunnel.headers[CONNECTION_ID_HEADER];
        if (typeof id === 'string') ctx.id = id;
        if (tunnel.port) ctx.inbound = tunnel.port;
        inboundL4(ctx);
      },
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
      tcpListeners: { upstreams: upstreams.ports, gateway: gatewayPorts.ports }, tcpConnections: l4Live.size,
      // What `devmesh proxy-config` prints: this sidecar's listeners, routes, clusters, endpoints and secrets now.
      proxyConfig: proxyConfigOf(tables, { ports, outlier: (c, h) => resilience.outlierOf(c, h), certs, now: resilience.now() }),
    }),
    routes: { '/clusters': () => resilience.clusters(), '/rules': () => Object.fromEntries(telemetry.ruleTotals) },
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
    await upstreams.sync(upstreamEntries(self?.upstreams));
    // A Gateway port that cannot be bound is logged; the rest of the ingress serves on.
    await gatewayPorts.sync(gatewayEntries(tables)).catch(() => undefined);
  } catch (err) {
    for (const s of [admin, outbound, inbound?.server]) s?.close();
    await Promise.all([upstreams.close(true), gatewayPorts.close(true)]);
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
            // Upstreams added or dropped by a Mesh edit: their listeners open or close (connections in progress finish).
            upstreams.sync(upstreamEntries(next.self?.upstreams)).catch((err: Error) => log('warn', err.message));
            gatewayPorts.sync(gatewayEntries(next)).catch(() => undefined);
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
          pool = new H2Pool(certs, closeNotify);
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
      const upstreamsClosed = Promise.all([upstreams.close(), gatewayPorts.close()]);
      pool.close();
      appH2c.close();
      authzSessions.close();
      clearInterval(toxicSweep);
      resilience.close();
      const timer = new Promise<void>((r) => setTimeout(r, graceMs).unref());
      await Promise.race([Promise.all([...closed, upstreamsClosed]), timer]);
      // TCP connections still open are cut (Envoy's drain ends them too).
      for (const e of l4Live) e.ctx.downstream.destroy();
      await Promise.all([upstreams.close(true), gatewayPorts.close(true)]);
      outbound.closeAllConnections();
      http2Entry.destroyAll();
      admin.closeAllConnections();
      gatewayListeners?.close();
      inbound?.destroyAll();
      pool.destroy();
      plaintextAgent.destroy();
      appAgent.destroy();
      appConnections.destroy();
      appH2c.destroy();
      authzSessions.destroy();
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
      // The port rides along: the control plane moves an unpinned one and boots this sidecar again.
      reject(err.code === 'EADDRINUSE' ? Object.assign(new Error(`port ${port} on 127.0.0.1 is already in use`), { code: err.code, port }) : err);
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
