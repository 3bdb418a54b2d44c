/** The cross-file rules on a Mesh with namespaces and multi-port services: each finding where Istio would make it. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkBeside, codes } from './fixtures';
import { Workspace } from '../../simulator/policy';

const MESH = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  services:
    - name: productpage
      namespace: front
      port: 9080
      workloads: [{ name: productpage-v1, serviceAccount: bookinfo-productpage, port: 9180 }]
    - name: details
      ports:
        - { name: http, port: 9080 }
        - { name: http-admin, port: 9090, targetPort: 9090 }
      workloads: [{ name: details-v1, ports: { "9080": 9181, "9090": 9191 } }]
    - name: reviews
      port: 9080
      workloads: [{ name: reviews-v1, labels: { version: v1 }, serviceAccount: bookinfo-reviews, port: 9182 }]
    - name: reviews-v1
      port: 9080
      selector: { app: reviews, version: v1 }
`;

/** Diagnostics of one policy file beside the Mesh, as `code@line` (1-based) with their messages. */
const check = (policy: string) => checkBeside(MESH, policy);

describe('a Mesh over namespaces', () => {
  it('is valid as written: per-version services, a second port, a workload in another namespace', () => {
    const ws = new Workspace();
    ws.setFile('/m/mesh.yaml', MESH);
    assert.deepEqual(ws.diagnostics().map((d) => `${d.code}: ${d.message}`), []);
  });

  it('a short host is a service of the policy\'s own namespace; name.namespace is taken literally, as Istio does', () => {
    const ds = check(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: r, namespace: front }
spec:
  hosts: [reviews.default.svc.cluster.local]
  http:
    - route:
        - destination: { host: reviews }
        - destination: { host: reviews.default }
        - destination: { host: reviews.default.svc.cluster.local }
`);
    assert.deepEqual(codes(ds), ['unknown-host@8', 'unknown-host@9']);
    assert.match(ds[0].message, /namespace "front", which has no "reviews": write "reviews\.default\.svc\.cluster\.local"/);
    assert.match(ds[1].message, /Istio reads "reviews\.default" literally .* write "reviews\.default\.svc\.cluster\.local"/);
  });

  it('a principal naming a service account of another namespace says where it runs', () => {
    const ds = check(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: a, namespace: default }
spec:
  rules:
    - from: [{ source: { principals: [cluster.local/ns/default/sa/bookinfo-productpage, cluster.local/ns/front/sa/bookinfo-productpage] } }]
`);
    assert.deepEqual(codes(ds), ['unknown-principal@6']);
    assert.match(ds[0].message, /runs in namespace "front": write "cluster\.local\/ns\/front\/sa\/bookinfo-productpage"/);
  });

  it('selectors select in their namespace; an AuthorizationPolicy in the root namespace selects in all, a PeerAuthentication there none', () => {
    const ds = check(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: here, namespace: default }
spec:
  selector: { matchLabels: { app: productpage } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: everywhere, namespace: istio-system }
spec:
  selector: { matchLabels: { app: productpage } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: rooted, namespace: istio-system }
spec:
  selector: { matchLabels: { app: productpage } }
  mtls: { mode: STRICT }
`);
    assert.deepEqual(codes(ds.filter((d) => d.code !== 'deny-all')), ['no-matching-workloads@5', 'ineffective-policy@17']);
  });

  it('a RequestAuthentication selects like an AuthorizationPolicy: in its namespace, or from the root namespace in all', () => {
    const ds = check(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: here, namespace: default }
spec:
  selector: { matchLabels: { app: productpage } }
  jwtRules: [{ issuer: https://issuer.example.com, jwksUri: https://127.0.0.1:8443/jwks.json }]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: everywhere, namespace: istio-system }
spec:
  selector: { matchLabels: { app: productpage } }
  jwtRules: [{ issuer: https://issuer.example.com, jwksUri: https://127.0.0.1:8443/jwks.json }]
`);
    assert.deepEqual(codes(ds), ['no-matching-workloads@5']);
  });

  it('an extension provider names a service of any namespace by its FQDN (or ns/FQDN) at any of its ports', () => {
    const ws = new Workspace();
    ws.setFile('/m/mesh.yaml', MESH.replace('spec:\n', `spec:
  extensionProviders:
    - { name: admin, envoyExtAuthzHttp: { service: details.default.svc.cluster.local, port: 9090 } }
    - { name: scoped, envoyExtAuthzHttp: { service: default/details.default.svc.cluster.local, port: 9080 } }
    - { name: wrong-port, envoyExtAuthzHttp: { service: details.default.svc.cluster.local, port: 9191 } }
    - { name: wrong-namespace, envoyExtAuthzHttp: { service: front/details.default.svc.cluster.local, port: 9080 } }
`));
    const ds = ws.diagnostics();
    assert.deepEqual(ds.map((d) => d.code), ['bad-provider', 'bad-provider']);
    assert.match(ds[0].message, /has no port 9191 \(it has 9080, 9090\)/);
    assert.match(ds[1].message, /could not find service front\/details\.default\.svc\.cluster\.local/);
  });

  it('two VirtualServices for one host conflict only where one namespace sees both (exportTo), and both are told', () => {
    const vs = (name: string, ns: string, exportTo?: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${ns} }
spec:
  hosts: [reviews.default.svc.cluster.local]${exportTo ? `\n  exportTo: ["${exportTo}"]` : ''}
  http: [{ route: [{ destination: { host: reviews.default.svc.cluster.local } }] }]
`;
    assert.deepEqual(codes(check([vs('a', 'default', '.'), vs('b', 'front', '.')].join('---\n'))), []);
    assert.deepEqual(codes(check([vs('a', 'default', '.'), vs('b', 'front')].join('---\n'))), ['duplicate-host@5', 'duplicate-host@13']);
    assert.deepEqual(codes(check([vs('a', 'front'), vs('b', 'default', '.')].join('---\n'))), ['duplicate-host@5', 'duplicate-host@12']);
  });

  it('DestinationRules for one host conflict only within one namespace', () => {
    const dr = (name: string, ns: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name}, namespace: ${ns} }
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy: { loadBalancer: { simple: RANDOM } }
`;
    assert.deepEqual(codes(check([dr('a', 'default'), dr('b', 'front')].join('---\n'))), []);
    assert.deepEqual(codes(check([dr('a', 'default'), dr('b', 'default')].join('---\n'))), ['conflicting-destination-rules@13']);
  });

  it('ports: destinations and matches name service ports; portLevelSettings service ports; portLevelMtls container ports', () => {
    const ds = check(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: d, namespace: default }
spec:
  hosts: [details]
  http:
    - match: [{ port: 9091 }]
      route: [{ destination: { host: details, port: { number: 9090 } } }]
    - route:
        - destination: { host: details, port: { number: 9999 } }
        - destination: { host: details }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge, namespace: default }
spec:
  hosts: [details]
  gateways: [gw]
  http: [{ route: [{ destination: { host: details } }] }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: d, namespace: default }
spec:
  host: details
  trafficPolicy:
    portLevelSettings:
      - { port: { number: 9090 }, tls: { mode: DISABLE } }
      - { port: { number: 9191 }, tls: { mode: DISABLE } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: d, namespace: default }
spec:
  selector: { matchLabels: { app: details } }
  portLevelMtls:
    "9090": { mode: PERMISSIVE }
    "9191": { mode: PERMISSIVE }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ns, namespace: default }
spec:
  portLevelMtls: { "9090": { mode: PERMISSIVE } }
`);
    const byCode = ds.map((d) => `${d.code}@${d.line}:${d.severity}`);
    assert.deepEqual(byCode.sort(), [
      'bad-value@51:error',
      'destination-port-required@11:warning',
      'destination-port-required@19:error',
      'unknown-port@10:error',
      'unknown-port@36:warning',
      'unknown-port@45:warning',
      'unknown-port@7:warning',
    ].sort());
  });
});
