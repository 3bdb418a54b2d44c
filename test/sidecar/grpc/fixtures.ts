/**
 * gRPC test parts, all real: @grpc/grpc-js servers as the apps behind the
 * sidecars, grpc-js clients as the callers, and the two ways an app's
 * connection reaches a sidecar's HTTP/2 entry — a local upstream port and a
 * CONNECT proxy (`grpc_proxy`) — as small listeners that hand each accepted
 * socket to `sidecar.serveHttp2`, the hook the dispatcher calls.
 */
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { MeshSpec, ServicePortSpec } from '../../../simulator/policy/model';
import type { ServiceInfo, ServicePortInfo } from '../../../simulator/protocol';
import { portsOf } from '../../../simulator/sidecar/routing/servicePorts';
import type { Sidecar, StartOptions } from '../../../simulator/sidecar/sidecar';
import { serviceForAuthority } from '../../../simulator/sidecar/tables';
import { startMeshFromSpec, type Policies, type TestMesh } from '../fixtures';

const PROTO = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'sidecar', 'grpc', 'echo.proto');

export interface EchoMessage {
  text?: string;
  payload?: Buffer;
  count?: number;
  workload?: string;
  metadata?: Record<string, string>;
}

type EchoClient = grpc.Client & {
  say(m: EchoMessage, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: EchoMessage) => void): grpc.ClientUnaryCall;
  watch(m: EchoMessage, md?: grpc.Metadata, o?: grpc.CallOptions): grpc.ClientReadableStream<EchoMessage>;
  collect(md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: EchoMessage) => void): grpc.ClientWritableStream<EchoMessage>;
  chat(md?: grpc.Metadata, o?: grpc.CallOptions): grpc.ClientDuplexStream<EchoMessage, EchoMessage>;
};

/** What every server-side call shares (grpc-js's ServerSurfaceCall, not exported). */
type ServerSurfaceCall = Pick<grpc.ServerUnaryCall<unknown, unknown>, 'metadata' | 'getDeadline' | 'sendMetadata' | 'getHost'> & { on(event: 'cancelled', cb: () => void): unknown };

const loaded = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
const pkg = grpc.loadPackageDefinition(loaded) as unknown as { devmesh: { test: { Echo: grpc.ServiceClientConstructor } } };
export const EchoService = pkg.devmesh.test.Echo;

/** No limit on message sizes either way (grpc-js receives 4 MB by default). */
export const UNLIMITED: grpc.ChannelOptions = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };

/** What a gRPC echo app saw. */
export interface AppLog {
  /** `deadline`: what grpc-js made of the grpc-timeout it received (epoch ms), `at`: when the call arrived. */
  calls: Array<{ method: string; metadata: Record<string, string>; deadline?: number; at: number }>;
  cancelled: number;
  /** Fired when a server stream's write had to wait for the client (flow control reached the app): the message index. */
  events: EventEmitter;
}

/**
 * A grpc-js server answering the Echo service as `name`. Each call may ask,
 * in its metadata, for `fail-with: <code>` (an error status with a message
 * and binary metadata), `sleep-ms: <n>` (before answering; between streamed
 * messages) or `hang: 1` (never answer) — of every workload, or with
 * `only-on: <workload,...>` of the ones named. Answers carry the workload, the
 * metadata received, `x-served-by` in the headers and `x-checksum-bin` in
 * the trailers.
 */
