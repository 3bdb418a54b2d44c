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
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { resolvePolicies, Workspace, type MeshSpec, type Resource } from '../../../simulator/policy';
import { seededRandom } from '../../../simulator/random';
import { startMeshFromSpec, type EchoBody, type Policies, type Reply, type TestMesh } from '../fixtures';

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
const GRPC_PENDING = 'needs the gRPC data path (HTTP/2 to apps), which the protocols work brings';

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

function send(mesh: TestMesh, client: string, r: Request): Promise<Reply> {
  return mesh.request(client, { url: `http://${target(mesh, r)}${r.path ?? '/'}`, method: r.method ?? 'GET', headers: r.headers });
}

/** The workload that answered: the echo app names itself `<workload>:<container port>`. */
function backendOf(reply: Reply): string | undefined {
  if (reply.headers['content-type'] !== 'application/json') return undefined;
  return reply.json<EchoBody>().workload.split(':')[0];
}

function check(c: Case, reply: Reply): void {
  const where = `${c.request.method ?? 'GET'} ${c.request.pod ? `pod ${c.request.pod}:${c.request.port}` : c.request.host ?? 'echo'}${c.request.path ?? '/'} from ${c.client ?? 'echo-v1'}`;
  assert.equal(reply.status, c.status ?? 200, `${where}: status (body: ${reply.text.slice(0, 300)})`);
  if (c.backend) assert.equal(backendOf(reply), c.backend, `${where}: backend`);
  if (c.location) assert.equal(reply.headers.location, c.location, `${where}: Location`);
  for (const [name, value] of Object.entries(c.response?.headers ?? {})) assert.equal(reply.headers[name.toLowerCase()], value, `${where}: response header ${name}`);
  for (const name of c.response?.absentHeaders ?? []) assert.equal(reply.headers[name.toLowerCase()], undefined, `${where}: response header ${name} must be absent`);
  const want = c.expectedRequest;
  if (!want) return;
  const seen = reply.json<EchoBody>();
  if (want.path) assert.equal(seen.url, want.path, `${where}: path at the backend`);
  for (const [name, value] of Object.entries(want.headers ?? {})) {
    // The suite joins a header's values with "," (compareRequest).
    assert.equal(seen.headersDistinct[name.toLowerCase()]?.join(','), value, `${where}: request header ${name} at the backend`);
  }
  for (const name of want.absentHeaders ?? []) assert.equal(seen.headersDistinct[name.toLowerCase()], undefined, `${where}: request header ${name} must not reach the backend`);
}

/** Counts backends over `n` requests, 10 at a time (the suite's batch client). */
async function distribution(mesh: TestMesh, client: string, r: Request, n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const reply = await send(mesh, client, r);
      assert.equal(reply.status, 200, `weighted request: ${reply.text.slice(0, 200)}`);
      const b = backendOf(reply) ?? '(none)';
      seen.set(b, (seen.get(b) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  return seen;
}

describe('Gateway API mesh conformance (kubernetes-sigs/gateway-api conformance/tests/mesh) as data', () => {
  let mesh: TestMesh;
  let spec: MeshSpec;

  before(async () => {
    spec = validated([]).spec;
    // A seeded source: weights and load balancing are sampled for real, and a run can be replayed.
    mesh = await startMeshFromSpec(spec, {}, { ingress: false, random: seededRandom(1426) });
  });
  after(() => mesh?.close());

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
    describe(t.name, { skip: t.protocol === 'grpc' ? GRPC_PENDING : false }, () => {
      before(async () => {
        const v = validated(t.manifests);
        assert.deepEqual(v.errors, [], `${t.name}: the manifests validate and every route is Accepted`);
        const policies: Policies = { gatewayApi: v.resources.filter((r) => r.apiVersion.startsWith('gateway.networking.k8s.io/')) as Policies['gatewayApi'] };
        await mesh.push(policies);
      });

      t.cases.forEach((c, i) => {
        it(`${i} ${c.request.method ?? 'GET'} ${c.request.pod ? `pod ${c.request.pod}` : c.request.host ?? 'echo'}${c.request.path ?? ''}${c.request.headers ? ' with headers' : ''} from ${c.client ?? 'echo-v1'}`, async () => {
          check(c, await send(mesh, c.client ?? 'echo-v1', c.request));
        });
      });

      if (t.weights) {
        const w = t.weights;
        it(`sends ${w.requests} requests in the weights' proportions, each within ±${w.tolerance}`, async () => {
          const seen = await distribution(mesh, 'echo-v1', w.request, w.requests);
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
