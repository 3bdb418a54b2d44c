/**
 * A real gRPC external authorizer (envoy.service.auth.v3.Authorization/Check
 * on @grpc/grpc-js, from ext_authz.proto): it allows a connection whose
 * source principal is in its list and denies the rest with PERMISSION_DENIED
 * (7) in the CheckResponse, as an OPA or a custom authorizer would. It keeps
 * every CheckRequest it got.
 */
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'sidecar', 'l4', 'ext_authz.proto');

interface Peer { address?: { socket_address?: { address: string; port_value: number } }; principal: string }
export interface SeenCheck {
  attributes: { source?: Peer; destination?: Peer; tls_session?: { sni: string }; request?: unknown };
}

const loaded = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: false });
const pkg = grpc.loadPackageDefinition(loaded) as unknown as { envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } } };

export async function startGrpcAuthorizer(allowed: string[]): Promise<{ port: number; checks: SeenCheck[]; stop: () => Promise<void> }> {
  const checks: SeenCheck[] = [];
  const server = new grpc.Server();
  server.addService(pkg.envoy.service.auth.v3.Authorization.service, {
    Check(call: grpc.ServerUnaryCall<SeenCheck, unknown>, cb: grpc.sendUnaryData<unknown>) {
      checks.push(call.request);
      const principal = call.request.attributes?.source?.principal ?? '';
      cb(null, allowed.includes(principal) ? { status: { code: 0 } } : { status: { code: 7, message: `principal "${principal}" is not allowed` } });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { port, checks, stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}
