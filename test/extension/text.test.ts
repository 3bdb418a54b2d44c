import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isMeshText, waterfall } from '../../extension/text';

test('a Mesh file is kind Mesh in the devmesh.dev group; other mesh.yaml files are not ours', () => {
  assert.ok(isMeshText('apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata: { name: x }\n'));
  assert.ok(isMeshText('# comment\napiVersion: "devmesh.dev/v1alpha1"\nkind: "Mesh" # the app\n'));
  assert.ok(!isMeshText('apiVersion: networking.istio.io/v1\nkind: VirtualService\n'));
  assert.ok(!isMeshText('kind: Mesh\napiVersion: linkerd.io/v1\n'), 'another project\'s Mesh');
  assert.ok(!isMeshText('name: build\non: push\n'));
});

test('a trace reads as a waterfall: offsets and durations on one scale, errors marked', () => {
  const text = waterfall('abc', [
    { name: 'productpage:9080/', kind: 'client', workload: 'istio-ingressgateway', start: 1000, durationMs: 20, error: false },
    { name: 'reviews:9080/r', kind: 'client', workload: 'productpage-v1', start: 1010, durationMs: 10, error: true },
  ]);
  const lines = text.trim().split('\n');
  assert.equal(lines[0], 'trace abc  (20.0 ms, 2 spans)');
  assert.match(lines[2], /^={50} \|     0\.0 ms \+   20\.0 ms  client istio-ingressgateway/);
  assert.match(lines[3], /^ {25}!{25} \|    10\.0 ms \+   10\.0 ms  client productpage-v1 .* ERROR$/);
  assert.equal(waterfall('x', []), 'trace x: no spans\n');
});
