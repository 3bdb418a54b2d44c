/**
 * The property behind `devmesh explain`: for policies and requests generated
 * from a seed, the offline walk predicts what real sidecars do. Each case
 * pushes its policies (VirtualService rules with matches, weights, subsets,
 * retries, aborts and delays, redirects and direct responses;
 * DestinationRule load balancers and TLS; PeerAuthentication;
 * AuthorizationPolicy) to a real in-process mesh (sidecars with mTLS, apps on
 * 127.0.0.1), sends each request through the caller's sidecar or the ingress
 * (proxy form), and reads what the sidecars decided from their access logs
 * (the decision records); the walk, over the very snapshot the sidecars run,
 * must list an outcome with odds above 0 that agrees on the route rule,
 * subset, fault, every attempt and its workload, URX, the authorization
 * verdict at each workload and the status the caller got (compare.ts).
 * PROPERTY_CASES and PROPERTY_SEED change the run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explainRequest } from '../../simulator/explain/walk';
import type { ExplainResult } from '../../simulator/explain/result';
import { disagreement, type HopSeen } from '../../simulator/explain/compare';
import type { DecisionRecord } from '../../simulator/sidecar/decisions';
import type { AccessLogEntry } from '../../simulator/control/api/contract';
import type { HTTPRoute, Resource } from '../../simulator/policy/model';
import { seededRandom } from '../../simulator/random';
import { ap, dr, pa, startMeshRetrying, vs, type Policies, type ServiceDef, type TestMesh } from '../sidecar/fixtures';

const CASES = Number(process.env.PROPERTY_CASES ?? 36);
const SEED = Number(process.env.PROPERTY_SEED ?? 20_240_601);
const REQUESTS_PER_CASE = 3;

const SERVICES: ServiceDef[] = [
  { name: 'frontend', workloads: [{ name: 'frontend-v1', labels: { app: 'frontend', version: 'v1' }, serviceAccount: 'frontend' }] },
  { name: 'reviews', workloads: [
    { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1', team: 'a' }, serviceAccount: 'reviews-a' },
    { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2', team: 'a' }, serviceAccount: 'reviews-a' },
    { name: 'reviews-v3', labels: { app: 'reviews', version: 'v3', team: 'b' }, serviceAccount: 'reviews-b' },
  ] },
];
const REVIEWS = ['reviews-v1', 'reviews-v2', 'reviews-v3'];

type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const maybe = <T>(rnd: Rnd, p: number, x: () => T): T | undefined => (rnd() < p ? x() : undefined);

/** One random rule of the reviews VirtualService. */
function rule(rnd: Rnd, catchAll: boolean): HTTPRoute {
  const r: HTTPRoute = {};
  if (!catchAll) {
    r.match = pick(rnd, [
      [{ headers: { 'x-user': { exact: 'jason' } } }],
      [{ headers: { 'x-user': { prefix: 'k' } } }],
      [{ uri: { prefix: '/status/5' } }],
      [{ method: { exact: 'POST' } }],
      [{ headers: { 'x-user': { exact: 'jason' } } }, { uri: { exact: '/status/200' } }],
      [{ uri: { regex: '/status/[24]0[04]' }, method: { exact: 'GET' } }],
      [{ withoutHeaders: { 'x-user': {} } }],
    ]);
  }
  // Now and then the mesh answers itself: a redirect or a direct response, no destination.
  const own = rnd();
  if (own < 0.06) return { ...r, redirect: { uri: '/moved', redirectCode: pick(rnd, [301, 308]) } };
  if (own < 0.1) return { ...r, directResponse: { status: pick(rnd, [204, 418]) } };
  const n = 1 + Math.floor(rnd() * 3);
  r.route = Array.from({ length: n }, () => ({
    destination: { host: 'reviews', ...maybe(rnd, 0.85, () => ({ subset: pick(rnd, ['v1', 'v2', 'v3', 'team-a', 'team-a', 'v9']) })) },
    ...maybe(rnd, 0.7, () => ({ weight: pick(rnd, [0, 10, 25, 50, 100]) })),
  }));
  const retries = pick<HTTPRoute['retries'] | undefined>(rnd, [undefined, undefined, { attempts: 0 }, { attempts: 2, retryOn: '5xx' }, { attempts: 1, retryOn: 'gateway-error' }, { attempts: 3, retryOn: '503,retriable-4xx' }, { attempts: 2 }]);
  if (retries) r.retries = retries;
  const fault = pick<HTTPRoute['fault'] | undefined>(rnd, [
    undefined, undefined, undefined,
    { abort: { httpStatus: 418, percentage: { value: 100 } } }, { abort: { httpStatus: 503, percentage: { value: 50 } } }, { abort: { httpStatus: 500 } },
    { delay: { fixedDelay: '1ms', percentage: { value: 50 } } },
    { delay: { fixedDelay: '2ms', percentage: { value: 100 } }, abort: { httpStatus: 503, percentage: { value: 50 } } },
  ]);
  if (fault) r.fault = fault;
  return r;
}

