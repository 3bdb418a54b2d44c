import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { importManifests, type ImportResult } from '../../simulator/import';
import { collectPolicyFiles } from '../../simulator/policy-files';
import { devmesh, SHOP_FIXTURE, tempDir } from './helpers';

async function importShop(): Promise<ImportResult> {
  const files = await collectPolicyFiles([SHOP_FIXTURE]);
  const manifests = await Promise.all(files.map(async (f) => ({ path: path.relative(SHOP_FIXTURE, f), text: await fs.readFile(f, 'utf8') })));
  return importManifests(manifests, { name: 'shop', source: 'fixtures/shop' });
}

const service = (r: ImportResult, name: string) => r.mesh.services.find((s) => s.name === name);

describe('devmesh import of a cluster\'s manifests', () => {
  it('maps each Service with a selector to a Mesh service in the manifests\' namespace', async () => {
    const r = await importShop();
    assert.equal(r.mesh.namespace, 'shop');
    assert.deepEqual(r.mesh.services.map((s) => s.name).sort(), ['cache', 'cart', 'catalog', 'frontend', 'orders-db']);
  });

  it('puts both versions of a service under it with their labels and gives them distinct local ports', async () => {
    const cart = service(await importShop(), 'cart')!;
    assert.equal(cart.protocol, 'grpc');
    assert.equal(cart.port, 7070);
    assert.deepEqual(cart.workloads.map((w) => [w.name, w.labels, w.serviceAccount]), [
      ['cart-v1', { app: 'cart', version: 'v1' }, 'cart'],
      ['cart-v2', { app: 'cart', version: 'v2' }, 'cart'],
    ]);
    assert.equal(cart.workloads[0].port, 8080);
    assert.notEqual(cart.workloads[1].port, 8080);
    assert.deepEqual(cart.workloads[1].env, { FEATURE_SPLIT_PAYMENTS: 'true' });
  });

  it('resolves named target ports, drops Istio\'s own labels and uses "default" for pods without a service account', async () => {
    const r = await importShop();
    const frontend = service(r, 'frontend')!.workloads[0];
    assert.equal(frontend.containerPort, 8080);
    assert.deepEqual(frontend.labels, { app: 'frontend', version: 'v1' });
    assert.equal(service(r, 'catalog')!.workloads[0].serviceAccount, 'default');
  });

  it('maps a Service with several ports to `ports` and gives each container port its local port', async () => {
    const catalog = service(await importShop(), 'catalog')!;
    assert.deepEqual(catalog.ports, [{ name: 'http', port: 80, targetPort: 9000 }, { name: 'http-metrics', port: 9090 }]);
    assert.deepEqual(catalog.workloads[0].ports, { 9000: 9000, 9090: 9090 });
    assert.equal(catalog.workloads[0].port, undefined);
    assert.match((await importShop()).meshText, /ports: \{ "9000": 9000, "9090": 9090 \}/);
  });

  it('maps a StatefulSet behind a Service and reads tcp-prefixed ports as tcp', async () => {
    const db = service(await importShop(), 'orders-db')!;
    assert.equal(db.protocol, 'tcp');
    assert.deepEqual(db.workloads.map((w) => [w.name, w.image]), [['orders-db', 'postgres:16']]);
  });

  it('reports what it could not map', async () => {
    const notes = (await importShop()).notes.map((n) => `${n.code}: ${n.message}`).join('\n');
    for (const expected of [/headless: Service orders-db-headless/, /unmapped: CronJob cleanup/,
      /unmapped: DaemonSet node-exporter/, /env: Deployment frontend: env SESSION_SECRET/, /containers: Deployment cart-v2.*log-shipper/]) {
      assert.match(notes, expected);
    }
    // A redis port is served at L4 (TCP, as Istio serves it without its redis filter): nothing to warn about.
    assert.doesNotMatch(notes, /protocol: Service cache: redis/);
  });

  it('writes a TODO where each workload\'s command goes and no command', async () => {
    const r = await importShop();
    assert.match(r.meshText, /# TODO: command to start cart-v2 locally/);
    assert.doesNotMatch(r.meshText, /^\s*command:/m);
  });

  it('writes a Mesh and policies that devmesh validate accepts', async (t) => {
    const dir = await tempDir(t);
    const run = devmesh(['import', SHOP_FIXTURE, '--out', path.join(dir, 'mesh.yaml')]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /5 services, 6 workloads; copied 6 Istio and Gateway API resources/);
    assert.deepEqual((await fs.readdir(path.join(dir, 'policies'))).sort(), ['security.yaml', 'traffic.yaml']);
    const check = devmesh(['validate', dir]);
    assert.equal(check.status, 0, check.stdout);
    assert.match(check.stdout, /0 errors/);
  });

  it('still validates once the TODO commands are filled in', async (t) => {
    const dir = await tempDir(t);
    assert.equal(devmesh(['import', SHOP_FIXTURE, '--out', path.join(dir, 'mesh.yaml')]).status, 0);
    const meshFile = path.join(dir, 'mesh.yaml');
    const text = await fs.readFile(meshFile, 'utf8');
    await fs.writeFile(meshFile, text.replace(/^( *)# TODO: command to start .*\n/gm, '$1command: ["node", "server.js"]\n'));
    const check = devmesh(['validate', dir, '--format', 'json']);
    assert.equal(check.status, 0, check.stdout);
    assert.deepEqual(JSON.parse(check.stdout).filter((d: { severity: string }) => d.severity === 'error'), []);
  });
});

describe('devmesh import of what a cluster dump holds', () => {
  const imported = (...texts: string[]) => importManifests(texts.map((text, i) => ({ path: `dump-${i}.yaml`, text })), { name: 'dump', source: 'dump' });

  it('maps bare Pods to workloads, once for a Pod its Deployment in the input owns', () => {
    const r = imported(`apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: httpbin }
spec:
  selector: { app: httpbin }
  ports: [{ name: http, port: 8000, targetPort: 80 }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: httpbin, namespace: httpbin }
spec:
  selector: { matchLabels: { app: httpbin, version: v1 } }
  template:
    metadata: { labels: { app: httpbin, version: v1 } }
    spec: { containers: [{ name: httpbin, image: httpbin, ports: [{ containerPort: 80 }] }] }
---
apiVersion: v1
kind: Pod
metadata: { name: httpbin-55bf89f8c9-wzfrh, namespace: httpbin, labels: { app: httpbin, version: v1, pod-template-hash: 55bf89f8c9 } }
spec: { containers: [{ name: httpbin, image: httpbin }] }
---
apiVersion: v1
kind: Pod
metadata: { name: sleep, namespace: test-ambient, labels: { app: sleep } }
spec: { containers: [{ name: sleep, image: curl }] }
`);
    assert.equal(r.mesh.namespace, 'httpbin');
    assert.deepEqual(r.mesh.services.map((s) => [s.name, s.namespace, s.workloads.map((w) => w.name)]), [['httpbin', undefined, ['httpbin']]]);
    assert.deepEqual(r.mesh.workloads.map((w) => [w.name, w.namespace, w.labels]), [['sleep', 'test-ambient', { app: 'sleep' }]]);
    assert.match(r.meshText, /workloads:\n {4}- name: sleep\n {6}namespace: test-ambient/);
    assert.ok(r.notes.some((n) => n.code === 'no-service' && /Pod sleep/.test(n.message)));
  });

  it('maps a Service without a selector to a host with nothing behind it, in its namespace and with all its ports', () => {
    const r = imported(`apiVersion: v1
kind: Service
metadata: { name: reviews-2port, namespace: default }
spec:
  ports: [{ port: 80, name: http-test }, { port: 443, name: https-test }]
---
apiVersion: v1
kind: Service
metadata: { name: hello, namespace: hello }
spec:
  selector: { app: hello }
  ports: [{ port: 9080, name: http }]
`);
    assert.deepEqual(r.mesh.services.map((s) => [s.name, s.namespace, s.ports?.map((p) => p.port) ?? [s.port], s.selector, s.workloads.length]),
      [['reviews-2port', undefined, [80, 443], undefined, 0], ['hello', 'hello', [9080], { app: 'hello' }, 0]]);
    assert.match(r.meshText, /- name: hello\n {6}namespace: hello\n {6}port: 9080\n {6}selector: \{ app: hello \}/);
    assert.ok(r.notes.some((n) => n.code === 'no-selector' && n.severity === 'info'));
  });

  it('leaves gateway pods to devmesh\'s ingress, and gives pods their node\'s topology labels as Istio does', () => {
    const r = imported(`apiVersion: v1
kind: Pod
metadata: { name: my-ingressgateway-1234, labels: { istio: ingressgateway } }
spec: { containers: [{ name: istio-proxy }] }
---
apiVersion: v1
kind: Pod
metadata: { name: httpbin-pod, labels: { app: httpbin, version: v1 } }
spec: { nodeName: node-a, containers: [{ name: httpbin, image: httpbin, ports: [{ containerPort: 8080 }] }] }
---
apiVersion: v1
kind: Node
metadata: { name: node-a, labels: { topology.kubernetes.io/region: us-west-1, topology.kubernetes.io/zone: "" } }
`);
    assert.deepEqual(r.mesh.workloads.map((w) => [w.name, w.labels, w.port]), [['httpbin-pod', { app: 'httpbin', version: 'v1', 'topology.kubernetes.io/region': 'us-west-1', 'kubernetes.io/hostname': 'node-a' }, 8080]]);
    assert.ok(r.notes.some((n) => n.code === 'gateway' && /my-ingressgateway-1234/.test(n.message)));
  });

  it('copies the Istio resources inside a List as documents of their own', () => {
    const r = imported(`apiVersion: v1
kind: List
items:
  - apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: { name: alpha }
    spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: [foo.bar] }] }
  - apiVersion: telemetry.istio.io/v1
    kind: Telemetry
    metadata: { name: api }
    spec: { accessLogging: [{ providers: [{ name: envoy }] }] }
`);
    assert.deepEqual(r.policies.map((p) => [p.path, p.resources]), [['dump-0.yaml', 2]]);
    assert.match(r.policies[0].text, /^apiVersion: networking.istio.io\/v1\nkind: Gateway\n[\s\S]*---\napiVersion: telemetry.istio.io\/v1\nkind: Telemetry/);
    // Telemetry is simulated: copied without a note saying otherwise.
    assert.ok(!r.notes.some((n) => n.code === 'not-simulated' && /Telemetry api/.test(n.message)), JSON.stringify(r.notes));
  });

  it('writes a Mesh even when the input has nothing to run', async (t) => {
    const dir = await tempDir(t);
    const input = path.join(dir, 'in');
    await fs.mkdir(input);
    await fs.writeFile(path.join(input, 'dr.yaml'), 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: db }\nspec:\n  host: db.example.com\n');
    const run = devmesh(['import', input, '--out', path.join(dir, 'out', 'mesh.yaml')]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(await fs.readFile(path.join(dir, 'out', 'mesh.yaml'), 'utf8'), /services: \[\]/);
    assert.match(run.stdout, /0 services, 0 workloads; copied 1 Istio and Gateway API resources/);
  });
});
