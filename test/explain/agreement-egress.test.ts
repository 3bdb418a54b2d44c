/**
 * The agreement property for calls that leave the mesh: a ServiceEntry host
 * (STATIC endpoints on local servers) routed as registered, with and without
 * a VirtualService and DestinationRule subsets on it; a host outside the
 * registry passed through under ALLOW_ANY (PassthroughCluster) and refused
 * under REGISTRY_ONLY (502 from the BlackHoleCluster) while the ServiceEntry
 * host is still served. Each request is walked offline over the snapshot the
 * sidecars run, then sent through the caller's real sidecar; a predicted
 * outcome must agree on the route, every attempt and its endpoint, and the
 * status. The "external" hosts are servers on 127.0.0.1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explainRequest } from '../../simulator/explain/walk';
import { disagreement } from '../../simulator/explain/compare';
import { dr, se, startMeshRetrying, vs, type Policies, type TestMesh } from '../sidecar/fixtures';
import { externalHttp, type ExternalServer } from '../sidecar/egress/fixtures';
import { observe, type SentRequest } from './hops';

const SERVICES = [
  { name: 'frontend', workloads: [{ name: 'frontend-v1', labels: { app: 'frontend' }, serviceAccount: 'frontend' }] },
  { name: 'reviews', workloads: [{ name: 'reviews-v1', labels: { app: 'reviews' }, serviceAccount: 'reviews' }] },
];
const PAYMENTS = 'api.payments.example';

describe('explain agrees with real sidecars on calls out of the mesh', { timeout: 120_000 }, () => {
  let mesh: TestMesh;
  let v1: ExternalServer;
  let v2: ExternalServer;
  let unlisted: ExternalServer;
  let n = 0;
  const entry = (servers: ExternalServer[]) => se('payments', {
    hosts: [PAYMENTS], location: 'MESH_EXTERNAL', resolution: 'STATIC',
    ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
    endpoints: servers.map((s, i) => ({ address: '127.0.0.1', ports: { http: s.port }, labels: { version: `v${i + 1}` } })),
  });

  before(async () => {
    [v1, v2, unlisted] = await Promise.all([externalHttp('payments-v1'), externalHttp('payments-v2'), externalHttp('unlisted')]);
    mesh = await startMeshRetrying(SERVICES, {});
  });
  after(async () => {
    await mesh?.close();
    await Promise.all([v1, v2, unlisted].map((s) => s?.close()));
  });

  /** Pushes `policies`, then walks and sends `req`: some predicted outcome agrees with the sidecar; returns the status. */
  async function agrees(policies: Policies, req: SentRequest): Promise<{ status: number; flags: string }> {
    await mesh.push(policies);
    const walked = explainRequest(mesh.snapshot, { ...req, appStatus: 200 }, {});
    const candidates = walked.outcomes.filter((o) => o.probability > 0);
    const seen = await observe(mesh, req, `egress-${n++}`, []);
    assert.ok(candidates.some((o) => disagreement(o, seen) === undefined), [
      `${req.method} ${req.url}: no predicted outcome agrees with what the sidecar did`,
      `sidecar: status ${seen.status} flags ${seen.flags}; outbound ${JSON.stringify(seen.outbound)}`,
      ...candidates.map((o) => `predicted ${(o.probability * 100).toFixed(1)} % (${disagreement(o, seen)}): ${o.summary} ${JSON.stringify(o.records)}`),
    ].join('\n'));
    return { status: seen.status, flags: seen.flags };
  }
  const get = (url: string): SentRequest => ({ from: 'frontend-v1', method: 'GET', url, headers: {} });

  test('a ServiceEntry host without a VirtualService goes to its STATIC endpoint', async () => {
    assert.equal((await agrees({ serviceEntries: [entry([v1])] }, get(`http://${PAYMENTS}/charge`))).status, 200);
  });

  test('a ServiceEntry host under a VirtualService goes to the subset it names', async () => {
    const policies: Policies = {
      serviceEntries: [entry([v1, v2])],
      destinationRules: [dr('payments', { host: PAYMENTS, subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] })],
      virtualServices: [vs('payments', { hosts: [PAYMENTS], http: [{ match: [{ uri: { prefix: '/refund' } }], fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }, route: [{ destination: { host: PAYMENTS } }] }, { route: [{ destination: { host: PAYMENTS, subset: 'v2' } }] }] })],
    };
    const before2 = v2.seen.length;
    assert.equal((await agrees(policies, get(`http://${PAYMENTS}/charge`))).status, 200);
    assert.equal(v2.seen.length, before2 + 1, 'subset v2 answered');
    assert.equal((await agrees(policies, get(`http://${PAYMENTS}/refund`))).status, 418);
  });

  test('ALLOW_ANY passes a host outside the registry through; REGISTRY_ONLY answers 502 from the BlackHoleCluster and still serves the ServiceEntry host', async () => {
    const outside = get(`http://127.0.0.1:${unlisted.port}/`);
    assert.equal((await agrees({ serviceEntries: [entry([v1])], outboundTrafficPolicy: 'ALLOW_ANY' }, outside)).status, 200);
    assert.equal((await agrees({ serviceEntries: [entry([v1])], outboundTrafficPolicy: 'REGISTRY_ONLY' }, outside)).status, 502);
    assert.equal((await agrees({ serviceEntries: [entry([v1])], outboundTrafficPolicy: 'REGISTRY_ONLY' }, get(`http://${PAYMENTS}/charge`))).status, 200);
  });
});