function policiesFor(rnd: Rnd): Policies {
  const n = 1 + Math.floor(rnd() * 3);
  const rules = Array.from({ length: n }, (_, i) => rule(rnd, i === n - 1 && rnd() < 0.6));
  const trafficPolicy = {
    ...maybe(rnd, 0.5, () => ({ loadBalancer: pick(rnd, [{ simple: 'ROUND_ROBIN' as const }, { simple: 'RANDOM' as const }, { consistentHash: { httpHeaderName: 'x-user' } }]) })),
    ...maybe(rnd, 0.5, () => ({ tls: { mode: pick(rnd, ['ISTIO_MUTUAL', 'DISABLE'] as const) } })),
  };
  const destinationRules = [dr('reviews', {
    host: 'reviews',
    ...(Object.keys(trafficPolicy).length ? { trafficPolicy } : {}),
    subsets: [
      { name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }, { name: 'v3', labels: { version: 'v3' } },
      { name: 'team-a', labels: { team: 'a' } },
    ],
  })];
  const peerAuthentications = pick<Resource<'PeerAuthentication'>[]>(rnd, [
    [],
    [pa('strict', { mtls: { mode: 'STRICT' } })],
    [pa('strict', { mtls: { mode: 'STRICT' } })],
    [pa('v3-off', { selector: { matchLabels: { version: 'v3' } }, mtls: { mode: 'DISABLE' } })],
    [pa('permissive', { mtls: { mode: 'PERMISSIVE' } })],
  ]);
  const reviews = { matchLabels: { app: 'reviews' } };
  const authorizationPolicies = pick<Resource<'AuthorizationPolicy'>[]>(rnd, [
    [], [],
    [ap('allow-frontend', { selector: reviews, rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/frontend'] } }] }] })],
    [ap('allow-other', { selector: reviews, rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/other'] } }] }] })],
    [ap('deny-4xx-paths', { selector: reviews, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/status/4*'] } }] }] })],
    [ap('deny-post-b', { selector: { matchLabels: { team: 'b' } }, action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'] } }] }] })],
    [ap('allow-jason', { selector: reviews, rules: [{ when: [{ key: 'request.headers[x-user]', values: ['jason'] }] }, { to: [{ operation: { methods: ['GET'] } }] }] })],
  ]);
  const mesh = maybe(rnd, 0.25, () => ({ compatibilityVersion: '1.23' }));
  return {
    virtualServices: rnd() < 0.85 ? [vs('reviews', { hosts: ['reviews'], http: rules })] : [],
    destinationRules, peerAuthentications, authorizationPolicies, ...(mesh ? { mesh } : {}),
  };
}

/** A request from `frontend-v1`'s outbound listener, or from outside through the ingress (proxy form, as `curl -x`). */
interface Request { from: 'frontend-v1' | 'ingress'; method: string; path: string; headers: Record<string, string> }
function requestFor(rnd: Rnd): Request {
  const user = pick(rnd, [undefined, 'jason', 'kim']);
  return { from: pick(rnd, ['frontend-v1', 'frontend-v1', 'ingress'] as const), method: pick(rnd, ['GET', 'GET', 'POST']), path: pick(rnd, ['/status/200', '/status/200', '/status/503', '/status/500', '/status/404', '/status/409']), headers: user ? { 'x-user': user } : {} };
}

async function entries(mesh: TestMesh, proxy: string, id: string, listener: string, atLeast: number): Promise<AccessLogEntry[]> {
  const sidecar = proxy === 'ingress' ? mesh.ingress! : mesh.sidecars.get(proxy)!;
  // The entry is written when the exchange ends, at the latest a turn after the caller has the response.
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = sidecar.accessLog.tail().filter((e) => e.request_id === id && e.listener === listener);
    if (found.length >= atLeast || Date.now() > deadline) return found;
    await new Promise((r) => setImmediate(r));
  }
}

async function observe(mesh: TestMesh, req: Request, id: string): Promise<HopSeen> {
  const reply = await mesh.request(req.from, { url: `http://reviews:9080${req.path}`, method: req.method, headers: { ...req.headers, 'x-request-id': id } });
  const [out] = await entries(mesh, req.from, id, req.from === 'ingress' ? 'ingress' : 'outbound', 1);
  assert.ok(out, `no outbound access-log entry for ${id}`);
  const inbound = new Map<string, DecisionRecord[][]>();
  // Attempts whose connection the callee refused (UC, UF) never became an exchange there.
  const reached = out.decisions.filter((d) => d.step === 'attempt' && d.endpoint && d.result !== 'UC' && d.result !== 'UF').map((d) => (d as { endpoint: string }).endpoint);
  for (const w of REVIEWS) {
    const want = reached.filter((x) => x === w).length;
    const got = want === 0 ? [] : await entries(mesh, w, id, 'inbound', want);
    if (got.length) inbound.set(w, got.map((e) => e.decisions));
  }
  return { status: reply.status, outbound: out.decisions, inbound, flags: out.response_flags };
}

/**
 * Pushes a case's policies and waits until the callers have read every GOAWAY
 * a callee sent for a connection the new PeerAuthentication no longer admits:
 * a request sent before that would race the close (a refused stream, retried),
 * which no offline walk can know of.
 */
async function pushSettled(mesh: TestMesh, policies: Policies): Promise<void> {
  const read = () => [mesh.sidecars.get('frontend-v1')!, mesh.ingress!].reduce((n, c) => n + c.stats.get('upstream_cx_close_notify'), 0);
  const sent = () => REVIEWS.reduce((n, w) => n + mesh.sidecars.get(w)!.stats.get('inbound.cx_goaway_by_policy'), 0);
  const before = { sent: sent(), read: read() };
  await mesh.push(policies);
  const goaways = sent() - before.sent;
  const deadline = Date.now() + 5000;
  while (read() - before.read < goaways) {
    assert.ok(Date.now() < deadline, `the callers read ${read() - before.read} of the ${goaways} GOAWAYs the callees sent`);
    await new Promise((r) => setImmediate(r));
  }
}

describe('explain agrees with real sidecars', { timeout: 600_000 }, () => {
  let mesh: TestMesh;
  before(async () => { mesh = await startMeshRetrying(SERVICES, {}); });
  after(async () => { await mesh?.close(); });

  test(`${CASES} generated policy sets x ${REQUESTS_PER_CASE} requests (seed ${SEED})`, async () => {
    const rnd = seededRandom(SEED);
    const covered = new Set<string>();
    for (let c = 0; c < CASES; c++) {
      const policies = policiesFor(rnd);
      await pushSettled(mesh, policies);
      for (let q = 0; q < REQUESTS_PER_CASE; q++) {
        const req = requestFor(rnd);
        const appStatus = Number(req.path.split('/')[2]);
        const walked: ExplainResult = explainRequest(mesh.snapshot, { from: req.from, method: req.method, url: `http://reviews:9080${req.path}`, headers: req.headers, proxyForm: req.from === 'ingress', appStatus });
        const started = Date.now();
        const seen = await observe(mesh, req, `case-${c}-${q}`);
        if (process.env.PROPERTY_DEBUG && Date.now() - started > 500) console.log(`slow ${Date.now() - started} ms`, c, q, req, JSON.stringify(seen.outbound), JSON.stringify(policies));
        const candidates = walked.outcomes.filter((o) => o.probability > 0);
        const agreeing = candidates.find((o) => disagreement(o, seen) === undefined);
        if (!agreeing) {
          assert.fail([
            `case ${c} request ${q}: no predicted outcome agrees with what the sidecars did`,
            `request from ${req.from}: ${req.method} ${req.path} ${JSON.stringify(req.headers)}`,
            `policies: ${JSON.stringify(policies)}`,
            `sidecars: status ${seen.status} flags ${seen.flags}; outbound ${JSON.stringify(seen.outbound)}; inbound ${JSON.stringify([...seen.inbound])}`,
            ...candidates.map((o) => `predicted ${(o.probability * 100).toFixed(1)} % (${disagreement(o, seen)}): ${o.summary} ${JSON.stringify(o.records)}`),
          ].join('\n'));
        }
        covered.add(agreeing.kind);
        covered.add(`from:${req.from}`);
        for (const r of seen.outbound) covered.add(r.step === 'route' ? `route:${r.action}` : r.step === 'attempt' ? `attempt:${r.retried ? 'retried' : r.result}` : r.step === 'fault' && r.delayMs !== undefined ? 'fault:delay' : r.step);
        for (const records of seen.inbound.values()) for (const rs of records) for (const r of rs) if (r.step === 'authz') covered.add(`authz:${r.allowed ? 'allow' : 'deny'}`);
      }
    }
    if (process.env.PROPERTY_DEBUG) console.log([...covered].join(" "));
    // The generator reaches every kind of decision the property is about.
    // (A connection PeerAuthentication refuses is UC for a plaintext caller, UF for an mTLS one: either will do.)
    for (const kinds of ['from:ingress', 'answered', 'refused', 'mesh', 'route:forward', 'route:refused', 'route:redirect|route:direct', 'fault', 'fault:delay', 'attempt:retried', 'attempt:200', 'attempt:UC|attempt:UF', 'authz:allow', 'authz:deny']) {
      assert.ok(kinds.split('|').some((k) => covered.has(k)), `no generated case covered ${kinds} (covered: ${[...covered].join(', ')})`);
    }
  });
});
