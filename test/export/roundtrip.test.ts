import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { importManifests } from '../../simulator/import';
import { resolvePolicies, Workspace, type MeshSpec, type ResolvedPolicies } from '../../simulator/policy';
import { BOOKINFO, exportBookinfo, loadResolved } from './helpers';

/** What must survive the trip: services, workloads, labels, identities, images, env. */
function shape(mesh: MeshSpec) {
  return mesh.services.map((s) => ({
    name: s.name,
    port: s.port,
    protocol: s.protocol ?? 'http',
    workloads: (s.workloads ?? []).map((w) => ({ name: w.name, labels: w.labels ?? {}, serviceAccount: w.serviceAccount ?? s.name, port: w.port, image: w.image, env: w.env ?? {} })),
  })).sort((a, b) => a.name.localeCompare(b.name));
}

function policies(resolved: ResolvedPolicies) {
  return Object.values(resolved.resources).flat()
    .map((r) => ({ kind: r.kind, apiVersion: r.apiVersion, metadata: r.metadata, spec: r.spec }))
    .sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
}

describe('export then import of the bookinfo example', () => {
  it('gives back the same services, workloads, labels, service accounts and Istio policies', async () => {
    const original = (await loadResolved(BOOKINFO)).resolved;
    const exported = await exportBookinfo();
    const result = importManifests(exported.files.map((f) => ({ path: f.path, text: f.text })), { name: 'bookinfo', source: 'k8s' });

    const ws = new Workspace();
    ws.setFile('/rt/mesh.yaml', result.meshText);
    for (const p of result.policies) ws.setFile(path.posix.join('/rt/policies', p.path), p.text);
    const errors = ws.diagnostics().filter((d) => d.severity === 'error');
    assert.deepEqual(errors, []);
    const back = resolvePolicies(ws)!;

    assert.deepEqual(shape(back.mesh), shape(original.mesh));
    assert.equal(back.namespace, original.namespace);
    assert.deepEqual(policies(back), policies(original));
    assert.deepEqual(result.notes.filter((n) => n.severity === 'warning'), []);
  });

  it('keeps the Istio files byte for byte apart from the namespace line', async () => {
    const exported = await exportBookinfo();
    const result = importManifests(exported.files, { name: 'bookinfo', source: 'k8s' });
    const routing = result.policies.find((p) => p.path === 'routing.yaml')!;
    const original = await fs.readFile(path.join(path.dirname(BOOKINFO), 'policies/routing.yaml'), 'utf8');
    assert.equal(routing.text.replace(/^ {2}namespace: default\n/gm, ''), original);
  });

  it('round-trips into another namespace as well', async () => {
    const exported = await exportBookinfo({ namespace: 'books' });
    const result = importManifests(exported.files, { name: 'bookinfo', source: 'k8s' });
    assert.equal(result.mesh.namespace, 'books');
    assert.deepEqual(shape(result.mesh as MeshSpec), shape((await loadResolved(BOOKINFO)).resolved.mesh));
  });
});
