/**
 * The flavor seam (DESIGN "Flavors"): a second dialect is one profile
 * (policy/flavors), and nothing outside it assumes Istio. A test-only
 * profile, registered here and never offered by the schema, names workloads
 * in a form Istio never uses — `spiffe://<td>/ns/<ns>/dc/dc1/svc/<sa>` in the
 * certificate, `<sa>.<ns>.serviceaccount.identity.<td>` as the principal
 * policies write — and defaults to STRICT mTLS where Istio is PERMISSIVE.
 * Real sidecars on 127.0.0.1 with real mTLS then decide on it: any code that
 * still mints, parses or matches Istio's form (`/ns/NS/sa/SA`, the id
 * without `spiffe://`) lets the wrong caller in, keeps the right one out, or
 * serves plaintext.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ISTIO, type Flavor, type FlavorTable } from '../../simulator/policy/defaults';
import { ISTIO_PROFILE, flavorProfile, registerFlavor, type FlavorProfile } from '../../simulator/policy/flavors';
import { firstSpiffeUri } from '../../simulator/policy/flavors/spiffe';
import type { Kind, MeshSpec, Resource } from '../../simulator/policy/model';
import { parseXfcc } from '../../simulator/sidecar/security/xfcc';
import { ap, plaintextStatus, startMeshFromSpec, vs, type TestMesh } from './fixtures';
import { echoOutcome, tcpEcho } from './l4/fixtures';
import { freePort } from './fixtures';
import { checkBeside, diagnoseMesh } from '../policy/fixtures';
import { explainRequest } from '../../simulator/explain/walk';

const NAME = 'seam-test';
const TD = 'cluster.local';
const SEAM_ID = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/dc\/dc1\/svc\/([^/]+)$/;

const table: FlavorTable = {
  ...ISTIO,
  flavor: NAME as Flavor,
  current: '1.0',
  versions: ['1.0'],
  defaults: { ...structuredClone(ISTIO.defaults), mtlsMode: 'STRICT' },
  sources: { ...ISTIO.sources, mtlsMode: 'the seam test: STRICT unless a PeerAuthentication says otherwise' },
  changes: [],
  unmodelled: [],
};

const SEAM: FlavorProfile = {
  name: NAME,
  defaults: table,
  identity: {
    principalForm: '<serviceAccount>.<namespace>.serviceaccount.identity.<trustDomain>',
    mint: (td, ns, sa) => `spiffe://${td}/ns/${ns}/dc/dc1/svc/${sa}`,
    fromSan: firstSpiffeUri,
    principal(id) {
      const m = SEAM_ID.exec(id);
      return m ? `${m[3]}.${m[2]}.serviceaccount.identity.${m[1]}` : id;
    },
    namespace: (id) => (id ? SEAM_ID.exec(id)?.[2] : undefined),
    serviceAccount(principal) {
      const m = /^([^.]+)\.([^.]+)\.serviceaccount\.identity\./.exec(principal);
      return m ? `${m[2]}/${m[1]}` : undefined;
    },
    parsePrincipal(principal) {
      const m = /^([^.]+)\.([^.]+)\.serviceaccount\.identity\.(.+)$/.exec(principal);
      return m ? { trustDomain: m[3], namespace: m[2], serviceAccount: m[1] } : undefined;
    },
  },
  kinds: {
    // Everything Istio applies but VirtualService: this dialect routes with something else.
    applies: new Set([...ISTIO_PROFILE.kinds.applies].filter((k) => k !== 'VirtualService')),
    refusal: (kind: Kind) => `${kind} is not applied by the ${NAME} flavor: route with its own resources`,
  },
};

const principal = (sa: string) => `${sa}.default.serviceaccount.identity.${TD}`;
const istioPrincipal = (sa: string) => `${TD}/ns/default/sa/${sa}`;
const selecting = (app: string) => ({ selector: { matchLabels: { app } } });

const spec = (tcpLocal: number): MeshSpec => ({
  flavor: NAME as Flavor,
  services: [
    { name: 'productpage', port: 9080, workloads: [{ name: 'productpage-v1', port: 1 }] },
    { name: 'reviews', port: 9080, workloads: [{ name: 'reviews-v1', port: 2 }] },
    { name: 'ratings', port: 9080, workloads: [{ name: 'ratings-v1', port: 3 }] },
    { name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }], workloads: [{ name: 'tcp-echo-v1', ports: { '9000': 4 } }] },
    { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 5, upstreams: [{ service: 'tcp-echo', port: 9000, localPort: tcpLocal }] }] },
  ],
});

/** reviews admits productpage by principal; ratings admits namespace default AND service account default/reviews; tcp-echo admits `who` by principal. */
const policies = (tcpPrincipal: string) => ({
  authorizationPolicies: [
    ap('reviews-from-productpage', { ...selecting('reviews'), rules: [{ from: [{ source: { principals: [principal('productpage')] } }] }] }),
    ap('ratings-from-reviews', { ...selecting('ratings'), rules: [{ from: [{ source: { namespaces: ['default'], serviceAccounts: ['default/reviews'] } }], when: [{ key: 'source.namespace', values: ['default'] }] }] }),
    ap('tcp-echo-from-sleep', { ...selecting('tcp-echo'), rules: [{ from: [{ source: { principals: [tcpPrincipal] } }] }] }),
  ],
  // This flavor takes no VirtualService: the abort must never reach a sidecar.
  virtualServices: [vs('reviews-abort', { hosts: ['reviews'], http: [{ fault: { abort: { httpStatus: 500, percentage: { value: 100 } } }, route: [{ destination: { host: 'reviews' } }] }] })] as Resource<'VirtualService'>[],
});

