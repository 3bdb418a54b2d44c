import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AP_HEAD, at, bookinfo, NEW_FILE, uriOf, VS_HEAD } from './fixtures';

const ls = bookinfo();
const lineOf = (file: string, needle: string) => ls.workspace.getSource(uriOf(file))!.text.split('\n').findIndex((l) => l.includes(needle));
const ROUTE = VS_HEAD + '  hosts: [reviews]\n  http:\n    - route:\n        - destination:\n';

describe('go to definition', () => {
  test('leads from a host to the service entry of the Mesh', () => {
    const locs = at(ls, ROUTE + '            host: rat|ings\n', (u, p) => ls.definition(u, p));
    assert.equal(locs.length, 1);
    assert.equal(locs[0].uri, uriOf('mesh.yaml'));
    assert.equal(locs[0].range.start.line, lineOf('mesh.yaml', '- name: ratings'));
  });

  test('leads from a subset to its entry in the DestinationRule', () => {
    const locs = at(ls, ROUTE + '            host: reviews\n            subset: v|3\n', (u, p) => ls.definition(u, p));
    assert.equal(locs.length, 1);
    assert.equal(locs[0].uri, uriOf('policies/destination-rules.yaml'));
    assert.equal(locs[0].range.start.line, lineOf('policies/destination-rules.yaml', '- name: v3'));
  });

  test('leads from a principal to the workloads that run as its service account', () => {
    const locs = at(ls, AP_HEAD + '  rules:\n    - from:\n        - source:\n            principals: ["cluster.local/ns/default/sa/bookinfo-rev|iews"]\n', (u, p) => ls.definition(u, p));
    assert.equal(locs.length, 3, 'reviews-v1, v2 and v3');
    assert.ok(locs.every((l) => l.uri === uriOf('mesh.yaml')));
  });

  test('leads from a gateway name, at the top or in a match, to the Gateway', () => {
    const gw = lineOf('policies/gateway.yaml', 'name: bookinfo-gateway');
    for (const text of [
      VS_HEAD + '  hosts: ["*"]\n  gateways: [bookinfo-gate|way]\n  http:\n    - route:\n        - destination: { host: productpage }\n',
      VS_HEAD + '  hosts: ["*"]\n  gateways: [mesh, default/bookinfo-gateway]\n  http:\n    - match:\n        - gateways: [default/bookinfo-gate|way]\n      route:\n        - destination: { host: productpage }\n',
    ]) {
      const locs = at(ls, text, (u, p) => ls.definition(u, p));
      assert.equal(locs.length, 1, text);
      assert.equal(locs[0].uri, uriOf('policies/gateway.yaml'));
      assert.equal(locs[0].range.start.line, gw);
    }
    assert.deepEqual(at(ls, VS_HEAD + '  hosts: [reviews]\n  gateways: [me|sh]\n  http:\n    - route:\n        - destination: { host: reviews }\n', (u, p) => ls.definition(u, p)), [], 'mesh is a reserved word, not a Gateway');
    assert.deepEqual(at(ls, VS_HEAD + '  hosts: ["*"]\n  gateways: [other-ns/bookinfo-gate|way]\n  http:\n    - route:\n        - destination: { host: productpage }\n', (u, p) => ls.definition(u, p)), [], 'a Gateway of another namespace');
  });

  test('finds nothing for a host the Mesh does not have', () => {
    assert.deepEqual(at(ls, ROUTE + '            host: nowh|ere\n', (u, p) => ls.definition(u, p)), []);
  });
});

describe('find references', () => {
  test('lists every use of a service across files, from its Mesh entry', () => {
    ls.setFile(NEW_FILE, ROUTE + '            host: reviews\n');
    const mesh = ls.workspace.getSource(uriOf('mesh.yaml'))!.text;
    const line = mesh.split('\n').findIndex((l) => l.includes('- name: reviews'));
    const refs = ls.references(uriOf('mesh.yaml'), { line, character: line >= 0 ? 14 : 0 }, false);
    const files = new Set(refs.map((r) => r.uri));
    assert.ok(files.has(NEW_FILE), 'the VirtualService being edited');
    assert.ok(files.has(uriOf('policies/destination-rules.yaml')), 'the DestinationRule host');
    assert.equal(refs.length, 3, 'spec.hosts, the destination host and the DestinationRule host');
  });

  test('lists the VirtualServices bound to a Gateway, from its name', () => {
    ls.setFile(NEW_FILE, VS_HEAD + '  hosts: ["*"]\n  gateways: [bookinfo-gateway]\n  http:\n    - match:\n        - gateways: [default/bookinfo-gateway]\n      route:\n        - destination: { host: productpage }\n');
    const line = lineOf('policies/gateway.yaml', 'name: bookinfo-gateway');
    const refs = ls.references(uriOf('policies/gateway.yaml'), { line, character: 12 }, false);
    const inNew = refs.filter((r) => r.uri === NEW_FILE).map((r) => r.range.start.line).sort();
    assert.deepEqual(inNew, [6, 9], 'spec.gateways and the match gateways of the file being edited');
    assert.ok(refs.some((r) => r.uri === uriOf('policies/gateway.yaml') && r.range.start.line > line), 'the bookinfo VirtualService beside the Gateway');
    assert.equal(ls.references(uriOf('policies/gateway.yaml'), { line, character: 12 }, true).length, refs.length + 1);
  });

  test('lists the destinations that use a subset, from the DestinationRule', () => {
    ls.setFile(NEW_FILE, ROUTE + '            host: reviews\n            subset: v2\n');
    const dr = ls.workspace.getSource(uriOf('policies/destination-rules.yaml'))!.text;
    const line = dr.split('\n').findIndex((l, i) => i > 20 && l.includes('- name: v2'));
    const refs = ls.references(uriOf('policies/destination-rules.yaml'), { line, character: 15 }, true);
    assert.equal(refs.length, 2, 'the declaration and one use');
    assert.ok(refs.some((r) => r.uri === NEW_FILE));
  });
});
