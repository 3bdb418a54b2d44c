import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MarkupContent } from 'vscode-languageserver';
import { AP_HEAD, at, bookinfo, DR_HEAD, MESH_HEAD, VS_HEAD } from './fixtures';

const ls = bookinfo();
const hoverText = (marked: string): string | undefined => {
  const h = at(ls, marked, (u, p) => ls.hover(u, p));
  return h ? (h.contents as MarkupContent).value : undefined;
};
const ROUTE = VS_HEAD + '  hosts: [reviews]\n  http:\n    - route:\n        - destination:\n';

describe('hover', () => {
  test('documents a field with its type, default and Istio meaning', () => {
    const text = hoverText(DR_HEAD + '  host: reviews\n  trafficPolicy:\n    outlierDetection:\n      consecutive5xx|Errors: 3\n')!;
    assert.match(text, /\*\*consecutive5xxErrors\*\*: `integer`/);
    assert.match(text, /Default: `5`/);
    assert.match(text, /ejected/);
  });

  test('a compatibility version says what it brings back and which Istio flags it flips', () => {
    const text = hoverText(MESH_HEAD + '  compatibilityVersion: "1.2|3"\n')!;
    assert.match(text, /Istio 1\.23's defaults instead of 1\.30's/);
    assert.match(text, /retry an app's 503 twice .*EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY=false/);
    assert.match(text, /reset-before-request/);
    assert.match(text, /-shadow/);
    assert.match(hoverText(MESH_HEAD + '  compatibilityVersion: "1.2|8"\n')!, /nothing devmesh simulates differs/);
  });

  test('shows what a host resolves to: FQDN, port, workloads and subsets', () => {
    const text = hoverText(ROUTE + '            host: rev|iews\n')!;
    assert.match(text, /reviews\.default\.svc\.cluster\.local/);
    assert.match(text, /Port 9080/);
    assert.match(text, /reviews-v2.*port 9183/);
    assert.match(text, /Subsets: `v1`/);
  });

  test('says when a host is not a service of the Mesh', () => {
    assert.match(hoverText(ROUTE + '            host: revi|ew\n')!, /not a service of the Mesh/);
  });

  test('shows the labels and workloads a subset selects', () => {
    const text = hoverText(ROUTE + '            host: reviews\n            subset: v|2\n')!;
    assert.match(text, /DestinationRule `reviews`/);
    assert.match(text, /version=v2/);
    assert.match(text, /selects 1 workload/);
    assert.match(text, /reviews-v2/);
  });

  test('shows the workloads behind a principal in a flow sequence', () => {
    const text = hoverText(AP_HEAD + '  rules:\n    - from:\n        - source:\n            principals: ["cluster.local/ns/default/sa/bookinfo-rev|iews"]\n')!;
    assert.match(text, /service account `bookinfo-reviews`/);
    assert.match(text, /reviews-v1/);
  });

  test('documents a key while the document does not parse', () => {
    const text = hoverText(VS_HEAD + '  hosts: [reviews\n  http:\n    - retr|ies:\n        attempts: 3\n');
    assert.ok(text, 'a hover');
    assert.match(text!, /\*\*retries\*\*: `HTTPRetry`/);
  });

  test('says nothing over a YAML file that is not a policy', () => {
    assert.equal(hoverText('apiVersion: apps/v1\nkind: Deployment\nspec:\n  repl|icas: 2\n'), undefined);
  });
});
