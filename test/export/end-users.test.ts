/**
 * End-user policies on the way to a cluster and back: a JWKS file becomes
 * `jwks` inline, the Mesh's extensionProviders become an IstioOperator
 * overlay beside the kustomization, and importing the result gives the same
 * providers and policies again.
 */
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { exportMesh } from '../../simulator/export';
import { importManifests } from '../../simulator/import';
import { generateKeys } from '../../simulator/jwt-keys';
import { resolvePolicies, Workspace } from '../../simulator/policy';
import { readReferencedFile } from '../../simulator/policy-files';
import { loadResolved, ROOT, tempDir } from './helpers';

const EXAMPLE = path.join(ROOT, 'examples', 'end-users');
const TASKS = path.join(ROOT, 'examples', 'end-users-tasks');

async function exampleWithTasks(dir: string, extraMesh = ''): Promise<{ meshFile: string; jwks: object }> {
  await fs.cp(EXAMPLE, dir, { recursive: true });
  for (const f of ['request-authentication-ingress.yaml', 'ext-authz.yaml']) await fs.copyFile(path.join(TASKS, f), path.join(dir, 'policies', f));
  const { jwks } = await generateKeys('ES256');
  await fs.writeFile(path.join(dir, 'jwks.json'), JSON.stringify(jwks));
  const meshFile = path.join(dir, 'mesh.yaml');
  if (extraMesh) await fs.writeFile(meshFile, (await fs.readFile(meshFile, 'utf8')).replace('  extensionProviders:\n', `  extensionProviders:\n${extraMesh}`));
  return { meshFile, jwks };
}

describe('export and import of end-user policies', () => {
  it('inlines a JWKS file, writes the extension providers as mesh config, and imports both back', async (t) => {
    const dir = await tempDir(t);
    const { meshFile, jwks } = await exampleWithTasks(dir);
    const { resolved, sources } = await loadResolved(meshFile);
    const result = exportMesh(resolved, sources, { readFile: (written, policyPath) => readReferencedFile(written, path.join(dir, policyPath)) });

    const ra = result.istio.flatMap((c) => c.resources).find((r) => r.kind === 'RequestAuthentication') as unknown as { spec: { jwtRules: { jwks?: string; jwksUri?: string }[] } };
    assert.equal(ra.spec.jwtRules[0].jwksUri, undefined);
    assert.deepEqual(JSON.parse(ra.spec.jwtRules[0].jwks!), jwks);
    const meshConfig = result.files.find((f) => f.path === 'mesh-config.yaml')!;
    const overlay = parse(meshConfig.text);
    assert.equal(overlay.kind, 'IstioOperator');
    assert.deepEqual(overlay.spec.meshConfig.extensionProviders, resolved.mesh.extensionProviders);
    const kustomization = parse(result.files.find((f) => f.path === 'kustomization.yaml')!.text);
    assert.ok(!kustomization.resources.includes('mesh-config.yaml'));
    assert.deepEqual(result.findings.filter((f) => ['jwks-inlined', 'extension-providers'].includes(f.code)).map((f) => f.code), ['jwks-inlined', 'extension-providers']);

    const back = importManifests(result.files, { name: 'end-users', source: 'k8s' });
    const ws = new Workspace();
    ws.setFile('/rt/mesh.yaml', back.meshText);
    for (const p of back.policies) ws.setFile(path.posix.join('/rt/policies', p.path), p.text);
    assert.deepEqual(ws.diagnostics().filter((d) => d.severity === 'error'), []);
    const again = resolvePolicies(ws)!;
    assert.deepEqual(again.mesh.extensionProviders, resolved.mesh.extensionProviders);
    assert.equal(again.resources.RequestAuthentication.length, 1);
    assert.equal(again.resources.AuthorizationPolicy.find((p) => p.metadata.name === 'ext-authz')?.spec.provider?.name, 'sample-ext-authz-http');
    assert.ok(back.notes.some((n) => n.code === 'mesh-config'));
  });

  it('imports the providers of an istio ConfigMap too', () => {
    const configMap = `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |-
    extensionProviders:
    - name: "sample-ext-authz-http"
      envoyExtAuthzHttp:
        service: "ext-authz.foo.svc.cluster.local"
        port: "8000"
        includeRequestHeadersInCheck: ["x-ext-authz"]
`;
    const result = importManifests([{ path: 'istio.yaml', text: configMap }, { path: 'svc.yaml', text: SERVICE }], { name: 'x', source: 'k8s' });
    assert.match(result.meshText, /extensionProviders:\n\s+- name: sample-ext-authz-http/);
    assert.ok(!result.notes.some((n) => n.code === 'namespace' && n.message.includes('ConfigMap')));
  });

  it('warns that a local authorizer and a loopback jwksUri do not exist on a cluster', async (t) => {
    const dir = await tempDir(t);
    const { meshFile } = await exampleWithTasks(dir, '    - name: local\n      envoyExtAuthzHttp: { service: 127.0.0.1, port: 9300 }\n');
    await fs.writeFile(path.join(dir, 'policies', 'request-authentication-ingress.yaml'),
      (await fs.readFile(path.join(dir, 'policies', 'request-authentication-ingress.yaml'), 'utf8')).replace('jwksUri: ../jwks.json', 'jwksUri: http://127.0.0.1:8089/jwks.json'));
    const { resolved, sources } = await loadResolved(meshFile);
    const codes = exportMesh(resolved, sources).findings.map((f) => f.code);
    assert.ok(codes.includes('loopback-authorizer'));
    assert.ok(codes.includes('loopback-jwks'));
  });
});

const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web-v1, namespace: default }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: example/web:1, ports: [{ containerPort: 8080 }] }]
`;
