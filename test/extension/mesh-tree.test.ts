import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { meshTree } from '../../extension/mesh-tree';
import type { Topology } from '../../webview/topology';

const wl = (name: string, namespace: string) => ({ name, service: name.replace(/-v\d$/, ''), namespace });

test('one namespace: the services at the root, each with the workloads it selects, named short for faults', () => {
  const t: Topology = { namespace: 'default', services: [
    { name: 'reviews', namespace: 'default', port: 9080, workloads: ['reviews-v1', 'reviews-v2'] },
    { name: 'reviews-v1', namespace: 'default', port: 9080, workloads: ['reviews-v1'] },
  ], workloads: [wl('reviews-v1', 'default'), wl('reviews-v2', 'default')] };
  const tree = meshTree(t);
  assert.ok('services' in tree);
  assert.deepEqual(tree.services.map((s) => [s.target, s.ports, s.workloads.map((w) => w.name)]), [
    ['reviews', '9080', ['reviews-v1', 'reviews-v2']],
    ['reviews-v1', '9080', ['reviews-v1']],
  ]);
});

test('several namespaces: services grouped under theirs, every port listed, named name.namespace for faults', () => {
  const t: Topology = { namespace: 'default', services: [
    { name: 'productpage', namespace: 'front', port: 9080, workloads: ['productpage-v1'] },
    { name: 'details', namespace: 'default', port: 9080, ports: [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'http' }, { name: 'http-admin', port: 9090, targetPort: 9090, protocol: 'http' }], workloads: ['details-v1'] },
  ], workloads: [wl('productpage-v1', 'front'), wl('details-v1', 'default')] };
  const tree = meshTree(t);
  assert.ok('namespaces' in tree);
  assert.deepEqual(tree.namespaces.map((n) => [n.name, n.services.map((s) => [s.target, s.ports, s.workloads.map((w) => w.name)])]), [
    ['front', [['productpage.front', '9080', ['productpage-v1']]]],
    ['default', [['details.default', '9080, 9090', ['details-v1']]]],
  ]);
});
