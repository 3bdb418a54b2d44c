/**
 * A real gRPC external authorizer (envoy.service.auth.v3.Authorization/Check
 * on @grpc/grpc-js, served from the sidecar's own definition of the API,
 * security/extAuthzProto.ts): by default it allows a request or connection
 * whose source principal is in its list and denies the rest with
 * PERMISSION_DENIED (7) in the CheckResponse, as an OPA or a custom
 * authorizer would; a test may answer otherwise. It keeps every
 * CheckRequest it got.
 */
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

export async function startGrpcAuthorizer(decide: string[] | ((check: SeenCheck) => CheckAnswer)): Promise<{ port: number; checks: SeenCheck[]; stop: () => Promise<void> }> {
  const answer = Array.isArray(decide) ? byPrincipal(decide) : decide;
  const checks: SeenCheck[] = [];
  const server = new grpc.Server();
  server.addService(pkg.envoy.service.auth.v3.Authorization.service, {
    Check(call: grpc.ServerUnaryCall<SeenCheck, unknown>, cb: grpc.sendUnaryData<unknown>) {
      checks.push(call.request);
      cb(null, answer(call.request));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { port, checks, stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}
