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

  test('lists the destinations that use a subset, from the DestinationRule', () => {
    ls.setFile(NEW_FILE, ROUTE + '            host: reviews\n            subset: v2\n');
    const dr = ls.workspace.getSource(uriOf('policies/destination-rules.yaml'))!.text;
    const line = dr.split('\n').findIndex((l, i) => i > 20 && l.includes('- name: v2'));
    const refs = ls.references(uriOf('policies/destination-rules.yaml'), { line, character: 15 }, true);
    assert.equal(refs.length, 2, 'the declaration and one use');
    assert.ok(refs.some((r) => r.uri === NEW_FILE));
  });
});
