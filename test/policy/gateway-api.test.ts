/**
 * Gateway API documents in the policy language: their schema, the status a
 * controller would write (Accepted, ResolvedRefs per parent; listener
 * conditions) and the diagnostics devmesh turns it into, with positions.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Workspace, classify, offsetToPosition, type Diagnostic } from '../../simulator/policy';
import { createCa } from '../../simulator/control/ca';

const MESH = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  services:
    - name: reviews
      ports: [{ name: http, port: 9080 }, { name: http-admin, port: 9090 }]
      workloads: [{ name: reviews-v1, labels: { version: v1 }, ports: { "9080": 9182, "9090": 9192 } }]
    - name: ratings
      port: 9080
      workloads: [{ name: ratings-v1, port: 9183 }]
    - name: billing
      namespace: pay
      port: 8080
      workloads: [{ name: billing-v1, port: 9184 }]
`;

function check(policy: string, extra: Record<string, string> = {}): (Diagnostic & { line: number })[] {
  const ws = new Workspace();
  ws.setFile('/m/mesh.yaml', MESH);
  for (const [f, text] of Object.entries(extra)) ws.setFile(f, text);
  ws.setFile('/m/p.yaml', policy);
  const lines = ws.getSource('/m/p.yaml')!.lineStarts;
  return ws.diagnostics().filter((d) => d.file === '/m/p.yaml').map((d) => ({ ...d, line: offsetToPosition(lines, d.range.start).line + 1 }));
}
const codes = (ds: { code: string; line: number; severity?: string }[]) => ds.map((d) => `${d.code}@${d.line}`);

describe('Gateway API kinds', () => {
  it('are told apart from Istio\'s by their group: kind Gateway is Istio\'s under networking.istio.io and the Gateway API\'s under gateway.networking.k8s.io', () => {
    assert.equal(classify('networking.istio.io/v1', 'Gateway').kind, 'Gateway');
    assert.equal(classify('gateway.networking.k8s.io/v1', 'Gateway').kind, 'KubernetesGateway');
    assert.equal(classify('gateway.networking.k8s.io/v1beta1', 'HTTPRoute').kind, 'HTTPRoute');
    assert.equal(classify('gateway.networking.k8s.io/v1alpha2', 'GRPCRoute').kind, 'GRPCRoute');
    assert.equal(classify('gateway.networking.k8s.io/v1beta1', 'ReferenceGrant').kind, 'ReferenceGrant');
    assert.equal(classify('gateway.networking.k8s.io/v9', 'HTTPRoute').problem, 'unknown-api-version');
    assert.equal(classify('gateway.networking.k8s.io/v1alpha2', 'UDPRoute').problem, 'unsupported-kind');
    assert.equal(classify('gateway.networking.k8s.io/v1', 'GatewayClass').istioGroup, false, 'a GatewayClass is the cluster\'s, not a policy');
    assert.equal(classify(undefined, 'HTTPRoute').problem, 'missing-api-version');
  });

  it('an HTTPRoute attached to a Service of the Mesh is valid; a typo in a field is found by the schema', () => {
    assert.deepEqual(codes(check(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews, port: 9080 }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /v2 }, headers: [{ name: end-user, value: jason }] }]
      backendRefs: [{ name: reviews, port: 9080 }]
      timeouts: { request: 500ms }
    - backendRefs: [{ name: ratings, port: 9080, weight: 0 }, { name: reviews, port: 9080 }]
      filtres: []
`)), ['unknown-field@11']);
  });
});

describe('route status as diagnostics', () => {
  it('a parentRef to a Service the Mesh lacks, or to a port the Service lacks, is not Accepted (NoMatchingParent)', () => {
    const ds = check(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs:
    - { group: "", kind: Service, name: reveiws }
    - { group: "", kind: Service, name: reviews, port: 80 }
  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]
`);
    assert.deepEqual(codes(ds), ['route-not-accepted@6', 'route-not-accepted@7']);
    assert.match(ds[0].message, /Accepted: False \(NoMatchingParent\): parent Service default\/reveiws is not a service of the Mesh/);
    assert.match(ds[1].message, /has no port 80; it has 9080, 9090/);
  });

  it('a backend that does not resolve is ResolvedRefs: False — its share gets 500 — and a weight-0 one is only a note', () => {
    const ds = check(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews }]
  rules:
    - backendRefs:
        - { name: reviews, port: 9080 }
        - { name: reviews-v9, port: 9080 }
        - { name: ratings, port: 1234 }
        - { name: ghost, port: 80, weight: 0 }
        - { kind: ServiceImport, name: reviews, port: 9080 }
`);
    assert.deepEqual(ds.map((d) => `${d.code}@${d.line}:${d.severity}`), [
      'route-refs-unresolved@9:warning', 'route-refs-unresolved@10:warning', 'route-refs-unresolved@11:info', 'route-refs-unresolved@12:warning',
    ]);
    assert.match(ds[0].message, /BackendNotFound\): backend Service default\/reviews-v9 is not a service of the Mesh; requests that would go there get 500/);
    assert.match(ds[1].message, /has no port 1234; it has 9080/);
    assert.match(ds[2].message, /its weight is 0, so no request goes there/);
    assert.match(ds[3].message, /InvalidKind/);
  });

  it('filters the Gateway API refuses together make the route not Accepted', () => {
    const ds = check(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews }]
  rules:
    - matches: [{ path: { type: Exact, value: /a } }]
      filters:
        - { type: RequestRedirect, requestRedirect: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /b } } }
        - { type: URLRewrite, urlRewrite: { hostname: x.example } }
    - filters: [{ type: ExtensionRef, extensionRef: { group: example.com, kind: Thing, name: t } }]
      backendRefs: [{ name: reviews, port: 9080 }]
`);
    assert.deepEqual(ds.filter((d) => d.code === 'route-not-accepted').map((d) => `${d.line} ${/\((\w+)\)/.exec(d.message)![1]}`), ['7 UnsupportedValue', '9 IncompatibleFilters', '11 InvalidFilter']);
  });

  it('a backend in another namespace needs a ReferenceGrant there when a Gateway routes to it, not for mesh routes', () => {
    const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: 80, protocol: HTTP }]
`;
    const route = (parent: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [${parent}]
  rules: [{ backendRefs: [{ name: billing, namespace: pay, port: 8080 }] }]
`;
    assert.deepEqual(codes(check(route('{ group: "", kind: Service, name: reviews }'))), [], 'mesh routes need no grant');
    const refused = check(route('{ name: edge }'), { '/m/gw.yaml': gateway });
    assert.deepEqual(codes(refused), ['route-refs-unresolved@6']);
    assert.match(refused[0].message, /RefNotPermitted\): backendRef pay\/billing is in another namespace and no ReferenceGrant in pay allows HTTPRoutes of default/);
    const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: from-default, namespace: pay }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default }]
  to: [{ group: "", kind: Service }]
`;
    assert.deepEqual(codes(check(route('{ name: edge }'), { '/m/gw.yaml': gateway, '/m/grant.yaml': grant })), []);
  });

  it('a listener decides which routes attach: allowedRoutes namespaces and kinds, hostnames, sectionName', () => {
    const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: infra }
spec:
  gatewayClassName: istio
  listeners:
    - { name: shop, hostname: shop.example.com, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }
    - { name: same, port: 8080, protocol: HTTP }
`;
    const ds = check(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs:
    - { name: edge, namespace: infra, sectionName: shop }
    - { name: edge, namespace: infra, sectionName: same }
    - { name: edge, namespace: infra, sectionName: nope }
  hostnames: [api.example.com]
  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]
`, { '/m/gw.yaml': gateway });
    assert.deepEqual(ds.map((d) => `${d.line} ${d.severity} ${/\((\w+)\)/.exec(d.message)![1]}`), ['6 warning NoMatchingListenerHostname', '7 warning NotAllowedByListeners', '8 error NoMatchingParent']);
  });

  it('listeners devmesh cannot serve, Gateways of other classes, and HTTPS without certificateRefs are told', () => {
    const ds = check(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  gatewayClassName: istio
  listeners:
    - { name: udp, port: 5432, protocol: UDP }
    - { name: a, port: 80, protocol: HTTP }
    - { name: b, port: 80, protocol: HTTPS }
    - { name: tls, port: 443, protocol: HTTPS }
    - { name: missing, port: 8443, protocol: HTTPS, tls: { certificateRefs: [{ name: nope }] } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: other }
spec:
  gatewayClassName: cilium
  listeners: [{ name: http, port: 80, protocol: HTTP }]
`);
    assert.deepEqual(ds.map((d) => `${d.code}@${d.line}`), [
      'listener-invalid@7', 'listener-invalid@8', 'listener-invalid@9', 'minted-certificate@10', 'listener-invalid@11', 'gateway-class-ignored@17',
    ]);
    assert.match(ds[1].message, /ProtocolConflict/);
    assert.match(ds[4].message, /no Secret default\/nope in the workspace/);
  });

  it('a TLS Secret in the workspace resolves a certificateRef; one without tls.key does not', () => {
    const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  gatewayClassName: istio
  listeners: [{ name: https, port: 443, protocol: HTTPS, tls: { certificateRefs: [{ name: shop-cert }] } }]
`;
    const secret = `apiVersion: v1
kind: Secret
metadata: { name: shop-cert }
type: kubernetes.io/tls
stringData:
  tls.crt: "x"
`;
    const ds = check(gateway, { '/m/secret.yaml': secret });
    assert.deepEqual(codes(ds), ['listener-invalid@6']);
    assert.match(ds[0].message, /Secret default\/shop-cert: needs both tls.crt and tls.key/);
  });

  it('a host routed by a VirtualService and an HTTPRoute is told on both, with the split Istio makes', () => {
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews, port: { number: 9080 } } }] }]
`;
    const ws = new Workspace();
    ws.setFile('/m/mesh.yaml', MESH);
    ws.setFile('/m/vs.yaml', vs);
    ws.setFile('/m/route.yaml', `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews-route }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews }]
  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]
`);
    const both = ws.diagnostics().filter((d) => d.code === 'routed-by-both-apis');
    assert.deepEqual(both.map((d) => d.file).sort(), ['/m/route.yaml', '/m/vs.yaml']);
    assert.match(both[0].message, /the HTTPRoute for callers in namespace default, VirtualService default\/reviews for every other caller/);
  });
});

/**
 * The Gateway API conformance suite's GatewayInvalidTLSConfiguration and
 * GatewaySecret*ReferenceGrant cases, as data: a listener whose
 * certificateRefs do not resolve has ResolvedRefs False (InvalidCertificateRef,
 * or RefNotPermitted) and is not programmed, as Istio's buildTLS and
 * reportGatewayStatus write it; the Gateway still applies (a warning, not a
 * refused edit), routes still attach to the listener, and the Gateway with no
 * valid listener is Accepted False (ListenersNotValid).
 */
