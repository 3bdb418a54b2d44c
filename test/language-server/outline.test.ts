import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bookinfo, uriOf } from './fixtures';

describe('outline and folding', () => {
  const ls = bookinfo();

  test('lists each resource with its spec sections and entries', () => {
    const symbols = ls.documentSymbols(uriOf('policies/destination-rules.yaml'));
    assert.deepEqual(symbols.map((s) => `${s.detail} ${s.name}`), [
      'DestinationRule productpage', 'DestinationRule reviews', 'DestinationRule ratings', 'DestinationRule details',
    ]);
    const reviews = symbols[1];
    assert.deepEqual(reviews.children!.map((c) => c.name), ['host', 'trafficPolicy', 'subsets']);
    assert.deepEqual(reviews.children![2].children!.map((c) => c.name), ['v1', 'v2', 'v3']);
  });

  test('names routing rules by where they send traffic', () => {
    ls.setFile('file:///x/routing.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts: [reviews]\n  http:\n    - match:\n        - headers: { end-user: { exact: jason } }\n      route:\n        - destination: { host: reviews, subset: v2 }\n    - route:\n        - destination: { host: reviews, subset: v1 }\n          weight: 100\n');
    const [vs] = ls.documentSymbols('file:///x/routing.yaml');
    const http = vs.children!.find((c) => c.name === 'http')!;
    assert.deepEqual(http.children!.map((c) => c.name), ['http[0] (match) -> reviews:v2', 'http[1] -> reviews:v1 100%']);
  });

  test('lists Mesh services with their workloads', () => {
    const [mesh] = ls.documentSymbols(uriOf('mesh.yaml'));
    const services = mesh.children!.find((c) => c.name === 'services')!;
    assert.deepEqual(services.children!.map((c) => c.name), ['productpage', 'details', 'reviews', 'ratings', 'redis']);
    assert.deepEqual(services.children![2].children!.map((c) => c.name), ['reviews-v1', 'reviews-v2', 'reviews-v3']);
  });

  test('folds each resource of a multi-document file', () => {
    const text = ls.workspace.getSource(uriOf('policies/destination-rules.yaml'))!.text;
    const lines = text.split('\n');
    const starts = lines.flatMap((l, i) => (l.startsWith('apiVersion:') ? [i] : []));
    const folds = ls.foldingRanges(uriOf('policies/destination-rules.yaml'));
    for (const s of starts) assert.ok(folds.some((f) => f.startLine === s && f.endLine > s + 5), `a fold starts at line ${s}`);
    assert.ok(folds.some((f) => lines[f.startLine].includes('subsets:')), 'blocks fold too');
  });

  test('has no symbols for a YAML file that is not a policy', () => {
    ls.setFile('file:///x/ci.yaml', 'name: CI\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n');
    assert.deepEqual(ls.documentSymbols('file:///x/ci.yaml'), []);
    assert.deepEqual(ls.foldingRanges('file:///x/ci.yaml'), []);
  });
});
