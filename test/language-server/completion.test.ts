import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InsertTextFormat, type CompletionItem } from 'vscode-languageserver';
import { AP_HEAD, at, bookinfo, DR_HEAD, MESH_HEAD, uriOf, VS_HEAD } from './fixtures';

const ls = bookinfo();
const complete = (marked: string): CompletionItem[] => at(ls, marked, (u, p) => ls.completion(u, p));
const labels = (marked: string) => complete(marked).map((i) => i.label);

describe('completion', () => {
  test('offers the spec keys of a VirtualService, "hosts" not required (a VirtualService without hosts is a delegate)', () => {
    const items = complete(VS_HEAD + '  |\n');
    const hosts = items.find((i) => i.label === 'hosts');
    assert.ok(hosts && !/required/.test(String(hosts.detail)), JSON.stringify(hosts));
    assert.ok(items.some((i) => i.label === 'http'));
    assert.ok(!items.some((i) => i.label === 'subsets'), 'a DestinationRule field is not offered in a VirtualService');
  });

  test('does not offer keys that are already present in the mapping', () => {
    const got = labels(VS_HEAD + '  hosts: [reviews]\n  |\n  http: []\n');
    assert.ok(!got.includes('hosts'));
    assert.ok(!got.includes('http'));
    assert.ok(got.includes('gateways'));
  });

  test('completes a half-typed key inside a route destination list item', () => {
    const items = complete(VS_HEAD + '  http:\n    - route:\n        - destination:\n            host: reviews\n          we|\n');
    const weight = items.find((i) => i.label === 'weight');
    assert.ok(weight, `weight offered, got ${items.map((i) => i.label)}`);
    assert.ok(!items.some((i) => i.label === 'destination'), 'destination is already set');
  });

  test('writes a snippet with the nested required fields at the right indentation', () => {
    const route = complete(VS_HEAD + '  http:\n    - |\n').find((i) => i.label === 'route')!;
    assert.equal(route.insertTextFormat, InsertTextFormat.Snippet);
    assert.equal((route.textEdit as { newText: string }).newText, 'route:\n        - destination:\n            host: ${1}');
  });

  test('offers the Istio compatibility versions quoted (YAML would read 1.20 as a number), each saying what it brings back', () => {
    const items = complete(MESH_HEAD + '  compatibilityVersion: |\n');
    assert.deepEqual(items.map((i) => i.label), ['1.20', '1.21', '1.22', '1.23', '1.24', '1.25', '1.26', '1.27', '1.28', '1.29', '1.30']);
    const v123 = items.find((i) => i.label === '1.23')!;
    assert.equal((v123.textEdit as { newText: string }).newText, '"1.23"');
    assert.match((v123.documentation as { value: string }).value, /retry an app's 503 twice/);
    assert.match((items.find((i) => i.label === '1.30')!.documentation as { value: string }).value, /newest release/);
  });

  test('offers the gRPC status names of fault.abort.grpcStatus, each with its code and meaning', () => {
    const items = complete(VS_HEAD + '  http:\n    - fault:\n        abort:\n          grpcStatus: |\n');
    assert.equal(items.length, 17);
    const unavailable = items.find((i) => i.label === 'UNAVAILABLE')!;
    assert.match((unavailable.documentation as { value: string }).value, /^14: the service is currently unavailable/);
  });

  test('offers meshConfig.pathNormalization modes with what each does', () => {
    const items = complete(MESH_HEAD + '  meshConfig:\n    pathNormalization:\n      normalization: |\n');
    assert.ok(items.some((i) => i.label === 'MERGE_SLASHES' && /merged/.test((i.documentation as { value: string }).value)));
  });

  test('offers enum values with the default first', () => {
    const items = complete(DR_HEAD + '  host: reviews\n  trafficPolicy:\n    loadBalancer:\n      simple: |\n');
    assert.deepEqual(items.map((i) => i.label).sort(), ['LEAST_CONN', 'LEAST_REQUEST', 'PASSTHROUGH', 'RANDOM', 'ROUND_ROBIN', 'UNSPECIFIED']);
    const first = [...items].sort((a, b) => a.sortText!.localeCompare(b.sortText!))[0];
    assert.equal(first.label, 'LEAST_REQUEST');
  });

  test('offers durations for a timeout', () => {
    const got = labels(VS_HEAD + '  http:\n    - route:\n        - destination:\n            host: reviews\n      timeout: |\n');
    assert.ok(got.includes('1s') && got.includes('500ms'), String(got));
  });

  test('offers Mesh hosts as short names and FQDNs in a hosts list', () => {
    const got = labels(VS_HEAD + '  hosts:\n    - |\n');
    assert.ok(got.includes('reviews'));
    assert.ok(got.includes('reviews.default.svc.cluster.local'));
    assert.equal(got.length, 10, 'five services (redis among them), two names each');
  });

  test('offers ServiceEntry hosts as destinations, as written', () => {
    const withEntry = bookinfo();
    withEntry.setFile(uriOf('policies/egress.yaml'), 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: payments\nspec:\n  hosts: [api.payments.example]\n  resolution: DNS\n  ports: [{ number: 443, name: https, protocol: TLS }]\n');
    const items = at(withEntry, VS_HEAD + '  http:\n    - route:\n        - destination:\n            host: |\n', (u, p) => withEntry.completion(u, p));
    const entry = items.find((i) => i.label === 'api.payments.example');
    assert.ok(entry, `offered: ${items.map((i) => i.label)}`);
    assert.equal(entry.detail, 'ServiceEntry default/payments, port 443, resolution DNS');
    assert.ok(!labels(VS_HEAD + '  http:\n    - route:\n        - destination:\n            host: |\n').includes('api.payments.example'), 'only where a ServiceEntry declares it');
  });

  test('offers hosts in a flow sequence too', () => {
    assert.ok(labels(VS_HEAD + '  hosts: [rat|]\n').includes('ratings'));
  });

  test('offers the subsets of the host chosen in the same destination', () => {
    const got = labels(VS_HEAD + '  http:\n    - route:\n        - destination:\n            host: reviews\n            subset: |\n');
    assert.deepEqual(got, ['v1', 'v2', 'v3']);
    const ratings = labels(VS_HEAD + '  http:\n    - route:\n        - destination:\n            subset: |\n            host: ratings\n');
    assert.deepEqual(ratings, ['v1']);
  });

  test('follows sequences written at the indentation of their key', () => {
    assert.deepEqual(labels(VS_HEAD + '  http:\n  - route:\n    - destination:\n        host: ratings\n        subset: |\n'), ['v1']);
    assert.ok(labels(VS_HEAD + '  hosts:\n  - |\n').includes('details'));
  });

  test('offers label keys and values from the Mesh workloads', () => {
    const keys = labels(AP_HEAD + '  selector:\n    matchLabels:\n      |\n');
    assert.deepEqual(keys.sort(), ['app', 'version']);
    const values = labels(AP_HEAD + '  selector:\n    matchLabels:\n      app: |\n');
    assert.deepEqual(values.sort(), ['details', 'productpage', 'ratings', 'redis', 'reviews']);
  });

  test('offers only the label values of the DestinationRule host in a subset', () => {
    const got = labels(DR_HEAD + '  host: reviews\n  subsets:\n    - name: v4\n      labels:\n        version: |\n');
    assert.deepEqual(got.sort(), ['v1', 'v2', 'v3']);
  });

  test('offers principals built from the Mesh service accounts', () => {
    const got = labels(AP_HEAD + '  rules:\n    - from:\n        - source:\n            principals:\n              - |\n');
    assert.ok(got.includes('cluster.local/ns/default/sa/bookinfo-reviews'), String(got));
  });

  test('offers whole-resource snippets in an empty document', () => {
    const got = labels('|');
    for (const name of ['VirtualService with canary split', 'DestinationRule with subsets', 'AuthorizationPolicy allow from service account', 'PeerAuthentication STRICT']) {
      assert.ok(got.includes(name), `${name} in ${got}`);
    }
  });

  test('offers the kinds of the API group being typed', () => {
    assert.deepEqual(labels('apiVersion: security.istio.io/v1\nkind: |\n').sort(), ['AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication']);
  });

  test('gives nothing in a YAML file that is not a mesh policy', () => {
    assert.deepEqual(labels('name: CI\non:\n  push:\n    |\n'), []);
    assert.deepEqual(labels('apiVersion: apps/v1\nkind: Deployment\nspec:\n  |\n'), []);
  });

  test('works while the rest of the document is broken YAML', () => {
    const got = labels(VS_HEAD + '  hosts: [reviews\n  http:\n    - route:\n        - destination:\n            host: reviews\n            subset: |\n      timeout: [[[\n');
    assert.deepEqual(got, ['v1', 'v2', 'v3']);
  });

  test('inserts a space after a colon typed without one', () => {
    const item = complete(DR_HEAD + '  host:|\n').find((i) => i.label === 'reviews')!;
    assert.equal((item.textEdit as { newText: string }).newText, ' reviews');
  });
});