describe('Gateway API listeners whose certificateRefs do not resolve', () => {
  const ca = createCa({ trustDomain: 'example.com' });
  const cert = ca.issueServer({ dns: ['*.example.com'] });
  const tlsSecret = (namespace: string, name: string, crt = cert.certPem) => `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: ${namespace} }
type: kubernetes.io/tls
data: { tls.crt: ${Buffer.from(crt).toString('base64')}, tls.key: ${Buffer.from(cert.keyPem).toString('base64')} }
`;
  const secrets = {
    '/m/s1.yaml': tlsSecret('default', 'tls-validity-checks-certificate'),
    '/m/s2.yaml': tlsSecret('default', 'malformed', 'not a certificate'),
    '/m/s3.yaml': tlsSecret('web-backend', 'certificate'),
    '/m/s4.yaml': tlsSecret('web-backend', 'other-certificate'),
  };
  const grant = (to: string) => `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: grant, namespace: web-backend }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: Gateway, namespace: default }]
  to: [{ group: "", kind: Secret${to} }]
`;
  const gateway = (ref: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  gatewayClassName: istio
  listeners:
    - name: https
      port: 443
      protocol: HTTPS
      allowedRoutes: { namespaces: { from: All } }
      tls: { certificateRefs: [${ref}] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web }
spec:
  parentRefs: [{ name: edge }]
  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]
`;
  const cases: { name: string; ref: string; grant?: string; reason?: string }[] = [
    { name: 'a nonexistent Secret', ref: '{ group: "", kind: Secret, name: nonexistent-certificate }', reason: 'InvalidCertificateRef' },
    { name: 'an unsupported group', ref: '{ group: wrong.group.company.io, kind: Secret, name: tls-validity-checks-certificate }', reason: 'InvalidCertificateRef' },
    { name: 'an unsupported kind', ref: '{ group: "", kind: WrongKind, name: tls-validity-checks-certificate }', reason: 'InvalidCertificateRef' },
    { name: 'a malformed Secret', ref: '{ name: malformed }', reason: 'InvalidCertificateRef' },
    { name: 'a Secret of another namespace without a ReferenceGrant', ref: '{ name: certificate, namespace: web-backend }', reason: 'RefNotPermitted' },
    { name: 'a Secret of another namespace whose ReferenceGrant names another Secret', ref: '{ name: certificate, namespace: web-backend }', grant: ', name: other-certificate', reason: 'RefNotPermitted' },
    { name: 'a Secret of another namespace a ReferenceGrant allows by name', ref: '{ name: certificate, namespace: web-backend }', grant: ', name: certificate' },
    { name: 'a Secret of another namespace a ReferenceGrant allows with all its Secrets', ref: '{ name: certificate, namespace: web-backend }', grant: '' },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.reason ? `ResolvedRefs False (${c.reason}), not programmed` : 'resolved and programmed'}`, () => {
      const ws = new Workspace();
      ws.setFile('/m/mesh.yaml', MESH);
      for (const [f, text] of Object.entries(secrets)) ws.setFile(f, text);
      if (c.grant !== undefined) ws.setFile('/m/grant.yaml', grant(c.grant));
      ws.setFile('/m/p.yaml', gateway(c.ref));
      const g = ws.index.gatewayApi;
      const [gw] = g.gateways;
      const [l] = gw.listeners;
      const condition = (of: { type: string; status: string; reason: string }[], type: string) => of.filter((x) => x.type === type).map((x) => `${x.status} ${x.reason}`).join();
      const route = [...g.routes.values()][0];
      assert.equal(condition(route.parents[0].conditions, 'Accepted'), 'True Accepted', 'the route attaches to the listener either way (Istio keeps it as a parent)');
      const ds = ws.diagnostics().filter((d) => d.file === '/m/p.yaml');
      if (!c.reason) {
        assert.deepEqual([condition(l.conditions, 'ResolvedRefs'), condition(l.conditions, 'Programmed'), condition(gw.conditions, 'Accepted'), l.served], ['True ResolvedRefs', 'True Programmed', 'True Accepted', true]);
        assert.deepEqual(ds.map((d) => d.code), []);
        return;
      }
      assert.equal(condition(l.conditions, 'ResolvedRefs'), `False ${c.reason}`);
      assert.equal(condition(l.conditions, 'Programmed'), 'False Invalid');
      assert.equal(condition(l.conditions, 'Accepted'), c.reason === 'RefNotPermitted' ? 'False NoValidCACertificate' : 'True Accepted', 'as Istio writes it');
      assert.equal(condition(gw.conditions, 'Accepted'), 'False ListenersNotValid');
      assert.equal(l.served, false);
      assert.deepEqual(ds.map((d) => `${d.code} ${d.severity}`), ['listener-invalid warning'], 'the Gateway applies, as on a cluster');
      assert.match(ds[0].message, /this listener is not programmed/);
    });
  }

  it('one listener invalid beside a valid one: the Gateway stays Accepted with reason ListenersNotValid, and the ingress serves only the valid one', () => {
    const ws = new Workspace();
    ws.setFile('/m/mesh.yaml', MESH);
    for (const [f, text] of Object.entries(secrets)) ws.setFile(f, text);
    ws.setFile('/m/p.yaml', `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  gatewayClassName: istio
  listeners:
    - { name: good, port: 443, protocol: HTTPS, hostname: good.example.com, tls: { certificateRefs: [{ name: tls-validity-checks-certificate }] } }
    - { name: bad, port: 443, protocol: HTTPS, hostname: bad.example.com, tls: { certificateRefs: [{ name: nonexistent-certificate }] } }
    - { name: two, port: 8443, protocol: HTTPS, tls: { certificateRefs: [{ name: nonexistent-certificate }, { name: tls-validity-checks-certificate }] } }
`);
    const [gw] = ws.index.gatewayApi.gateways;
    assert.deepEqual(gw.conditions.find((x) => x.type === 'Accepted'), { type: 'Accepted', status: 'True', reason: 'ListenersNotValid', message: 'One or more of the Gateway\'s listeners are invalid' });
    assert.deepEqual(gw.listeners.map((l) => [l.name, l.served, l.certificate?.name]), [['good', true, 'tls-validity-checks-certificate'], ['bad', false, undefined], ['two', true, 'tls-validity-checks-certificate']], 'one resolving certificateRef of two programs the listener, as Istio\'s buildTLS');
  });
});

