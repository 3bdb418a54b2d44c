/** The language server on Gateway API documents: completion, hover, go to definition, references, diagnostics. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CompletionItem, Hover } from 'vscode-languageserver';
import { at, bookinfo, uriOf } from './fixtures';

const ls = bookinfo();
const GW_FILE = 'file:///scratch/gateway-api-gateway.yaml';
ls.setFile(GW_FILE, `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  gatewayClassName: istio
  listeners:
    - { name: http, port: 80, protocol: HTTP }
    - { name: https, port: 443, protocol: HTTPS, hostname: shop.example.com }
`);
const ROUTE = 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: reviews\nspec:\n';
const complete = (marked: string): CompletionItem[] => at(ls, marked, (u, p) => ls.completion(u, p));
const labels = (marked: string) => complete(marked).map((i) => i.label);
const lineOf = (uri: string, needle: string) => ls.workspace.getSource(uri)!.text.split('\n').findIndex((l) => l.includes(needle));

describe('the language server on Gateway API routes', () => {
  test('completes the keys of an HTTPRoute rule and the filter types', () => {
    const keys = labels(ROUTE + '  rules:\n    - |\n');
    for (const k of ['matches', 'filters', 'backendRefs', 'timeouts', 'retry', 'name']) assert.ok(keys.includes(k), `${k} in ${keys}`);
    assert.ok(labels(ROUTE + '  rules:\n    - filters:\n        - type: |\n').includes('URLRewrite'));
  });

  test('completes a parentRef to a Service with the Mesh\'s services, and to a Gateway with the Gateways', () => {
    const services = labels(ROUTE + '  parentRefs:\n    - group: ""\n      kind: Service\n      name: |\n');
    assert.deepEqual(services.sort(), ['details', 'productpage', 'ratings', 'redis', 'reviews']);
    assert.deepEqual(labels(ROUTE + '  parentRefs:\n    - name: |\n'), ['edge']);
  });

  test('completes a backendRef name with services and its port with that service\'s ports', () => {
    assert.ok(labels(ROUTE + '  rules:\n    - backendRefs:\n        - name: |\n').includes('reviews'));
    assert.deepEqual(labels(ROUTE + '  rules:\n    - backendRefs:\n        - name: reviews\n          port: |\n'), ['9080']);
    assert.deepEqual(labels(ROUTE + '  parentRefs:\n    - name: edge\n      port: |\n'), ['80', '443']);
  });

  test('hovers a field with the Gateway API\'s meaning', () => {
    const hover = at(ls, ROUTE + '  rules:\n    - matches:\n        - path:\n            ty|pe: PathPrefix\n', (u, p) => ls.hover(u, p)) as Hover;
    assert.match((hover.contents as { value: string }).value, /whole path segments/);
  });

  test('goes from a parentRef to the Service in the Mesh and to the Gateway, and from a backendRef to the Service', () => {
    const toService = at(ls, ROUTE + '  parentRefs:\n    - { group: "", kind: Service, name: revi|ews }\n', (u, p) => ls.definition(u, p));
    assert.deepEqual(toService.map((l) => [l.uri, l.range.start.line]), [[uriOf('mesh.yaml'), lineOf(uriOf('mesh.yaml'), '- name: reviews')]]);
    const toGateway = at(ls, ROUTE + '  parentRefs:\n    - name: ed|ge\n', (u, p) => ls.definition(u, p));
    assert.deepEqual(toGateway.map((l) => [l.uri, l.range.start.line]), [[GW_FILE, 2]]);
    const toBackend = at(ls, ROUTE + '  rules:\n    - backendRefs: [{ name: ratin|gs, port: 9080 }]\n', (u, p) => ls.definition(u, p));
    assert.equal(toBackend[0].range.start.line, lineOf(uriOf('mesh.yaml'), '- name: ratings'));
  });

  test('finds the routes attached to a Gateway from its name', () => {
    ls.setFile('file:///scratch/attached.yaml', ROUTE + '  parentRefs: [{ name: edge }]\n  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]\n');
    const refs = at(ls, 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: { name: ed|ge }\nspec:\n  gatewayClassName: istio\n  listeners: [{ name: http, port: 80, protocol: HTTP }]\n', (u, p) => ls.references(u, p, false));
    assert.ok(refs.some((r) => r.uri === 'file:///scratch/attached.yaml'), JSON.stringify(refs));
    ls.removeFile('file:///scratch/attached.yaml');
  });

  test('reports a route\'s status as diagnostics while typing', () => {
    const diags = at(ls, ROUTE + '  parentRefs: [{ group: "", kind: Service, name: reveiws }]\n  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]|\n', (u) => ls.diagnosticsByFile().get(u) ?? []);
    assert.ok(diags.some((d) => d.code === 'route-not-accepted' && /NoMatchingParent/.test(String(d.message))), JSON.stringify(diags));
  });
});

describe('the language server on TLSRoute and TCPRoute, as on HTTPRoute', () => {
  const TLS = 'apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TLSRoute\nmetadata:\n  name: shop\nspec:\n';
  const TCP = 'apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata:\n  name: redis\nspec:\n';

  test('completes parentRef names with the Gateways and their listener ports, backendRef names with services and their ports', () => {
    for (const head of [TLS, TCP]) {
      assert.deepEqual(labels(head + '  parentRefs:\n    - name: |\n'), ['edge']);
      assert.deepEqual(labels(head + '  parentRefs:\n    - name: edge\n      port: |\n'), ['80', '443']);
      assert.ok(labels(head + '  rules:\n    - backendRefs:\n        - name: |\n').includes('redis'));
      assert.deepEqual(labels(head + '  rules:\n    - backendRefs:\n        - name: reviews\n          port: |\n'), ['9080']);
    }
  });

  test('goes from a parentRef to the Gateway and from a backendRef to the Service', () => {
    for (const head of [TLS, TCP]) {
      const toGateway = at(ls, head + '  parentRefs:\n    - name: ed|ge\n', (u, p) => ls.definition(u, p));
      assert.deepEqual(toGateway.map((l) => [l.uri, l.range.start.line]), [[GW_FILE, 2]]);
      const toBackend = at(ls, head + '  rules:\n    - backendRefs: [{ name: ratin|gs, port: 9080 }]\n', (u, p) => ls.definition(u, p));
      assert.equal(toBackend[0]?.range.start.line, lineOf(uriOf('mesh.yaml'), '- name: ratings'));
    }
  });

  test('finds a TLSRoute and a TCPRoute among the references of the Gateway and of the Service they send to', () => {
    ls.setFile('file:///scratch/l4-attached.yaml', `${TLS}  parentRefs: [{ name: edge }]\n  rules: [{ backendRefs: [{ name: ratings, port: 9080 }] }]\n---\n${TCP}  parentRefs: [{ name: edge }]\n  rules: [{ backendRefs: [{ name: ratings, port: 9080 }] }]\n`);
    const gwRefs = at(ls, 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: { name: ed|ge }\nspec:\n  gatewayClassName: istio\n  listeners: [{ name: http, port: 80, protocol: HTTP }]\n', (u, p) => ls.references(u, p, false));
    assert.equal(gwRefs.filter((r) => r.uri === 'file:///scratch/l4-attached.yaml').length, 2, JSON.stringify(gwRefs));
    const svcRefs = at(ls, `${TCP}  rules: [{ backendRefs: [{ name: ratin|gs, port: 9080 }] }]\n`, (u, p) => ls.references(u, p, false));
    assert.equal(svcRefs.filter((r) => r.uri === 'file:///scratch/l4-attached.yaml').length, 2, JSON.stringify(svcRefs));
    ls.removeFile('file:///scratch/l4-attached.yaml');
  });

  test('hovers a backendRef name with the service it sends to', () => {
    const info = at(ls, `${TLS}  rules:\n    - backendRefs: [{ name: ratin|gs, port: 9080 }]\n`, (u, p) => ls.destinationAt(u, p));
    assert.equal(info?.host, 'ratings.default.svc.cluster.local');
    assert.equal(info?.port, 9080);
  });
});
