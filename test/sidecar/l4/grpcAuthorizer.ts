/**
 * A real gRPC external authorizer (envoy.service.auth.v3.Authorization/Check
 * on @grpc/grpc-js, served from the sidecar's own definition of the API,
 * security/extAuthzProto.ts): by default it allows a request or connection
 * whose source principal is in its list and denies the rest with
 * PERMISSION_DENIED (7) in the CheckResponse, as an OPA or a custom
 * authorizer would; a test may answer otherwise (also later, with a
 * promise). It keeps every CheckRequest it got, counts the Checks that
 * ended unanswered (cancelled by the client, or past their deadline) and the TCP connections it accepted
 * (a counting relay in front of the grpc-js server: grpc-js does not tell).
 */
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { extAuthzRoot } from '../../../simulator/sidecar/security/extAuthzProto';

interface Peer { address?: { socket_address?: { address: string; port_value: number } }; principal: string }
export interface SeenHttpRequest {
  id: string; method: string; headers: Record<string, string>; path: string; host: string; scheme: string; protocol: string; size: number; body?: string; raw_body?: Buffer;
}
export interface SeenCheck {
  attributes: { source?: Peer; destination?: Peer; tls_session?: { sni: string }; request?: { http?: SeenHttpRequest } };
}
/** A CheckResponse as grpc-js takes it (snake_case fields, as envoy.service.auth.v3 names them). */
export type CheckAnswer = Record<string, unknown>;

const loaded = protoLoader.fromJSON(extAuthzRoot().toJSON(), { keepCase: true, longs: Number, defaults: false });
const pkg = grpc.loadPackageDefinition(loaded) as unknown as { envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } } };

const byPrincipal = (allowed: string[]) => (check: SeenCheck): CheckAnswer => {
  const principal = check.attributes?.source?.principal ?? '';
  return allowed.includes(principal) ? { status: { code: 0 } } : { status: { code: 7, message: `principal "${principal}" is not allowed` } };
};

export interface GrpcAuthorizer {
  port: number;
  checks: SeenCheck[];
  /** TCP connections accepted so far. */
  connections: () => number;
  /** TCP connections open now. */
  open: () => number;
  /** Checks that ended before they were answered (the client cancelled them, or their deadline passed). */
  cancelled: () => number;
  /** Stops accepting and closes every connection (GOAWAY first, as grpc-js shuts down). */
  stop: () => Promise<void>;
}

/** `port`: listen there (a restarted authorizer on the port of the one before). */
export async function startGrpcAuthorizer(decide: string[] | ((check: SeenCheck) => CheckAnswer | Promise<CheckAnswer>), opts: { port?: number } = {}): Promise<GrpcAuthorizer> {
  const answer = Array.isArray(decide) ? byPrincipal(decide) : decide;
  const checks: SeenCheck[] = [];
  let cancelled = 0;
  const server = new grpc.Server();
  server.addService(pkg.envoy.service.auth.v3.Authorization.service, {
    Check(call: grpc.ServerUnaryCall<SeenCheck, unknown>, cb: grpc.sendUnaryData<unknown>) {
      checks.push(call.request);
      // grpc-js reports every call's end as 'cancelled'; one that ends before its answer was cancelled.
      let answered = false;
      call.once('cancelled', () => { if (!answered) cancelled += 1; });
      void Promise.resolve(answer(call.request)).then((a) => {
        if (call.cancelled) return;
        answered = true;
        cb(null, a);
      });
    },
  });
  const inner = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  // The relay: each client connection is one connection to grpc-js; either end closing closes the other.
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    connections += 1;
    clients.add(client);
    client.once('close', () => clients.delete(client));
    const upstream = net.connect({ host: '127.0.0.1', port: inner, noDelay: true });
    client.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => { sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (relay.address() as net.AddressInfo).port;
  return {
    port,
    checks,
    connections: () => connections,
    open: () => clients.size,
    cancelled: () => cancelled,
    stop: async () => {
      const closed = new Promise<void>((resolve) => relay.close(() => resolve()));
      // grpc-js sends GOAWAY and closes its sessions; a call still open is cut.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), 2000).unref();
        server.tryShutdown(() => { clearTimeout(timer); resolve(); });
      });
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
