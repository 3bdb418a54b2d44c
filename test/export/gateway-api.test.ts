/**
 * Gateway API resources through `devmesh export` (copied as written, with
 * what the cluster needs said: the CRDs, the experimental channel, the TLS
 * Secrets) and `devmesh import` (read back beside the Mesh, valid).
 */
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { devmesh, tempDir } from './helpers';

const MESH = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  namespace: shop
  services:
    - name: web
      port: 8080
      workloads: [{ name: web-v1, port: 18080, image: example/web:1 }]
    - name: cart
      port: 8080
      workloads: [{ name: cart-v1, port: 18081, image: example/cart:1 }]
`;

const ROUTES = `# The edge and the mesh routes of the shop.
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  gatewayClassName: istio
  listeners:
    - { name: http, port: 80, protocol: HTTP }
    - { name: https, port: 443, protocol: HTTPS, hostname: shop.example.com }
    - { name: cart-tcp, port: 7000, protocol: TCP }
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: cart-tcp }
spec:
  parentRefs: [{ name: edge, sectionName: cart-tcp }]
  rules: [{ backendRefs: [{ name: cart, port: 8080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web }
spec:
  parentRefs: [{ name: edge }]
  rules: [{ backendRefs: [{ name: web, port: 8080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: cart-retries }
spec:
  parentRefs: [{ group: "", kind: Service, name: cart }]
  rules:
    - backendRefs: [{ name: cart, port: 8080 }]
      retry: { attempts: 3, codes: [503] }   # experimental channel
`;

describe('devmesh export and import of Gateway API resources', () => {
  it('copies them as written (comments kept, namespace set) and says what the cluster needs', async (t) => {
    const dir = await tempDir(t);
    await fs.writeFile(path.join(dir, 'mesh.yaml'), MESH);
    await fs.writeFile(path.join(dir, 'routes.yaml'), ROUTES);
    const run = devmesh(['export', '-f', path.join(dir, 'mesh.yaml'), '--out', path.join(dir, 'k8s')]);
    assert.equal(run.status, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /4 Istio and Gateway API resources/);
    const copied = await fs.readFile(path.join(dir, 'k8s', 'istio', 'routes.yaml'), 'utf8');
    assert.match(copied, /^# The edge and the mesh routes of the shop\./);
    assert.match(copied, /retry: \{ attempts: 3, codes: \[ ?503 ?\] \} +# experimental channel/);
    assert.equal((copied.match(/namespace: shop/g) ?? []).length, 4);
    const said = run.stdout + run.stderr;
    assert.match(said, /the cluster needs the Gateway API CRDs/);
    assert.match(said, /HTTPRoute cart-retries .* only the experimental-install\.yaml CRDs have/);
    assert.match(said, /listener https has no certificateRefs; devmesh minted a certificate locally/);
    assert.match(said, /TCPRoute cart-tcp .* is an alpha Gateway API kind .*PILOT_ENABLE_ALPHA_GATEWAY_API=true/);

    // Back again: import reads the exported manifests (devmesh import skips a folder export wrote, so they are copied first).
    const manifests = path.join(dir, 'manifests');
    await fs.cp(path.join(dir, 'k8s'), manifests, { recursive: true });
    await fs.rm(path.join(manifests, 'kustomization.yaml'));
    const back = path.join(dir, 'back');
    const imported = devmesh(['import', manifests, '--out', path.join(back, 'mesh.yaml')]);
    assert.equal(imported.status, 0, imported.stderr + imported.stdout);
    assert.match(imported.stdout, /copied 4 Istio and Gateway API resources/);
    const policies = await fs.readdir(path.join(back, 'policies'));
    const text = (await Promise.all(policies.map((f) => fs.readFile(path.join(back, 'policies', f), 'utf8')))).join('\n');
    assert.match(text, /kind: HTTPRoute\nmetadata: \{ name: cart-retries, namespace: shop \}/);
    const check = devmesh(['validate', back]);
    assert.equal(check.status, 0, check.stdout);
  });
});