describe('TLSRoute and TCPRoute', () => {
  const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  gatewayClassName: istio
  listeners:
    - { name: tls, port: 8443, protocol: TLS, hostname: "*.example.com", tls: { mode: Passthrough } }
    - { name: db, port: 5432, protocol: TCP }
    - { name: web, port: 8080, protocol: HTTP }
`;
  const status = (policy: string, extra: Record<string, string> = { '/m/gw.yaml': gateway }) => {
    const ws = new Workspace();
    ws.setFile('/m/mesh.yaml', MESH);
    for (const [f, text] of Object.entries(extra)) ws.setFile(f, text);
    ws.setFile('/m/p.yaml', policy);
    return ws.index.gatewayApi;
  };

  it('validate against their own schema: a field of HTTPRoute\'s rules, a negative weight, no backendRefs', () => {
    const ds = check(`apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: db }
spec:
  parentRefs: [{ name: edge, sectionName: db }]
  rules:
    - matches: [{ path: { value: / } }]
      backendRefs: [{ name: ratings, port: 9080, weight: -1 }]
    - backendRefs: []
`, { '/m/gw.yaml': gateway });
    assert.deepEqual(ds.filter((d) => d.severity !== 'info').map((d) => `${d.code}@${d.line}`), ['unknown-field@7', 'bad-value@8', 'bad-value@9']);
    assert.deepEqual(codes(check(`apiVersion: gateway.networking.k8s.io/v1alpha3
kind: TLSRoute
metadata: { name: shop }
spec:
  parentRefs: [{ name: edge }]
  hostnames: [shop.example.com]
  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]
