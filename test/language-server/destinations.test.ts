/**
 * The static half of the live destination hover: what a route destination
 * under the cursor names and the workloads it selects in the Mesh file.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { at, bookinfo, VS_HEAD } from './fixtures';

const ls = bookinfo();
const dest = (marked: string) => at(ls, marked, (u, p) => ls.destinationAt(u, p));
const ROUTE = VS_HEAD + '  hosts: [reviews]\n  http:\n    - route:\n        - destination:\n';
const HTTPROUTE = 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r\nspec:\n  parentRefs: [{ group: "", kind: Service, name: reviews, port: 9080 }]\n  rules:\n    - backendRefs:\n';

describe('route destination under the cursor', () => {
  test('a VirtualService destination with a subset selects the workloads of that subset', () => {
    const d = dest(ROUTE + '            host: reviews\n            subset: v|2\n')!;
    assert.equal(d.host, 'reviews.default.svc.cluster.local');
    assert.equal(d.subset, 'v2');
    assert.equal(d.service, 'reviews');
    assert.deepEqual(d.workloads, ['reviews-v2']);
    assert.equal(d.problem, undefined);
  });

  test('on the host, the subset beside it still narrows the workloads; the port is read too', () => {
    const d = dest(ROUTE + '            host: rev|iews\n            subset: v3\n            port: { number: 9080 }\n')!;
    assert.deepEqual([d.subset, d.port, d.workloads], ['v3', 9080, ['reviews-v3']]);
  });

  test('without a subset every workload of the service is selected', () => {
    assert.deepEqual(dest(ROUTE + '            host: revi|ews\n')!.workloads, ['reviews-v1', 'reviews-v2', 'reviews-v3']);
  });

  test('an unknown subset or host selects nothing and says why', () => {
    assert.match(dest(ROUTE + '            host: reviews\n            subset: v|9\n')!.problem!, /no DestinationRule defines subset v9/);
    assert.match(dest(ROUTE + '            host: nowh|ere\n')!.problem!, /not a service of the Mesh/);
  });

  test('an HTTPRoute backendRef names a Service in the route\'s namespace', () => {
    const d = dest(HTTPROUTE + '        - name: revi|ews\n          port: 9080\n')!;
    assert.deepEqual([d.host, d.port, d.workloads.length], ['reviews.default.svc.cluster.local', 9080, 3]);
  });

  test('anything else is no destination: a match header, a Gateway host', () => {
    assert.equal(dest(ROUTE.replace('    - route:\n', '    - match: [{ headers: { end-user: { exact: ja|son } } }]\n      route:\n') + '            host: reviews\n'), null);
    assert.equal(dest(VS_HEAD + '  hosts: [revi|ews]\n'), null);
  });
});
