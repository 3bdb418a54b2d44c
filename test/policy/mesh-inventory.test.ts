/** What a Mesh declares, resolved (simulator/policy/mesh-inventory.ts, protocols.ts): pure, no files. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { meshInventory, portProtocol, portVariable, type MeshSpec } from '../../simulator/policy';

const spec: MeshSpec = {
  namespace: 'shop',
  services: [
    { name: 'reviews', port: 9080, workloads: [{ name: 'reviews-v1', labels: { version: 'v1' }, port: 9181 }, { name: 'reviews-v2', labels: { version: 'v2' }, port: 9182 }] },
    { name: 'reviews-v1', port: 9080, selector: { app: 'reviews', version: 'v1' } },
    { name: 'api', namespace: 'back', ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'grpc-api', port: 7070, targetPort: 'grpc' }], selector: { app: 'api' } },
    { name: 'api', namespace: 'other', port: 80, selector: { app: 'api' } },
  ],
  workloads: [
    { name: 'api-v1', namespace: 'back', labels: { app: 'api' }, ports: { '8080': 9201, grpc: 9202 } },
    { name: 'loadgen', labels: { app: 'loadgen' }, port: 9300 },
  ],
};

describe('the Mesh inventory', () => {
  const inv = meshInventory(spec);
  const service = (name: string, ns: string) => inv.services.find((s) => s.name === name && s.namespace === ns)!;
  const workload = (name: string) => inv.workloads.find((w) => w.name === name)!;

  test('services and nested workloads default to spec.namespace; top-level workloads name theirs', () => {
    assert.equal(inv.namespace, 'shop');
    assert.equal(inv.rootNamespace, 'istio-system');
    assert.equal(service('reviews', 'shop').fqdn, 'reviews.shop.svc.cluster.local');
    assert.equal(workload('reviews-v1').namespace, 'shop');
    assert.equal(workload('api-v1').namespace, 'back');
    assert.equal(workload('loadgen').namespace, 'shop');
  });

  test('nested workloads get app: <service> and the service name as service account; top-level ones their app label', () => {
    assert.deepEqual(workload('reviews-v1').labels, { app: 'reviews', version: 'v1' });
    assert.equal(workload('reviews-v1').serviceAccount, 'reviews');
    assert.deepEqual(workload('api-v1').labels, { app: 'api' });
    assert.equal(workload('api-v1').serviceAccount, 'api');
  });

  test('a selector picks every workload of the service\'s namespace whose labels match, so one workload backs several services', () => {
    assert.deepEqual(service('reviews', 'shop').workloads.map((w) => w.name), ['reviews-v1', 'reviews-v2']);
    assert.deepEqual(service('reviews-v1', 'shop').workloads.map((w) => w.name), ['reviews-v1']);
    assert.deepEqual(service('api', 'back').workloads.map((w) => w.name), ['api-v1']);
    assert.deepEqual(service('api', 'other').workloads, [], 'a selector never reaches into another namespace');
  });

  test('a workload is named after the service it is nested under, else the first that selects it, else its app label', () => {
    assert.equal(workload('reviews-v1').service, 'reviews');
    assert.equal(workload('api-v1').service, 'api');
    assert.equal(workload('loadgen').service, 'loadgen');
  });

  test('targetPort defaults to the port; each container port maps to the app\'s local port', () => {
    assert.deepEqual(service('reviews', 'shop').ports.map((p) => [p.name, p.port, p.targetPort, p.protocol]), [['http', 9080, 9080, 'http']]);
    assert.deepEqual(service('api', 'back').ports.map((p) => [p.name, p.port, p.targetPort, p.protocol]), [['http', 80, 8080, 'http'], ['grpc-api', 7070, 'grpc', 'grpc']]);
    assert.deepEqual(workload('reviews-v1').containerPorts, { 9080: 9181 });
    assert.deepEqual(workload('api-v1').containerPorts, { 8080: 9201, grpc: 9202 });
    assert.deepEqual(workload('api-v1').served.map((s) => [s.service.name, s.port.port, s.key, s.localPort]), [['api', 80, '8080', 9201], ['api', 7070, 'grpc', 9202]]);
    assert.equal(workload('api-v1').appPort, 9201, 'PORT is the local port of its own service\'s first port');
    assert.equal(workload('loadgen').appPort, 9300, 'a workload no service selects keeps its port');
  });

  test('a container port no local port serves is left undefined for the validator to name', () => {
    const inv2 = meshInventory({ services: [{ name: 'a', ports: [{ name: 'http', port: 80 }, { name: 'http-admin', port: 81 }], workloads: [{ name: 'a1', ports: { '80': 9001 } }] }] });
    assert.deepEqual(inv2.workloads[0].served.map((s) => [s.key, s.localPort]), [['80', 9001], ['81', undefined]]);
  });

  test('it reads a document with schema errors without throwing', () => {
    const inv3 = meshInventory({ services: [{ name: 7 }, { name: 'x', ports: 'no', workloads: [{}, { name: 'x1', port: 'y' }] }], workloads: 'nope' });
    assert.deepEqual(inv3.services.map((s) => s.name), ['x']);
    assert.deepEqual(inv3.workloads.map((w) => [w.name, w.appPort]), [['x1', undefined]]);
  });

  test('PORT_<targetPort> names each container port in the app\'s environment', () => {
    assert.equal(portVariable('9080'), 'PORT_9080');
    assert.equal(portVariable('grpc'), 'PORT_GRPC');
    assert.equal(portVariable('http-admin'), 'PORT_HTTP_ADMIN');
  });
});

describe('the protocol of a service port, as Istio reads it', () => {
  const p = (d: Parameters<typeof portProtocol>[0]) => portProtocol(d).protocol;
  test('the name\'s prefix up to its first dash, case-insensitively; grpc-web as a whole', () => {
    assert.equal(p({ name: 'http' }), 'http');
    assert.equal(p({ name: 'http-web' }), 'http');
    assert.equal(p({ name: 'HTTP2-x' }), 'http2');
    assert.equal(p({ name: 'grpc-api' }), 'grpc');
    assert.equal(p({ name: 'grpc-web-ui' }), 'grpc-web');
    assert.equal(p({ name: 'tcp-db' }), 'tcp');
    assert.equal(p({ name: 'tls-passthrough' }), 'tls');
    assert.equal(p({ name: 'https' }), 'https');
    assert.equal(p({ name: 'mongo' }), 'mongo');
    assert.equal(p({ name: 'redis-cache' }), 'redis');
    assert.equal(p({ name: 'mysql' }), 'mysql');
  });
  test('appProtocol wins over the name, with Kubernetes\' h2c/ws/wss; UDP wins over both', () => {
    assert.equal(p({ name: 'http-web', appProtocol: 'grpc' }), 'grpc');
    assert.equal(p({ name: 'web', appProtocol: 'kubernetes.io/h2c' }), 'http2');
    assert.equal(p({ name: 'web', appProtocol: 'kubernetes.io/ws' }), 'http');
    assert.equal(p({ name: 'web', appProtocol: 'kubernetes.io/wss' }), 'https');
    assert.equal(p({ name: 'http', protocol: 'UDP', appProtocol: 'http' }), 'udp');
  });
  test('devmesh\'s lowercase protocol says it outright; Kubernetes\' TCP leaves it to the name', () => {
    assert.equal(p({ name: 'web', protocol: 'grpc' }), 'grpc');
    assert.equal(p({ name: 'grpc', protocol: 'TCP' }), 'grpc');
  });
  test('an undeclared port is HTTP (what sniffing finds for an HTTP app), except Istio\'s well-known TCP ports', () => {
    assert.deepEqual(portProtocol({ name: 'web', port: 8080 }), { protocol: 'http', declared: false });
    assert.deepEqual(portProtocol({ name: 'db', port: 3306 }), { protocol: 'tcp', declared: true });
    assert.deepEqual(portProtocol({ name: 'http2x', port: 80 }), { protocol: 'http', declared: false }, 'no dash: the whole name is not a protocol');
  });
});