`, { '/m/gw.yaml': gateway })), [], 'v1alpha3 is a TLSRoute version');
  });

  it('attach to the listeners whose protocol carries their kind (TLS Passthrough: TLSRoute; TCP: TCPRoute), the hostnames of a TLSRoute narrowed to the listener\'s', () => {
    const g = status(`apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: { name: shop }
spec:
  parentRefs: [{ name: edge }]
  hostnames: [shop.example.com, shop.example.org]
  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: db }
spec:
  parentRefs: [{ name: edge }]
  rules: [{ backendRefs: [{ name: ratings, port: 9080 }] }]
`);
    const [tlsRoute, tcpRoute] = [...g.routes.values()];
    assert.deepEqual(tlsRoute.parents[0].listeners, [{ name: 'tls', port: 8443, protocol: 'TLS', hostnames: ['shop.example.com'] }]);
    assert.deepEqual(tcpRoute.parents[0].listeners?.map((l) => l.name), ['db']);
    const listeners = g.gateways[0].listeners;
    assert.deepEqual(listeners.map((l) => [l.name, l.served, l.attachedRoutes, l.allowedRoutes.kinds.join(',')]), [
      ['tls', true, 1, 'TLSRoute'], ['db', true, 1, 'TCPRoute'], ['web', true, 0, 'HTTPRoute,GRPCRoute'],
    ]);
  });

  it('a route whose kind the listener does not allow is not Accepted (NotAllowedByListeners), and neither is a TLSRoute no listener hostname matches (NoMatchingListenerHostname)', () => {
    const ds = check(`apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: wrong-listener }
