/**
 * The devmesh chain for the gRPC benchmark, in one process as devmesh's
 * default (shared) layout runs its sidecars: caller `client-v1`'s sidecar
 * and service `bench-v1`'s sidecar, with the policies of the HTTP/1.1
 * benchmark (a VirtualService with a header match and a weighted subset
 * route, a ROUND_ROBIN DestinationRule, STRICT mTLS, an ALLOW policy on the
 * caller's principal). The service has two ports: 9080 (http, the HTTP/1.1
 * service) and 9090 (grpc-api, the grpc-js service).
 *
 * The app side of each path, as an app reaches it:
 * - HTTP/1.1: requests to the outbound listener with Host `bench:9080`;
 * - gRPC: a local upstream port for bench:9090, every connection accepted
 *   handed to the client sidecar's HTTP/2 entry (what the dispatcher does).
 *
 *   node out/bench/grpc/chain.js '{"httpPort":N,"grpcPort":M}'  ->  {"outbound":A,"upstream":B}
 */
import * as net from 'node:net';
import { createCa } from '../../simulator/control/ca';
import { startSidecar } from '../../simulator/sidecar/sidecar';
import { installAsyncBind } from '../../simulator/sidecar/upstream/asyncBind';
import { portsOf } from '../../simulator/sidecar/routing/servicePorts';
import { benchSnapshot, SERVICE_HOST } from '../dataplane/devmeshChain';
import { freePort } from '../dataplane/ports';

async function main(): Promise<void> {
  // As a sidecar process does (simulator/sidecar/main.ts).
  installAsyncBind();
  const { httpPort, grpcPort, observability } = JSON.parse(process.argv[2]) as { httpPort: number; grpcPort: number; observability?: boolean };
  const ports = async (n: number) => Promise.all(Array.from({ length: n }, () => freePort()));
  const snapshot = benchSnapshot(httpPort, { client: await ports(3), server: await ports(3), ingress: await ports(2) });
  const bench = snapshot.services.find((s) => s.name === SERVICE_HOST)!;
  bench.ports = [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'http' }, { name: 'grpc-api', port: 9090, targetPort: 9090, protocol: 'grpc' }];
  snapshot.workloads.find((w) => w.name === 'bench-v1')!.ports = { 9080: httpPort, 9090: grpcPort };
  const ca = createCa({ trustDomain: snapshot.trustDomain });
  // As `devmesh up` runs them: access-log lines kept for /access_log, not printed; 100 % trace sampling.
  const options = { sampling: 100, printAccessLog: false };
  const sidecars = await Promise.all(snapshot.workloads.map((w) => startSidecar({ type: 'bootstrap', workload: w.name, snapshot, certs: ca.issue(w.spiffeId), options }, { observability })));
  const client = sidecars[0];
  const destination = { service: bench, port: portsOf(bench).find((p) => p.port === 9090)! };
  const upstream = net.createServer((socket) => client.serveHttp2(socket, destination));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  process.stdout.write(`${JSON.stringify({ outbound: client.ports.outbound, upstream: (upstream.address() as net.AddressInfo).port })}\n`);
  const parent = process.ppid;
  setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
  // A clean exit on SIGTERM/SIGINT, so `node --cpu-prof` writes its profile (how this chain was profiled).
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0));
}

void main();
