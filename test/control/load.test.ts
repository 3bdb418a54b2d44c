import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IncrementalMeshLoader } from '../../simulator/control/load';
import { formatDiagnostic } from '../../simulator/diagnostics-format';

const MESH = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: m }
spec:
  services:
    - name: reviews
      port: 9080
      workloads:
        - name: reviews-v1
          labels: { version: v1 }
          port: 9181
`;
const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets:
    - name: v1
      labels: { version: v1 }
`;
const VS = (subset: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: { host: reviews, subset: ${subset} }
`;

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-load-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

test('the Mesh and every policy in its folder tree are loaded, namespaces defaulted', async () => {
  const dir = folder({ 'mesh.yaml': MESH, 'policies/dr.yaml': DR, 'policies/deep/vs.yaml': VS('v1'), 'notes.yaml': 'just: yaml\n' });
  try {
    const ws = await new IncrementalMeshLoader(path.join(dir, 'mesh.yaml')).load();
    assert.deepEqual(ws.diagnostics, []);
    assert.equal(ws.mesh.metadata.name, 'm');
    assert.deepEqual(ws.resources.map((r) => `${r.kind}/${r.metadata.name}/${r.metadata.namespace}`).sort(), ['DestinationRule/reviews/default', 'VirtualService/reviews/default']);
    assert.equal(ws.rootDir, dir);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a control-plane finding is a catalogued diagnostic at its Mesh field, printed as validate prints one', async () => {
  const dir = folder({ 'mesh.yaml': MESH });
  try {
    const ws = await new IncrementalMeshLoader(path.join(dir, 'mesh.yaml')).load();
    const d = ws.meshDiagnostic(['spec', 'services', 0, 'workloads', 0, 'port'], 'port-in-use', 'port 9181 of workload reviews-v1 is already in use by another process');
    assert.deepEqual([d.line, d.column, d.severity, d.code], [11, 17, 'error', 'port-in-use']);
    assert.equal(formatDiagnostic({ ...d, file: 'mesh.yaml' }), 'mesh.yaml:11:17: error port-in-use: port 9181 of workload reviews-v1 is already in use by another process');
    const nowhere = ws.meshDiagnostic(undefined, 'bad-command', 'x');
    assert.deepEqual([path.resolve(nowhere.file), nowhere.line, nowhere.column], [path.join(dir, 'mesh.yaml'), 1, 1]);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('an error in any policy file is a diagnostic with file, line and code, formatted like devmesh validate', async () => {
  const dir = folder({ 'mesh.yaml': MESH, 'dr.yaml': DR, 'vs.yaml': VS('v7') });
  try {
    const ws = await new IncrementalMeshLoader(path.join(dir, 'mesh.yaml')).load();
    const d = ws.diagnostics.find((x) => x.severity === 'error')!;
    assert.equal(d.code, 'unknown-subset');
    assert.match(formatDiagnostic(d), /vs\.yaml:8:\d+: error unknown-subset: subset "v7"/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a Mesh with no services and no workloads is nothing to run: an error at spec.services, and nothing is loaded', async () => {
  const dir = folder({ 'mesh.yaml': 'apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata: { name: m }\nspec:\n  services: []\n' });
  try {
    const ws = await new IncrementalMeshLoader(path.join(dir, 'mesh.yaml')).load();
    const errors = ws.diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(errors.map((d) => [d.code, d.line, d.column]), [['nothing-to-run', 5, 3]]);
    assert.match(errors[0].message, /nothing to run: add a service with its workloads/);
    assert.deepEqual(ws.mesh.spec.services, []);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a missing Mesh file is one clear error, not an exception', async () => {
  const ws = await new IncrementalMeshLoader('/nonexistent/mesh.yaml').load();
  assert.equal(ws.diagnostics.length, 1);
  assert.equal(ws.diagnostics[0].code, 'file-unreadable');
  assert.match(ws.diagnostics[0].message, /Mesh file not found/);
});

test('the incremental loader sees a changed, an added and a removed file without reading the rest again', async () => {
  const dir = folder({ 'mesh.yaml': MESH, 'dr.yaml': DR });
  try {
    const loader = new IncrementalMeshLoader(path.join(dir, 'mesh.yaml'));
    assert.equal((await loader.load()).resources.length, 1);
    writeFileSync(path.join(dir, 'vs.yaml'), VS('v1'));
    let ws = await loader.update([path.join(dir, 'vs.yaml')]);
    assert.deepEqual(ws.resources.map((r) => r.kind).sort(), ['DestinationRule', 'VirtualService']);
    writeFileSync(path.join(dir, 'vs.yaml'), VS('v9'));
    ws = await loader.update([path.join(dir, 'vs.yaml')]);
    assert.ok(ws.diagnostics.some((d) => d.code === 'unknown-subset'));
    unlinkSync(path.join(dir, 'vs.yaml'));
    ws = await loader.update([path.join(dir, 'vs.yaml')]);
    assert.deepEqual(ws.diagnostics, []);
    assert.deepEqual(ws.resources.map((r) => r.kind), ['DestinationRule']);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a file the core would not read (a folder devmesh export wrote) is not added by an incremental update', async () => {
  const dir = folder({ 'mesh.yaml': MESH, 'dr.yaml': DR, 'vs.yaml': VS('v1') });
  try {
    const loader = new IncrementalMeshLoader(path.join(dir, 'mesh.yaml'));
    await loader.load();
    mkdirSync(path.join(dir, 'k8s'));
    writeFileSync(path.join(dir, 'k8s', 'kustomization.yaml'), '# Generated by devmesh export\nresources: [vs.yaml]\n');
    writeFileSync(path.join(dir, 'k8s', 'vs.yaml'), VS('v1'));
    const ws = await loader.update([path.join(dir, 'k8s', 'kustomization.yaml'), path.join(dir, 'k8s', 'vs.yaml')]);
    assert.deepEqual(ws.diagnostics.filter((d) => d.severity === 'error'), []);
    assert.equal(ws.resources.filter((r) => r.kind === 'VirtualService').length, 1);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('changedOnDisk names the files edited, added and removed since they were read, and none when nothing was', async () => {
  const dir = folder({ 'mesh.yaml': MESH, 'policies/dr.yaml': DR, 'policies/vs.yaml': VS('v1'), 'policies/gone.yaml': 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: default }\nspec:\n  mtls: { mode: STRICT }\n' });
  try {
    const loader = new IncrementalMeshLoader(path.join(dir, 'mesh.yaml'));
    assert.deepEqual(await loader.changedOnDisk(), [], 'before any load: nothing to compare');
    await loader.load();
    assert.deepEqual(await loader.changedOnDisk(), []);
    writeFileSync(path.join(dir, 'policies/dr.yaml'), DR); // the same text: not a change
    writeFileSync(path.join(dir, 'policies/vs.yaml'), `${VS('v1')}      timeout: 2s\n`);
    writeFileSync(path.join(dir, 'policies/new.yaml'), 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: allow-nothing }\nspec: {}\n');
    unlinkSync(path.join(dir, 'policies/gone.yaml'));
    const changed = await loader.changedOnDisk();
    assert.deepEqual(changed, ['policies/gone.yaml', 'policies/new.yaml', 'policies/vs.yaml'].map((f) => path.join(dir, f)));
    const ws = await loader.update(changed);
    assert.deepEqual(ws.diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic(d)), []);
    assert.deepEqual(ws.resources.map((r) => `${r.kind}/${r.metadata.name}`).sort(), ['AuthorizationPolicy/allow-nothing', 'DestinationRule/reviews', 'VirtualService/reviews']);
    assert.deepEqual(await loader.changedOnDisk(), []);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
