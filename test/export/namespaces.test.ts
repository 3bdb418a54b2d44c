/** devmesh export and import of a Mesh over namespaces with multi-port and per-version services (examples/bookinfo-namespaces). */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { exportMesh, validateKubernetesObjects, type KubeObject } from '../../simulator/export';
import { importManifests } from '../../simulator/import';
import { resolvePolicies, Workspace } from '../../simulator/policy';
import { loadResolved, ROOT } from './helpers';

const NAMESPACES = path.join(ROOT, 'examples/bookinfo-namespaces/mesh.yaml');
const exported = async (namespace?: string) => {
  const { resolved, sources } = await loadResolved(NAMESPACES);
  return exportMesh(resolved, sources, namespace ? { namespace } : {});
};
const find = (objects: KubeObject[], kind: string, name: string, ns: string) => objects.find((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === ns) as any;

describe('export of a Mesh over namespaces', () => {
  it('writes one Namespace per namespace and puts every object in its own, all accepted by the Kubernetes schemas', async () => {
    const r = await exported();
    assert.deepEqual(validateKubernetesObjects(r.kubernetes), []);
    assert.deepEqual(r.kubernetes.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name), ['default', 'front']);
    assert.ok(find(r.kubernetes, 'Deployment', 'productpage-v1', 'front'));
    assert.ok(find(r.kubernetes, 'ServiceAccount', 'bookinfo-productpage', 'front'));
    assert.ok(find(r.kubernetes, 'Service', 'details', 'default'));
    assert.ok(r.files.some((f) => f.path === 'front/productpage.yaml'));
  });

  it('--namespace moves the Mesh\'s own namespace and leaves the others', async () => {
    const r = await exported('books');
    assert.deepEqual(r.kubernetes.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name), ['books', 'front']);
    assert.ok(find(r.kubernetes, 'Service', 'details', 'books'));
    assert.ok(find(r.kubernetes, 'Deployment', 'productpage-v1', 'front'));
  });

  it('writes every port of a Service with its targetPort, and the container ports and PORT_<targetPort> of its workloads', async () => {
    const r = await exported();
    assert.deepEqual(find(r.kubernetes, 'Service', 'details', 'default').spec.ports, [
      { name: 'http', port: 9080, targetPort: 9080, protocol: 'TCP', appProtocol: 'http' },
      { name: 'http-admin', port: 9090, targetPort: 9090, protocol: 'TCP', appProtocol: 'http' },
    ]);
    const c = find(r.kubernetes, 'Deployment', 'details-v1', 'default').spec.template.spec.containers[0];
    assert.deepEqual(c.ports, [{ containerPort: 9080, protocol: 'TCP' }, { containerPort: 9090, protocol: 'TCP' }]);
    assert.deepEqual(c.env, [{ name: 'PORT', value: '9080' }, { name: 'PORT_9080', value: '9080' }, { name: 'PORT_9090', value: '9090' }]);
  });

  it('gives a per-version Service its selector, so it picks the same pods as reviews', async () => {
    const r = await exported();
    assert.deepEqual(find(r.kubernetes, 'Service', 'reviews-v2', 'default').spec.selector, { app: 'reviews', version: 'v2' });
    assert.deepEqual(find(r.kubernetes, 'Service', 'reviews', 'default').spec.selector, { app: 'reviews' });
    assert.equal(r.kubernetes.filter((o) => o.kind === 'Deployment' && o.metadata.name.startsWith('reviews')).length, 3);
  });

  it('imports back: namespaces, ports and the per-version selectors, into a Mesh devmesh validate accepts', async () => {
    const r = await exported();
    const back = importManifests(r.files, { name: 'bookinfo-namespaces', source: 'k8s' });
    const ws = new Workspace();
    ws.setFile('/rt/mesh.yaml', back.meshText);
    for (const p of back.policies) ws.setFile(path.posix.join('/rt/policies', p.path), p.text);
    assert.deepEqual(ws.diagnostics().filter((d) => d.severity === 'error').map((d) => d.message), []);
    const mesh = resolvePolicies(ws)!.mesh;
    assert.equal(mesh.namespace, 'default');
    assert.equal(mesh.services.find((s) => s.name === 'productpage')!.namespace, 'front');
    assert.deepEqual(mesh.services.find((s) => s.name === 'details')!.ports!.map((p) => [p.name, p.port]), [['http', 9080], ['http-admin', 9090]]);
    assert.deepEqual(mesh.services.find((s) => s.name === 'details')!.workloads![0].ports, { 9080: 9080, 9090: 9090 });
    assert.deepEqual(mesh.services.find((s) => s.name === 'reviews-v1')!.selector, { app: 'reviews', version: 'v1' });
    assert.deepEqual(back.notes.filter((n) => n.severity === 'warning'), []);
  });
});
