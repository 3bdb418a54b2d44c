/**
 * A mesh over two namespaces with multi-port and per-version services, on
 * real sidecars with real mTLS, built by the control plane's buildSnapshot:
 * how names resolve, which policies each proxy sees and which port a call
 * lands on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshSpec } from '../../simulator/policy/model';
import { ap, dr, pa, plaintextStatus, startMeshFromSpec, vs, type TestMesh } from './fixtures';

const spec: MeshSpec = {
  namespace: 'default',
  services: [
    { name: 'productpage', namespace: 'front', port: 9080, workloads: [{ name: 'productpage-v1', serviceAccount: 'bookinfo-productpage', port: 1 }] },
    {
      name: 'details',
      ports: [{ name: 'http', port: 9080 }, { name: 'http-admin', port: 9090, targetPort: 9090 }],
      workloads: [{ name: 'details-v1', ports: { '9080': 1, '9090': 2 } }],
    },
    { name: 'reviews', port: 9080, workloads: [{ name: 'reviews-v1', labels: { version: 'v1' }, port: 1 }, { name: 'reviews-v2', labels: { version: 'v2' }, port: 1 }] },
    { name: 'reviews-v1', port: 9080, selector: { app: 'reviews', version: 'v1' } },
    { name: 'reviews-v2', port: 9080, selector: { app: 'reviews', version: 'v2' } },
    { name: 'ratings', port: 9080, workloads: [{ name: 'ratings-v1', port: 1 }] },
  ],
};

const plaintextGet = (port: number, host: string) => plaintextStatus(port, host);

describe('a mesh over two namespaces', () => {
  let mesh: TestMesh;
  const get = async (via: string, url: string) => {
    const r = await mesh.request(via, { url });
    return { status: r.status, text: r.text, body: r.status === 200 ? r.json() : undefined };
  };
  before(async () => { mesh = await startMeshFromSpec(spec); });
  after(() => mesh.close());

  test('a short name resolves in the caller\'s namespace; name.namespace, name.namespace.svc and the FQDN reach across', async () => {
    const short = await get('productpage-v1', 'http://reviews:9080/');
    assert.equal(short.status, 502);
    assert.match(short.text, /no service named "reviews" in namespace front/);
    for (const host of ['reviews.default', 'reviews.default.svc', 'reviews.default.svc.cluster.local']) {
      assert.equal((await get('productpage-v1', `http://${host}:9080/`)).status, 200, host);
    }
    assert.equal((await get('ratings-v1', 'http://reviews:9080/')).status, 200, 'a caller in default uses the short name');
  });

  test('each workload\'s identity carries its own namespace', async () => {
    const r = await get('productpage-v1', 'http://ratings.default:9080/');
    assert.match(r.body!.headers['x-forwarded-client-cert'], /URI=spiffe:\/\/cluster\.local\/ns\/front\/sa\/bookinfo-productpage$/);
    assert.equal(mesh.snapshot.workloads.find((w) => w.name === 'ratings-v1')!.spiffeId, 'spiffe://cluster.local/ns/default/sa/ratings');
  });

  test('per-version services select the same workloads as reviews', async () => {
    await mesh.push({ destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } })] });
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await get('productpage-v1', 'http://reviews.default:9080/')).body!.workload);
    assert.deepEqual([...seen].sort(), ['reviews-v1', 'reviews-v2']);
    for (let i = 0; i < 4; i++) assert.equal((await get('productpage-v1', 'http://reviews-v1.default:9080/')).body!.workload, 'reviews-v1');
    for (let i = 0; i < 4; i++) assert.equal((await get('productpage-v1', 'http://reviews-v2.default:9080/')).body!.workload, 'reviews-v2');
    assert.deepEqual(mesh.snapshot.services.find((s) => s.name === 'reviews-v1')!.workloads, ['reviews-v1']);
  });

  test('each port of a service lands on its own container port, and a port the service lacks is a clear 502', async () => {
    await mesh.push({});
    assert.equal((await get('productpage-v1', 'http://details.default:9080/')).body!.workload, 'details-v1:9080');
    assert.equal((await get('productpage-v1', 'http://details.default:9090/')).body!.workload, 'details-v1:9090');
    const missing = await get('productpage-v1', 'http://details.default:9999/');
    assert.equal(missing.status, 502);
    assert.match(missing.text, /has no port 9999; it has 9080, 9090 \(http-admin\)/);
  });

  test('VirtualService match.port picks rules per service port, and a destination without port follows the request\'s port', async () => {
    await mesh.push({ virtualServices: [vs('details', { hosts: ['details'], http: [
      { match: [{ port: 9090, uri: { prefix: '/teapot' } }], directResponse: { status: 418 } },
      { route: [{ destination: { host: 'details' } }] },
    ] })] });
    assert.equal((await get('productpage-v1', 'http://details.default:9090/teapot')).status, 418);
    assert.equal((await get('productpage-v1', 'http://details.default:9080/teapot')).body!.workload, 'details-v1:9080');
    assert.equal((await get('productpage-v1', 'http://details.default:9090/x')).body!.workload, 'details-v1:9090');
    const table = mesh.sidecars.get('productpage-v1')!.tables().routes.get('details.default.svc.cluster.local:9090')!;
    assert.deepEqual(table.rules.map((r) => r.origin), [
      { kind: 'VirtualService', namespace: 'default', name: 'details', rule: 0 },
      { kind: 'VirtualService', namespace: 'default', name: 'details', rule: 1 },
    ]);
    assert.equal(mesh.sidecars.get('productpage-v1')!.tables().routes.get('details.default.svc.cluster.local:9080')!.rules.length, 1);
  });

  test('STRICT in default and PERMISSIVE mesh-wide from the root namespace: default refuses plaintext, front takes it', async () => {
    await mesh.push({ peerAuthentications: [pa('default', { mtls: { mode: 'STRICT' } }, 'default'), pa('default', { mtls: { mode: 'PERMISSIVE' } }, 'istio-system')] });
    assert.equal(mesh.sidecars.get('reviews-v1')!.tables().mtls.source, 'default/default');
    assert.equal(mesh.sidecars.get('productpage-v1')!.tables().mtls.source, 'istio-system/default');
    assert.equal(typeof await plaintextGet(mesh.sidecars.get('reviews-v1')!.ports.inbound!, 'reviews.default:9080'), 'string', 'connection refused');
    assert.equal(await plaintextGet(mesh.sidecars.get('productpage-v1')!.ports.inbound!, 'productpage.front:9080'), 200);
    assert.equal((await get('productpage-v1', 'http://reviews.default:9080/')).status, 200, 'mTLS from front still works');
  });

  test('a second HTTP port with its own portLevelSettings: plaintext to a port whose portLevelMtls is PERMISSIVE, mTLS to the other', async () => {
    const policies = {
      peerAuthentications: [
        pa('default', { mtls: { mode: 'STRICT' } }, 'default'),
        pa('details-admin', { selector: { matchLabels: { app: 'details' } }, portLevelMtls: { 9090: { mode: 'PERMISSIVE' } } }, 'default'),
      ],
      destinationRules: [dr('details', { host: 'details', trafficPolicy: { portLevelSettings: [{ port: { number: 9090 }, tls: { mode: 'DISABLE' } }] } })],
    };
    await mesh.push(policies);
    const admin = await get('productpage-v1', 'http://details.default:9090/');
    assert.equal(admin.body!.workload, 'details-v1:9090');
    assert.equal(admin.body!.headers['x-forwarded-client-cert'], undefined, 'plaintext on the port-level DISABLE');
    const main = await get('productpage-v1', 'http://details.default:9080/');
    assert.match(main.body!.headers['x-forwarded-client-cert'], /ns\/front\/sa\/bookinfo-productpage/);
    // Plaintext to the STRICT port of the same workload is cut off, even on a connection its PERMISSIVE port admits.
    const inbound = mesh.sidecars.get('details-v1')!.ports.inbound!;
    assert.equal(await plaintextGet(inbound, 'details.default:9090'), 200);
    assert.equal(typeof await plaintextGet(inbound, 'details.default:9080'), 'string');
  });

  test('an AuthorizationPolicy in default admitting only principals from front; one in the root namespace selects across namespaces', async () => {
    await mesh.push({ authorizationPolicies: [
      ap('front-only', { rules: [{ from: [{ source: { namespaces: ['front'] } }] }] }, 'default'),
      ap('no-admin', { selector: { matchLabels: { app: 'productpage' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }, 'istio-system'),
    ] });
    assert.equal((await get('productpage-v1', 'http://reviews.default:9080/')).status, 200);
    const denied = await get('ratings-v1', 'http://reviews:9080/');
    assert.equal(denied.status, 403);
    assert.match(denied.text, /RBAC: access denied/);
    assert.equal((await get('reviews-v1', 'http://productpage.front:9080/admin')).status, 403);
    assert.equal((await get('reviews-v1', 'http://productpage.front:9080/')).status, 200);
  });

  test('AuthorizationPolicy ports are the workload\'s container ports', async () => {
    await mesh.push({ authorizationPolicies: [ap('admin-port', { selector: { matchLabels: { app: 'details' } }, action: 'DENY', rules: [{ to: [{ operation: { ports: ['9090'] } }] }] }, 'default')] });
    assert.equal((await get('productpage-v1', 'http://details.default:9090/')).status, 403);
    assert.equal((await get('productpage-v1', 'http://details.default:9080/')).status, 200);
  });

  test('exportTo "." keeps a VirtualService in its namespace, and the client namespace\'s private one comes first', async () => {
    await mesh.push({ virtualServices: [
      vs('reviews-v2-here', { hosts: ['reviews'], exportTo: ['.'], http: [{ route: [{ destination: { host: 'reviews-v2' } }] }] }, 'default'),
      vs('front-sees-v1', { hosts: ['reviews.default.svc.cluster.local'], exportTo: ['.'], http: [{ route: [{ destination: { host: 'reviews-v1.default.svc.cluster.local' } }] }] }, 'front'),
    ] });
    for (let i = 0; i < 3; i++) {
      assert.equal((await get('ratings-v1', 'http://reviews:9080/')).body!.workload, 'reviews-v2');
      assert.equal((await get('productpage-v1', 'http://reviews.default:9080/')).body!.workload, 'reviews-v1');
    }
    // A public VirtualService written first still comes after the client namespace's private one (pilot's order).
    await mesh.push({ virtualServices: [
      vs('reviews-v2-everywhere', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews-v2' } }] }] }, 'default'),
      vs('front-sees-v1', { hosts: ['reviews.default.svc.cluster.local'], exportTo: ['.'], http: [{ route: [{ destination: { host: 'reviews-v1.default.svc.cluster.local' } }] }] }, 'front'),
    ] });
    assert.equal((await get('productpage-v1', 'http://reviews.default:9080/')).body!.workload, 'reviews-v1');
    assert.equal((await get('ratings-v1', 'http://reviews:9080/')).body!.workload, 'reviews-v2');
  });

  test('DestinationRules: the client namespace\'s rule first, then the service namespace\'s, then the root namespace\'s', async () => {
    const route = vs('to-v1', { hosts: ['reviews.default.svc.cluster.local'], http: [{ route: [{ destination: { host: 'reviews.default.svc.cluster.local', subset: 'pick' } }] }] }, 'front');
    const subset = (version: string, namespace: string) => dr(`pick-${version}`, { host: 'reviews.default.svc.cluster.local', subsets: [{ name: 'pick', labels: { version } }] }, namespace);
    await mesh.push({ virtualServices: [route], destinationRules: [subset('v1', 'istio-system')] });
    assert.equal((await get('productpage-v1', 'http://reviews.default:9080/')).body!.workload, 'reviews-v1', 'the root namespace\'s rule as the last resort');
    await mesh.push({ virtualServices: [route], destinationRules: [subset('v1', 'istio-system'), subset('v2', 'default')] });
    assert.equal((await get('productpage-v1', 'http://reviews.default:9080/')).body!.workload, 'reviews-v2', 'the service namespace\'s rule before the root\'s');
    await mesh.push({ virtualServices: [route], destinationRules: [subset('v2', 'default'), subset('v1', 'front')] });
    assert.equal((await get('productpage-v1', 'http://reviews.default:9080/')).body!.workload, 'reviews-v1', 'the client namespace\'s rule first');
    assert.deepEqual(mesh.sidecars.get('productpage-v1')!.tables().destinationRuleSources.get('reviews.default.svc.cluster.local'), ['front/pick-v1']);
  });
});
