/**
 * The Gateway API mesh conformance suite, run as data (conformance/tests.yaml):
 * each test's manifests, exactly as the suite writes them, are validated
 * with the Mesh (no errors, every route Accepted), pushed to a mesh of real
 * sidecars on 127.0.0.1, and each request goes from the test's mesh client
 * through its sidecar to the echo workloads, which say who answered and
 * what they received. Expected backend, status, response headers, headers
 * at the backend and redirect Location are compared as the suite compares
 * them; the weight tests count 500 requests per backend and allow ±0.05 of
 * the expected share, as weight.TestWeightedDistributionBatch does.
 *
 * The GRPCRoute tests make real gRPC calls: a @grpc/grpc-js client in the
 * mesh client's workload reaches its sidecar through a CONNECT proxy
 * (`grpc_proxy`, as the gRPC libraries use it) and calls `echo:7070`; each
 * call is routed by the GRPCRoute and answered by a grpc-js echo server on
 * the workloads' container port 7070, which says who answered and the
 * metadata it received.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { resolvePolicies, Workspace, type MeshSpec, type Resource } from '../../../simulator/policy';
import { seededRandom } from '../../../simulator/random';
import { startMeshFromSpec, type EchoBody, type Policies, type Reply, type TestMesh } from '../fixtures';
import { connectProxy, echoClient, grpcEchoApp, say, statusOf, withEnv } from '../grpc/fixtures';

const DIR = path.join(__dirname, '..', '..', '..', '..', 'test', 'sidecar', 'gateway-api', 'conformance');
const read = (f: string) => readFileSync(path.join(DIR, f), 'utf8');

interface Request { host?: string; pod?: string; port?: number; method?: string; path?: string; headers?: Record<string, string>; protocol?: 'grpc' }
interface Case {
  client?: string;
  request: Request;
  status?: number;
  backend?: string;
  location?: string;
  response?: { headers?: Record<string, string>; absentHeaders?: string[] };
  expectedRequest?: { path?: string; headers?: Record<string, string>; absentHeaders?: string[] };
}
interface ConformanceTest {
  name: string;
  source: string;
  manifests: string[];
  protocol?: 'grpc';
  cases: Case[];
  weights?: { request: Request; requests: number; tolerance: number; expected: Record<string, number> };
}

const TESTS: ConformanceTest[] = parse(read('tests.yaml'), { merge: true });

/** The Mesh plus a test's manifests, through the validator: the resources to run, and every problem it found. */
function validated(manifests: string[]): { spec: MeshSpec; resources: Resource[]; errors: string[] } {
  const ws = new Workspace();
  ws.setFile('mesh.yaml', read('mesh.yaml'));
  for (const m of manifests) ws.setFile(m, read(path.join('manifests', m)));
  // Errors, and any route status problem short of a note (a weight-0 backend that does not exist is one).
  const errors = ws.diagnostics().filter((d) => d.severity === 'error' || (d.code.startsWith('route-') && d.severity !== 'info')).map((d) => `${d.file}: ${d.code}: ${d.message}`);
  const resolved = resolvePolicies(ws);
  assert.ok(resolved, 'the Mesh resolves');
  return { spec: resolved.mesh, resources: Object.values(resolved.resources).flat(), errors };
}

function target(mesh: TestMesh, r: Request): string {
  if (r.pod) {
    const w = mesh.snapshot.workloads.find((x) => x.name === r.pod)!;
    return `127.0.0.1:${w.ports?.[String(r.port)] ?? w.appPort}`;
  }
  return r.host ?? 'echo';
}

/** What a request brought back, HTTP or gRPC alike: what the suite's echo client reports. */
interface Observed {
  /** HTTP status; a gRPC call's is 200 for OK, as the suite maps it, else `grpc-status <code>`. */
  status: number | string;
  /** The workload that answered. */
  backend?: string;
  location?: string;
  responseHeader(name: string): string | undefined;
  /** The path the backend saw (HTTP). */
  path?: string;
  /** Every value of a request header as the backend received it. */
  requestHeader(name: string): string[] | undefined;
  text: string;
}

