import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseRuleKey, ruleKey } from '../../simulator/sidecar/ruleKey';
import { isPageMessage } from '../../webview/protocol';

test('a rule id reads back as the rule it was written from, tcp[] and tls[] rules included', () => {
  for (const ref of [
    { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 1 },
    { kind: 'VirtualService', namespace: 'default', name: 'tcp-echo', rule: 0, section: 'tcp' as const },
    { kind: 'VirtualService', namespace: 'shop', name: 'nginx-sni', rule: 2, section: 'tls' as const },
    { kind: 'AuthorizationPolicy', namespace: 'foo', name: 'allow-nothing', rule: 12 },
  ]) assert.deepEqual(parseRuleKey(ruleKey(ref)), ref);
});

test('what is not a rule id is refused by the sidecars and by the topology page alike', () => {
  for (const id of ['VirtualService/default/reviews', 'VirtualService/default/reviews/http/0', 'VirtualService/default/re views/0', '../../etc/passwd/0', 'VirtualService/default/reviews/-1']) {
    assert.equal(parseRuleKey(id), undefined, id);
    assert.ok(!isPageMessage({ type: 'openRule', rule: id }), id);
  }
});