describe('a second flavor runs through the real sidecar code, with its own identity format, default and kinds', () => {
  let mesh: TestMesh;
  let tcpLocal: number;
  let unregister: () => void;

  before(async () => {
    unregister = registerFlavor(SEAM);
    tcpLocal = await freePort();
    mesh = await startMeshFromSpec(spec(tcpLocal), policies(principal('sleep')),
      { app: (name: string) => (name.startsWith('tcp-echo') ? tcpEcho('hello') : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(async () => {
    await mesh?.close();
    unregister?.();
  });

  test('the snapshot carries the flavor\'s defaults and the ids it mints (the CA signs them, the peer sees them in XFCC)', async () => {
    assert.equal(mesh.snapshot.defaults?.flavor, NAME);
    assert.equal(mesh.snapshot.defaults?.mtlsMode, 'STRICT');
    assert.equal(mesh.snapshot.workloads.find((w) => w.name === 'productpage-v1')!.spiffeId, `spiffe://${TD}/ns/default/dc/dc1/svc/productpage`);
    const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/x' });
    assert.equal(r.status, 200, r.text);
    const xfcc = parseXfcc(r.json().headers['x-forwarded-client-cert']);
    assert.equal(xfcc.URI, `spiffe://${TD}/ns/default/dc/dc1/svc/productpage`);
    assert.equal(xfcc.By, `spiffe://${TD}/ns/default/dc/dc1/svc/reviews`);
  });

  test('principals are matched in the flavor\'s form: productpage reaches reviews, ratings does not', async () => {
    assert.equal((await mesh.request('productpage-v1', { url: 'http://reviews:9080/' })).status, 200);
    assert.equal((await mesh.request('ratings-v1', { url: 'http://reviews:9080/' })).status, 403);
  });

  test('namespaces, serviceAccounts and source.namespace are read out of the peer id by the flavor', async () => {
    assert.equal((await mesh.request('reviews-v1', { url: 'http://ratings:9080/' })).status, 200);
    assert.equal((await mesh.request('productpage-v1', { url: 'http://ratings:9080/' })).status, 403);
  });

  test('devmesh explain walks the same decisions offline and predicts each verdict the sidecars gave', async () => {
    for (const [from, host] of [['productpage-v1', 'reviews'], ['ratings-v1', 'reviews'], ['reviews-v1', 'ratings'], ['productpage-v1', 'ratings']]) {
      const url = `http://${host}:9080/`;
      const real = (await mesh.request(from, { url })).status;
      const walked = explainRequest(mesh.snapshot, { from, method: 'GET', url, headers: {}, appStatus: 200 }, {});
      assert.deepEqual([...new Set(walked.outcomes.map((o) => o.status))], [real], `${from} -> ${host}`);
    }
  });

  test('network RBAC on a TCP port reads the principal the same way', async () => {
    assert.match(await echoOutcome(tcpLocal, 'ping'), /^hello ping/);
  });

  test('Istio\'s form of the same principal matches nothing here', async () => {
    await mesh.push({
      authorizationPolicies: [
        ap('reviews-from-productpage', { ...selecting('reviews'), rules: [{ from: [{ source: { principals: [istioPrincipal('productpage')] } }] }] }),
        ap('tcp-echo-from-sleep', { ...selecting('tcp-echo'), rules: [{ from: [{ source: { principals: [istioPrincipal('sleep')] } }] }] }),
      ],
    });
    try {
      assert.equal((await mesh.request('productpage-v1', { url: 'http://reviews:9080/' })).status, 403);
      assert.doesNotMatch(await echoOutcome(tcpLocal, 'ping'), /^hello/);
    } finally {
      await mesh.push(policies(principal('sleep')));
    }
  });

  test('the flavor\'s default mTLS mode applies: a plaintext caller is refused where Istio\'s PERMISSIVE would serve it', async () => {
    const inbound = mesh.snapshot.workloads.find((w) => w.name === 'productpage-v1')!.sidecar.inboundPort;
    assert.notEqual(await plaintextStatus(inbound, 'productpage'), 200);
  });

  test('a kind the flavor does not apply never reaches a sidecar, and validation says so with the flavor\'s message', async () => {
    // The VirtualService would abort every request to reviews with a 500.
    assert.equal((await mesh.request('productpage-v1', { url: 'http://reviews:9080/' })).status, 200);
    const found = checkBeside(
      `apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata: { name: m }\nspec:\n  flavor: ${NAME}\n  services:\n    - name: reviews\n      port: 9080\n      workloads: [{ name: reviews-v1, port: 9081 }]\n`,
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r }\nspec:\n  hosts: [reviews]\n  http: [{ route: [{ destination: { host: reviews } }] }]\n',
    ).filter((d) => d.code === 'kind-not-in-flavor');
    assert.deepEqual(found.map((d) => [d.line, d.message]), [[2, `VirtualService is not applied by the ${NAME} flavor: route with its own resources`]]);
  });
});

describe('validation under a second flavor', () => {
  const MESH = `apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata: { name: m }\nspec:\n  flavor: ${NAME}\n  services:\n    - name: productpage\n      port: 9080\n      workloads: [{ name: productpage-v1, port: 9081 }]\n`;
  const allow = (p: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: a }\nspec:\n  rules:\n    - from:\n        - source:\n            principals: ["${p}"]\n`;
  const findings = (p: string) => checkBeside(MESH, allow(p)).filter((d) => d.code === 'principal-format' || d.code === 'unknown-principal').map((d) => `${d.code}: ${d.message}`);
  let unregister: () => void;
  before(() => { unregister = registerFlavor(SEAM); });
  after(() => unregister?.());

  test('reads principals in the flavor\'s form: its own is known, Istio\'s is not a principal, an unknown account gets a hint in its form', () => {
    assert.deepEqual(findings(principal('productpage')), []);
    assert.deepEqual(findings(istioPrincipal('productpage')), [`principal-format: "${istioPrincipal('productpage')}" is not a principal: write "<serviceAccount>.<namespace>.serviceaccount.identity.<trustDomain>", e.g. "${principal('productpage')}"`]);
    assert.deepEqual(findings(`spiffe://${TD}/ns/default/dc/dc1/svc/productpage`), [`principal-format: write principals without "spiffe://": "${principal('productpage')}"`]);
    assert.match(findings(`productpage.other.serviceaccount.identity.${TD}`).join(), /^unknown-principal: .*write "productpage\.default\.serviceaccount\.identity\.cluster\.local"/);
  });
});

describe('the flavor registry', () => {
  test('offers Istio alone to users, and an unknown or missing name falls back to it', () => {
    assert.equal(flavorProfile(undefined), ISTIO_PROFILE);
    assert.equal(flavorProfile('linkerd'), ISTIO_PROFILE);
    assert.throws(() => registerFlavor({ ...SEAM, name: 'istio' }), /built in/);
  });

  test('the schema keeps istio the only value of spec.flavor, even with a profile registered', () => {
    const undo = registerFlavor(SEAM);
    try {
      for (const flavor of ['linkerd', 'consul', NAME]) {
        const found = diagnoseMesh(`apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata: { name: m }\nspec:\n  flavor: ${flavor}\n  services: []\n`);
        assert.deepEqual(found.filter((d) => d.at.line === 4).map((d) => d.code), ['bad-enum'], flavor);
      }
    } finally {
      undo();
    }
  });
});
