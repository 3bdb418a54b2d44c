/**
 * rewrite-double-slash: `rewrite.uri` ending in `/` after a uri prefix
 * without one. Envoy's prefix_rewrite replaces the matched prefix verbatim
 * (Envoy docs, route_components.proto RouteAction.prefix_rewrite: "Pay
 * careful attention to the use of trailing slashes"), so the app gets `//`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Workspace } from '../../../simulator/policy';

const vs = (http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [reviews]
  http:
${http}`;

function findings(text: string) {
  const ws = new Workspace();
  ws.setFile('/w/vs.yaml', text);
  return ws.diagnostics().filter((d) => d.code === 'rewrite-double-slash').map((d) => ({ ...d, at: text.slice(d.range.start, d.range.end) }));
}

describe('rewrite-double-slash', () => {
  test('prefix /api rewritten to / warns at the rewrite, showing //items and both fixes', () => {
    const [d, ...more] = findings(vs(`    - match: [{ uri: { prefix: /api } }]
      rewrite: { uri: / }
      route: [{ destination: { host: reviews } }]
`));
    assert.equal(more.length, 0);
    assert.equal(d.severity, 'warning');
    assert.equal(d.at, '/');
    assert.match(d.message, /\/api\/items reaches the app as \/\/items/);
    assert.match(d.message, /match "\/api\/" instead/);
    assert.match(d.message, /uriRegexRewrite \{ match: "\^\/api\/\?", rewrite: "\/" \}/);
    assert.deepEqual(d.data, { rule: 0, regex: '^/api/?', rewrite: '/' });
  });

  test('a rewrite to /v2/ doubles too; the regex escapes RE2 operators in the prefix', () => {
    const [d] = findings(vs(`    - match: [{ uri: { prefix: /api.v1 } }]
      rewrite: { uri: /v2/ }
      route: [{ destination: { host: reviews } }]
`));
    assert.match(d.message, /\/api\.v1\/items reaches the app as \/v2\/\/items/);
    assert.equal(d.data?.regex, '^/api\\.v1/?');
  });

  test('no warning when the prefix ends in /, the rewrite does not, there is no prefix, or the match is exact', () => {
    for (const http of [
      '    - match: [{ uri: { prefix: /api/ } }]\n      rewrite: { uri: / }\n      route: [{ destination: { host: reviews } }]\n',
      '    - match: [{ uri: { prefix: /api } }]\n      rewrite: { uri: /v2 }\n      route: [{ destination: { host: reviews } }]\n',
      '    - rewrite: { uri: /v2/ }\n      route: [{ destination: { host: reviews } }]\n',
      '    - match: [{ uri: { exact: /api } }]\n      rewrite: { uri: / }\n      route: [{ destination: { host: reviews } }]\n',
    ]) assert.deepEqual(findings(vs(http)), [], http);
  });

  test('with an exact match beside the prefix, the warning offers no regex (it would change the exact match)', () => {
    const [d] = findings(vs(`    - match: [{ uri: { prefix: /api } }, { uri: { exact: /health } }]
      rewrite: { uri: / }
      route: [{ destination: { host: reviews } }]
`));
    assert.equal(d.data, undefined);
  });
});
