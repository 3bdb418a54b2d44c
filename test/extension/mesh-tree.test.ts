import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { meshTree } from '../../extension/mesh-tree';
import type { Topology } from '../../simulator/control/api/contract';
import { bookinfo, service, workload } from '../webview/fixtures';

const wl = (name: string, namespace: string) => workload(name, name.replace(/-v\d$/, ''), namespace);
/** A topology of these services and workloads (the rest as a running mesh serves it). */
const mesh = (services: Topology['services'], workloads: Topology['workloads']): Topology => ({ ...bookinfo(), services, workloads });

test('one namespace: the services at the root, each with the workloads it selects, named short for faults', () => {
  const t = mesh([
    service('reviews', 'default', ['reviews-v1', 'reviews-v2']),
    service('reviews-v1', 'default', ['reviews-v1']),
  ], [wl('reviews-v1', 'default'), wl('reviews-v2', 'default')]);
  const tree = meshTree(t);
  assert.ok('services' in tree);
  assert.deepEqual(tree.services.map((s) => [s.target, s.ports, s.workloads.map((w) => w.name)]), [
    ['reviews', '9080', ['reviews-v1', 'reviews-v2']],
    ['reviews-v1', '9080', ['reviews-v1']],
  ]);
});

test('several namespaces: services grouped under theirs, every port listed, named name.namespace for faults', () => {
  const t = mesh([
    service('productpage', 'front', ['productpage-v1']),
    service('details', 'default', ['details-v1'], [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'http' }, { name: 'http-admin', port: 9090, targetPort: 9090, protocol: 'http' }]),
  ], [wl('productpage-v1', 'front'), wl('details-v1', 'default')]);
  const tree = meshTree(t);
  assert.ok('namespaces' in tree);
  assert.deepEqual(tree.namespaces.map((n) => [n.name, n.services.map((s) => [s.target, s.ports, s.workloads.map((w) => w.name)])]), [
    ['front', [['productpage.front', '9080', ['productpage-v1']]]],
    ['default', [['details.default', '9080, 9090', ['details-v1']]]],
  ]);
});