function observedHttp(reply: Reply): Observed {
  // The echo app names itself `<workload>:<container port>`.
  const body = reply.headers['content-type'] === 'application/json' ? reply.json<EchoBody>() : undefined;
  return {
    status: reply.status,
    backend: body?.workload.split(':')[0],
    location: reply.headers.location,
    responseHeader: (name) => reply.headers[name.toLowerCase()] as string | undefined,
    path: body?.url,
    requestHeader: (name) => body?.headersDistinct[name.toLowerCase()],
    text: reply.text,
  };
}

/** One grpc-js client per mesh client workload, through a CONNECT proxy into its sidecar. */
class GrpcClients {
  private readonly clients = new Map<string, ReturnType<typeof echoClient>>();
  private readonly proxies: Array<{ close(): void }> = [];
  constructor(private readonly mesh: TestMesh) {}

  async call(client: string, r: Request): Promise<Observed> {
    const md: Record<string, string> = { ...(r.headers ?? {}) };
    const answer = say(await this.client(client, r.host ?? 'echo'), { text: 'conformance' }, md, { deadline: Date.now() + 10_000 });
    const { code, details } = await statusOf(answer);
    const ok = code === 0 ? (await answer).reply : undefined;
    return {
      status: code === 0 ? 200 : `grpc-status ${code}`,
      backend: ok?.workload,
      responseHeader: () => undefined,
      // Node's HTTP/2 hands a header sent on several lines to grpc-js as one value joined with ", ":
      // split again, so each value counts as the suite's echo server (Go) counts it.
      requestHeader: (name) => ok?.metadata?.[name.toLowerCase()]?.split(/,\s*/),
      text: ok ? JSON.stringify(ok) : details,
    };
  }

