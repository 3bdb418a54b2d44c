import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot, INGRESS_SERVICE_ACCOUNT, type PortAssignment } from '../../simulator/control/snapshot';
import type { IstioKind, Resource } from '../../simulator/policy/model';

const mesh: Resource<'Mesh'> = {
  apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: 'bookinfo' },
  spec: {
    trustDomain: 'example.org',
    services: [
      { name: 'reviews', port: 9080, workloads: [
        { name: 'reviews-v1', labels: { version: 'v1' }, port: 9181 },
        { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'bookinfo-reviews', port: 9182 },
      ] },
      { name: 'ratings', port: 9080, protocol: 'http', workloads: [{ name: 'ratings-v1', port: 9191 }] },
    ],
  },
};
const ports: PortAssignment = {
  workloads: {
    'reviews-v1': { inboundPort: 1001, outboundPort: 1002, adminPort: 1003 },
    'reviews-v2': { inboundPort: 2001, outboundPort: 2002, adminPort: 2003 },
    'ratings-v1': { inboundPort: 3001, outboundPort: 3002, adminPort: 3003 },
  },
  ingress: { port: 15080, adminPort: 4003 },
};
const vs: Resource<'VirtualService'> = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews' }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] } };
const dr: Resource<'DestinationRule'> = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'other' }, spec: { host: 'reviews' } };

test('every workload gets its SPIFFE identity from the trust domain, namespace and service account', () => {
  const s = buildSnapshot(mesh, [], ports, 1);
  assert.deepEqual(s.workloads.map((w) => w.spiffeId), [
    'spiffe://example.org/ns/default/sa/reviews',
    'spiffe://example.org/ns/default/sa/bookinfo-reviews',
    'spiffe://example.org/ns/default/sa/ratings',
  ]);
});

test('the service account defaults to the service name, like a pod without serviceAccountName in its own service', () => {
  const s = buildSnapshot(mesh, [], ports, 1);
  assert.equal(s.workloads.find((w) => w.name === 'ratings-v1')!.serviceAccount, 'ratings');
});

test('workload labels get app=<service> unless written, so Kubernetes-style subsets select them', () => {
  const s = buildSnapshot(mesh, [], ports, 1);
  assert.deepEqual(s.workloads[0].labels, { app: 'reviews', version: 'v1' });
});

test('services carry their FQDN, default protocol http, their one port targeting itself and the names of their workloads', () => {
  const s = buildSnapshot(mesh, [], ports, 1);
  assert.deepEqual(s.services[0], {
    name: 'reviews', namespace: 'default', fqdn: 'reviews.default.svc.cluster.local', port: 9080, protocol: 'http',
    ports: [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'http' }], workloads: ['reviews-v1', 'reviews-v2'],
  });
});

test('sidecar ports come from the assignment and app ports from the Mesh', () => {
  const s = buildSnapshot(mesh, [], ports, 1);
  const w = s.workloads.find((x) => x.name === 'reviews-v2')!;
  assert.deepEqual(w.sidecar, { inboundPort: 2001, outboundPort: 2002, adminPort: 2003 });
  assert.equal(w.appPort, 9182);
});

test('the ingress runs as Istio\'s ingress gateway service account in istio-system', () => {
  const s = buildSnapshot(mesh, [], ports, 1);
  assert.equal(s.ingress.serviceAccount, INGRESS_SERVICE_ACCOUNT);
  assert.equal(s.ingress.spiffeId, 'spiffe://example.org/ns/istio-system/sa/istio-ingressgateway-service-account');
  assert.equal(s.ingress.port, 15080);
  assert.equal(s.ingress.labels.istio, 'ingressgateway');
});

test('resources are sorted by kind and get the Mesh namespace when they name none', () => {
  const s = buildSnapshot(mesh, [vs, dr] as Resource<IstioKind>[], ports, 7);
  assert.equal(s.version, 7);
  assert.equal(s.virtualServices[0].metadata.namespace, 'default');
  assert.equal(s.destinationRules[0].metadata.namespace, 'other');
  assert.deepEqual([s.gateways, s.peerAuthentications, s.authorizationPolicies, s.faults], [[], [], [], []]);
});

test('building does not modify its inputs and the same inputs give the same snapshot', () => {
  const before = JSON.stringify([mesh, vs]);
  const a = buildSnapshot(mesh, [vs] as Resource<IstioKind>[], ports, 1);
  const b = buildSnapshot(mesh, [vs] as Resource<IstioKind>[], ports, 1);
  assert.deepEqual(a, b);
  assert.equal(JSON.stringify([mesh, vs]), before);
});

test('a workload without assigned ports is a programming error, not a silent zero', () => {
  assert.throws(() => buildSnapshot(mesh, [], { ...ports, workloads: {} }, 1), /no sidecar ports assigned to workload reviews-v1/);
});