export async function grpcEchoApp(name: string): Promise<{ port: number; log: AppLog; close(): void }> {
  const log: AppLog = { calls: [], cancelled: 0, events: new EventEmitter() };
  const server = new grpc.Server(UNLIMITED);
  const seen = (method: string, call: ServerSurfaceCall) => {
    const md: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) md[k] = Buffer.isBuffer(v) ? `b64:${v.toString('base64')}` : String(v);
    md[':authority'] = call.getHost();
    if (md['only-on'] !== undefined && !md['only-on'].split(',').includes(name)) {
      delete md['fail-with'];
      delete md['fail-after'];
      delete md.hang;
      delete md['sleep-ms'];
    }
    const deadline = call.getDeadline();
    log.calls.push({ method, metadata: md, at: Date.now(), deadline: deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? Number(deadline) : undefined });
    call.on('cancelled', () => { log.cancelled++; log.events.emit('cancelled', method); });
    return md;
  };
  const trailers = () => {
    const t = new grpc.Metadata();
    t.set('x-checksum-bin', Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    t.set('x-trailer', 'end');
    return t;
  };
  const failure = (md: Record<string, string>): grpc.ServiceError | undefined => {
    if (md['fail-with'] === undefined) return undefined;
    const m = new grpc.Metadata();
    m.set('why-bin', Buffer.from([1, 2, 3, 0xff]));
    return Object.assign(new Error('failed on purpose: ünïcode 100%'), { code: Number(md['fail-with']), details: 'failed on purpose: ünïcode 100%', metadata: m });
  };
  const headers = (call: ServerSurfaceCall) => {
    const h = new grpc.Metadata();
    h.set('x-served-by', name);
    call.sendMetadata(h);
  };
  const sleep = (md: Record<string, string>) => new Promise((r) => setTimeout(r, Number(md['sleep-ms'] ?? 0)));
  server.addService(EchoService.service, {
    say: async (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) => {
      const md = seen('Say', call);
      if (md.hang) return;
      await sleep(md);
      const err = failure(md);
      if (err) return cb(err);
      headers(call);
      cb(null, { text: call.request.text, payload: call.request.payload, count: call.request.payload?.length ?? 0, workload: name, metadata: md }, trailers());
    },
    watch: async (call: grpc.ServerWritableStream<EchoMessage, EchoMessage>) => {
      const md = seen('Watch', call);
      const err = failure(md);
      // grpc-js sends a server stream's error status on its 'error' event; `call.destroy(err)` would
      // end the stream object without ever writing the status, leaving the call open for good.
      if (err && md['fail-after'] === undefined) return void call.emit('error', err);
      headers(call);
      let stopped = false;
      call.on('cancelled', () => { stopped = true; });
      for (let i = 0; md.hang ? !stopped : i < (call.request.count ?? 0); i++) {
        if (md['sleep-ms']) await sleep(md);
        if (stopped) return;
        if (err && i === Number(md['fail-after'])) return void call.emit('error', err);
        // Back-pressure: wait for the stream to drain rather than buffer without bound.
        if (!call.write({ text: String(i), payload: call.request.payload, workload: name })) {
          log.events.emit('blocked', i);
          await new Promise((r) => call.once('drain', r));
        }
      }
      if (!stopped) call.end(trailers());
    },
    collect: (call: grpc.ServerReadableStream<EchoMessage, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) => {
      const md = seen('Collect', call);
      let count = 0;
      let bytes = 0;
      call.on('data', (m: EchoMessage) => { count++; bytes += m.payload?.length ?? 0; });
      call.on('end', () => cb(null, { count, text: String(bytes), workload: name, metadata: md }, trailers()));
    },
    chat: (call: grpc.ServerDuplexStream<EchoMessage, EchoMessage>) => {
      seen('Chat', call);
      call.on('data', (m: EchoMessage) => call.write({ text: `re: ${m.text}`, payload: m.payload, workload: name }));
      call.on('end', () => call.end(trailers()));
    },
  } as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, log, close: () => server.forceShutdown() };
}

/** A grpc-js client of the Echo service at `address`, over a plaintext channel (the mesh adds mTLS on the hop). */
export function echoClient(address: string, options: grpc.ChannelOptions = {}): EchoClient {
  return new EchoService(address, grpc.credentials.createInsecure(), { ...UNLIMITED, ...options }) as unknown as EchoClient;
}

/** A unary call as a promise: the answer, the headers and trailers the client received. */
export function say(client: EchoClient, m: EchoMessage, md: Record<string, string | Buffer> = {}, options: grpc.CallOptions = {}): Promise<{ reply: EchoMessage; headers: grpc.Metadata; trailers: grpc.Metadata }> {
  return new Promise((resolve, reject) => {
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(md)) metadata.set(k, v);
    let headers = new grpc.Metadata();
    let trailers = new grpc.Metadata();
    let reply: EchoMessage | undefined;
    let error: grpc.ServiceError | null = null;
    const call = client.say(m, metadata, options, (e, r) => { error = e; reply = r; });
    call.on('metadata', (h: grpc.Metadata) => { headers = h; });
    call.on('status', (s: grpc.StatusObject) => {
      trailers = s.metadata;
      if (error) reject(error);
      else resolve({ reply: reply!, headers, trailers });
    });
  });
}

/** The status a call ended with (rejects never: an error status is the answer). */
export async function statusOf(p: Promise<unknown>): Promise<{ code: number; details: string; metadata?: grpc.Metadata }> {
  try {
    await p;
    return { code: grpc.status.OK, details: '' };
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { code: err.code, details: err.details, metadata: err.metadata };
  }
}

/**
 * A local upstream port for one service port: every connection accepted is
 * handed to the sidecar's HTTP/2 entry with that destination.
 */
export async function upstreamPort(sidecar: Sidecar, target: { host: string; port: number }): Promise<{ port: number; close(): void }> {
  const destination = destinationOf(sidecar, target.host, target.port);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    sidecar.serveHttp2(socket, destination);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}

