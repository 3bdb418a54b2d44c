import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isMeshText } from '../../extension/text';

test('a Mesh file is kind Mesh in the devmesh.dev group; other mesh.yaml files are not ours', () => {
  assert.ok(isMeshText('apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata: { name: x }\n'));
  assert.ok(isMeshText('# comment\napiVersion: "devmesh.dev/v1alpha1"\nkind: "Mesh" # the app\n'));
  assert.ok(!isMeshText('apiVersion: networking.istio.io/v1\nkind: VirtualService\n'));
  assert.ok(!isMeshText('kind: Mesh\napiVersion: linkerd.io/v1\n'), 'another project\'s Mesh');
  assert.ok(!isMeshText('name: build\non: push\n'));
});