spec:
  parentRefs: [{ name: edge, sectionName: tls }]
  rules: [{ backendRefs: [{ name: ratings, port: 9080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: { name: other-domain }
spec:
  parentRefs: [{ name: edge, sectionName: tls }]
  hostnames: [shop.example.org]
  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: http-on-db }
spec:
  parentRefs: [{ name: edge, sectionName: db }]
  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]
`, { '/m/gw.yaml': gateway });
    assert.deepEqual(ds.map((d) => `${d.line} ${d.severity} ${/\((\w+)\)/.exec(d.message)![1]}`), ['5 warning NotAllowedByListeners', '12 warning NoMatchingListenerHostname', '20 warning NotAllowedByListeners']);
    assert.match(ds[0].message, /kind TCPRoute is not allowed by listener tls \(allowedRoutes.kinds: TLSRoute\)/);
  });

  it('a listener asking for kinds its protocol cannot carry says so (InvalidRouteKinds); a second TLS Terminate listener on a port and a Service parent are told as not simulated', () => {
    const ds = check(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  gatewayClassName: istio
  listeners:
    - { name: tls, port: 8443, protocol: TLS, tls: { mode: Passthrough }, allowedRoutes: { kinds: [{ kind: TLSRoute }, { kind: TCPRoute }] } }
    - { name: term, port: 9443, protocol: TLS, hostname: a.example.com, tls: { mode: Terminate } }
    - { name: term-b, port: 9443, protocol: TLS, hostname: b.example.com, tls: { mode: Terminate } }
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: mesh-db }
spec:
  parentRefs: [{ group: "", kind: Service, name: ratings }]
  rules: [{ backendRefs: [{ name: ratings, port: 9080 }] }]
`);
    assert.deepEqual(ds.filter((d) => d.code !== 'minted-certificate').map((d) => `${d.code}@${d.line}:${d.severity}`), ['listener-invalid@7:error', 'listener-invalid@9:warning', 'route-not-accepted@15:warning']);
    assert.match(ds[0].message, /InvalidRouteKinds: route kinds TCPRoute cannot attach to a TLS \(Passthrough\) listener; TLSRoute can/);
    assert.match(ds.find((d) => d.line === 9 && d.code === 'listener-invalid')!.message, /shares port 9443 with TLS Terminate listener term: devmesh serves one TLS Terminate listener per port/);
    assert.match(ds.find((d) => d.code === 'route-not-accepted')!.message, /a Service parent \(mesh TCPRoute routing, GAMMA\) is not simulated/);
    assert.match(ds.find((d) => d.code === 'minted-certificate' && d.line === 8)!.message, /TLS listener term names no certificateRefs: devmesh mints a certificate for a.example.com/);
  });

  it('a backend that does not resolve closes the connections of its share', () => {
    const ds = check(`apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: db }
spec:
  parentRefs: [{ name: edge, sectionName: db }]
  rules: [{ backendRefs: [{ name: postgres, port: 5432 }] }]
`, { '/m/gw.yaml': gateway });
    assert.deepEqual(codes(ds), ['route-refs-unresolved@6']);
    assert.match(ds[0].message, /default\/postgres is not a service of the Mesh; connections that would go there are closed/);
  });
});
