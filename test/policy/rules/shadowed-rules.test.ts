import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { matchCovers } from '../../../simulator/policy/rules/match-cover';
import { findings } from './helpers';

const vs = (body: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo }
spec:
  hosts: [echo.example.com]
${body}`;

const check = (body: string) => findings({ '/vs.yaml': vs(body) }, 'shadowed-rule', 'ineffective-match').map((f) => [f.code, f.line]);

describe('rules that are never used', () => {
  it('an http rule whose every match repeats an earlier one is unreachable (IST0130), and each repeated match ineffective (IST0131)', () => {
    assert.deepEqual(check(`  http:
    - match: [{ uri: { prefix: /api } }]
      route: [{ destination: { host: a } }]
    - match: [{ name: again, uri: { prefix: /api } }]
      route: [{ destination: { host: b } }]
`), [['shadowed-rule', 9], ['ineffective-match', 9]]);
  });

  it('tcp and tls rules are checked as http ones: repeats, and rules after a rule without match', () => {
    assert.deepEqual(check(`  tcp:
    - match: [{ port: 31400 }]
      route: [{ destination: { host: a } }]
    - match: [{ port: 31400 }, { port: 31401 }]
      route: [{ destination: { host: b } }]
    - route: [{ destination: { host: c } }]
    - route: [{ destination: { host: d } }]
`), [['ineffective-match', 9], ['shadowed-rule', 12]]);
    assert.deepEqual(check(`  tls:
    - match: [{ port: 2443, sniHosts: [a.example.com] }]
      route: [{ destination: { host: a } }]
    - match: [{ port: 2443, sniHosts: [a.example.com] }]
      route: [{ destination: { host: b } }]
`), [['shadowed-rule', 9], ['ineffective-match', 9]]);
  });

  it('an http match covered by an earlier, broader one is ineffective (IST0131), in the same rule or a later one', () => {
    assert.deepEqual(check(`  http:
    - match:
        - { uri: { prefix: /api/v1/product } }
        - { uri: { prefix: /api/v1/products }, method: { exact: GET } }
      route: [{ destination: { host: a } }]
    - match:
        - { uri: { prefix: /api/v1/products/new }, method: { exact: POST } }
        - { uri: { prefix: /other } }
      route: [{ destination: { host: b } }]
`), [['ineffective-match', 9], ['ineffective-match', 12]]);
  });
});

describe('one match covering another', () => {
  it('needs every condition of the broader one implied by the narrower one', () => {
    assert.ok(matchCovers({ uri: { prefix: '/a' } }, { uri: { exact: '/a/b' }, method: { exact: 'GET' } }));
    assert.ok(matchCovers({ headers: { 'x-user': {} } }, { headers: { 'x-user': { exact: 'jason' }, 'x-other': { prefix: 'a' } } }));
    assert.ok(matchCovers({ sourceLabels: { app: 'a' } }, { sourceLabels: { app: 'a', version: 'v1' } }));
    assert.ok(!matchCovers({ uri: { prefix: '/a' }, method: { exact: 'GET' } }, { uri: { prefix: '/a/b' } }), 'a narrower one without method takes POST too');
    assert.ok(!matchCovers({ uri: { prefix: '/a' } }, { uri: { prefix: '/b' } }));
    assert.ok(!matchCovers({ uri: { regex: '/a.*' } }, { uri: { prefix: '/a' } }), 'regexes are compared only as written');
    assert.ok(!matchCovers({ uri: { prefix: '/A' }, ignoreUriCase: true }, { uri: { prefix: '/a' } }));
    assert.ok(!matchCovers({ port: 80 }, { port: 8080 }));
    assert.ok(!matchCovers({ gateways: ['gw'] }, {}));
  });
});