/** The service port a host:port names, as the dispatcher resolves it with the sidecar's tables. */
export function destinationOf(sidecar: Sidecar, host: string, port: number): { service: ServiceInfo; port: ServicePortInfo } {
  const service = serviceForAuthority(sidecar.tables(), host);
  if (!service) throw new Error(`no service ${host}`);
  const servicePort = portsOf(service).find((p) => p.port === port);
  if (!servicePort) throw new Error(`service ${host} has no port ${port}`);
  return { service, port: servicePort };
}

/** An HTTP CONNECT proxy in front of the entry, what `grpc_proxy` points a grpc-js client at. */
export async function connectProxy(sidecar: Sidecar, targets: string[] = []): Promise<{ port: number; targets: string[]; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => { res.statusCode = 405; res.end(); });
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    targets.push(req.url ?? '');
    const m = /^(.+):(\d+)$/.exec(req.url ?? '');
    if (!m) return socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    let destination;
    try {
      destination = destinationOf(sidecar, m[1], Number(m[2]));
    } catch (e) {
      return socket.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n`);
    }
    sidecar.serveHttp2(socket, destination, head);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, targets, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}

/** Collects a server stream's messages and how it ended. */
export function drain<T>(stream: grpc.ClientReadableStream<T>): Promise<{ messages: T[]; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const messages: T[] = [];
    stream.on('data', (m: T) => messages.push(m));
    stream.on('error', () => undefined);
    stream.on('status', (status: grpc.StatusObject) => resolve({ messages, status }));
  });
}

export interface GrpcMesh {
  mesh: TestMesh;
  /** What each gRPC app saw, by workload. */
  apps: Map<string, AppLog>;
  /** CONNECT targets the proxies of `client({ via: 'connect' })` were asked for. */
  connects: string[];
  /** A client of `ratings:9090` from productpage-v1, through a local upstream port (or a CONNECT proxy). */
  client(options?: { via?: 'upstream' | 'connect'; host?: string; port?: number; channel?: grpc.ChannelOptions }): Promise<EchoClient>;
  close(): Promise<void>;
}

/**
 * productpage (HTTP) calling `ratings` on its gRPC port 9090, served by
 * grpc-js echo apps named after the given workloads (`ratings-v1` by
 * default, labels app + version from the name).
 */
export async function grpcMesh(opts: { workloads?: string[]; policies?: Policies; port?: ServicePortSpec; app?: (workload: string) => Promise<{ port: number; log?: AppLog; close(): void }>; sidecar?: StartOptions } = {}): Promise<GrpcMesh> {
  const apps = new Map<string, AppLog>();
  const names = opts.workloads ?? ['ratings-v1'];
  const spec: MeshSpec = {
    services: [
      { name: 'productpage', port: 9080, workloads: [{ name: 'productpage-v1', port: 1 }] },
      {
        name: 'ratings',
        ports: [opts.port ?? { name: 'grpc-api', port: 9090 }],
        workloads: names.map((n) => ({ name: n, labels: { app: 'ratings', version: n.slice(n.lastIndexOf('-') + 1) }, ports: { [String(opts.port?.targetPort ?? opts.port?.port ?? 9090)]: 1 } })),
      },
    ],
  };
  const mesh = await startMeshFromSpec(spec, opts.policies ?? {}, {
    ...opts.sidecar,
    app: async (w, key) => {
      if (!w.startsWith('ratings')) return undefined;
      const app = await (opts.app ?? grpcEchoApp)(w);
      if (app.log) apps.set(w, app.log);
      void key;
      return app;
    },
  });
  const listeners: Array<{ close(): void }> = [];
  const clients: grpc.Client[] = [];
  const connects: string[] = [];
  return {
    mesh,
    apps,
    connects,
    async client(o = {}) {
      const sidecar = mesh.sidecars.get('productpage-v1')!;
      const host = o.host ?? 'ratings';
      const port = o.port ?? 9090;
      let client: EchoClient;
      if (o.via === 'connect') {
        const proxy = await connectProxy(sidecar, connects);
        listeners.push(proxy);
        // grpc-js reads grpc_proxy when the channel is made, then sends CONNECT host:port with the unresolved name.
        client = withEnv({ grpc_proxy: `http://127.0.0.1:${proxy.port}` }, () => echoClient(`${host}:${port}`, o.channel));
      } else {
        const local = await upstreamPort(sidecar, { host, port });
        listeners.push(local);
        client = echoClient(`127.0.0.1:${local.port}`, o.channel);
      }
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.close();
      for (const l of listeners) l.close();
      await mesh.close();
    },
  };
}

/** Runs `fn` with environment variables set, as an app started with them would see them. */
export function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(old)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}