  private async client(from: string, host: string): Promise<ReturnType<typeof echoClient>> {
    const key = `${from} ${host}`;
    let c = this.clients.get(key);
    if (!c) {
      const proxy = await connectProxy(this.mesh.sidecars.get(from)!);
      this.proxies.push(proxy);
      // grpc-js reads grpc_proxy when the channel is made and sends CONNECT echo:7070, the name unresolved.
      c = withEnv({ grpc_proxy: `http://127.0.0.1:${proxy.port}` }, () => echoClient(host));
      this.clients.set(key, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    for (const p of this.proxies) p.close();
  }
}

async function send(mesh: TestMesh, grpcClients: GrpcClients, client: string, r: Request): Promise<Observed> {
  if (r.protocol === 'grpc') return grpcClients.call(client, r);
  return observedHttp(await mesh.request(client, { url: `http://${target(mesh, r)}${r.path ?? '/'}`, method: r.method ?? 'GET', headers: r.headers }));
}

function check(c: Case, seen: Observed): void {
  const where = `${c.request.protocol === 'grpc' ? 'gRPC call to ' : `${c.request.method ?? 'GET'} `}${c.request.pod ? `pod ${c.request.pod}:${c.request.port}` : c.request.host ?? 'echo'}${c.request.path ?? ''} from ${c.client ?? 'echo-v1'}`;
  assert.equal(seen.status, c.status ?? 200, `${where}: status (answer: ${seen.text.slice(0, 300)})`);
  if (c.backend) assert.equal(seen.backend, c.backend, `${where}: backend`);
  if (c.location) assert.equal(seen.location, c.location, `${where}: Location`);
  for (const [name, value] of Object.entries(c.response?.headers ?? {})) assert.equal(seen.responseHeader(name), value, `${where}: response header ${name}`);
  for (const name of c.response?.absentHeaders ?? []) assert.equal(seen.responseHeader(name), undefined, `${where}: response header ${name} must be absent`);
  const want = c.expectedRequest;
  if (!want) return;
  if (want.path) assert.equal(seen.path, want.path, `${where}: path at the backend`);
  for (const [name, value] of Object.entries(want.headers ?? {})) {
    // The suite joins a header's values with "," (compareRequest).
    assert.equal(seen.requestHeader(name)?.join(','), value, `${where}: request header ${name} at the backend`);
  }
  for (const name of want.absentHeaders ?? []) assert.equal(seen.requestHeader(name), undefined, `${where}: request header ${name} must not reach the backend`);
}

/** Counts backends over `n` requests, 10 at a time (the suite's batch client). */
async function distribution(mesh: TestMesh, grpcClients: GrpcClients, client: string, r: Request, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const seen = await send(mesh, grpcClients, client, r);
      assert.equal(seen.status, 200, `weighted request: ${seen.text.slice(0, 200)}`);
      const b = seen.backend ?? '(none)';
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  return counts;
}

describe('Gateway API mesh conformance (kubernetes-sigs/gateway-api conformance/tests/mesh) as data', () => {
  let mesh: TestMesh;
  let spec: MeshSpec;
  let grpcClients: GrpcClients;

  before(async () => {
    spec = validated([]).spec;
    // A seeded source: weights and load balancing are sampled for real, and a run can be replayed.
    // Container port 7070 (the Services' grpc port) is served by a gRPC echo server, the others by the HTTP echo app.
    mesh = await startMeshFromSpec(spec, {}, { ingress: false, random: seededRandom(1426), app: async (w, port) => (port === '7070' ? grpcEchoApp(w) : undefined) });
    grpcClients = new GrpcClients(mesh);
  });
  after(async () => { grpcClients?.close(); await mesh?.close(); });

  it('covers every test of the suite\'s mesh directory', () => {
    const names = TESTS.map((t) => t.name);
    for (const n of ['MeshBasic', 'MeshTrafficSplit', 'MeshHTTPRouteSimpleSameNamespace', 'MeshHTTPRouteMatching', 'MeshHTTPRouteQueryParamMatching',
      'MeshHTTPRouteNamedRule', 'MeshHTTPRouteRedirectHostAndStatus', 'MeshHTTPRoute303Redirect', 'MeshHTTPRoute307Redirect', 'MeshHTTPRoute308Redirect',
      'MeshHTTPRouteRedirectPath', 'MeshHTTPRouteRedirectPort', 'MeshHTTPRouteSchemeRedirect', 'MeshHTTPRouteRewritePath', 'MeshHTTPRouteRequestHeaderModifier',
      'MeshHTTPRouteBackendRequestHeaderModifier', 'MeshHTTPRouteWeight', 'MeshConsumerRoute', 'MeshFrontend', 'MeshFrontendHostname', 'MeshPorts',
      'MeshGRPCRouteWeight', 'MeshGRPCRouteRequestHeaderModifier']) {
      assert.ok(names.includes(n), `${n} is in tests.yaml`);
    }
  });

  for (const t of TESTS) {
    describe(t.name, () => {
      before(async () => {
        const v = validated(t.manifests);
        assert.deepEqual(v.errors, [], `${t.name}: the manifests validate and every route is Accepted`);
        const policies: Policies = { gatewayApi: v.resources.filter((r) => r.apiVersion.startsWith('gateway.networking.k8s.io/')) as Policies['gatewayApi'] };
        await mesh.push(policies);
      });

      t.cases.forEach((c, i) => {
        it(`${i} ${c.request.protocol === 'grpc' ? 'gRPC' : c.request.method ?? 'GET'} ${c.request.pod ? `pod ${c.request.pod}` : c.request.host ?? 'echo'}${c.request.path ?? ''}${c.request.headers ? ' with headers' : ''} from ${c.client ?? 'echo-v1'}`, async () => {
          check(c, await send(mesh, grpcClients, c.client ?? 'echo-v1', c.request));
        });
      });

      if (t.weights) {
        const w = t.weights;
        it(`sends ${w.requests} requests in the weights' proportions, each within ±${w.tolerance}`, async () => {
          const seen = await distribution(mesh, grpcClients, 'echo-v1', w.request, w.requests);
          assert.deepEqual([...seen.keys()].sort(), Object.keys(w.expected).filter((b) => w.expected[b] > 0).sort(), 'only the weighted backends answer');
          for (const [backend, share] of Object.entries(w.expected)) {
            const got = (seen.get(backend) ?? 0) / w.requests;
            assert.ok(Math.abs(got - share) <= w.tolerance, `${backend}: ${got} of the requests, expected ${share} ± ${w.tolerance}`);
          }
        });
      }
    });
  }
});
