import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DiagnosticSeverity } from 'vscode-languageserver';
import { bookinfo, uriOf, VS_HEAD } from './fixtures';

describe('diagnostics', () => {
  test('reports the validator codes with LSP ranges on the offending text', () => {
    const ls = bookinfo();
    const text = VS_HEAD + '  hosts: [reviews]\n  http:\n    - route:\n        - destination:\n            host: reviews\n      timeout: 10 seconds\n      fault:\n        abort:\n          httpStatus: 99\n';
    ls.setFile('file:///x/vs.yaml', text);
    const diags = ls.diagnosticsByFile().get('file:///x/vs.yaml')!;
    const duration = diags.find((d) => d.code === 'bad-duration')!;
    assert.ok(duration, JSON.stringify(diags));
    assert.equal(duration.severity, DiagnosticSeverity.Error);
    assert.equal(duration.source, 'devmesh');
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('10 seconds'));
    assert.deepEqual(duration.range, { start: { line, character: 15 }, end: { line, character: 25 } });
    assert.ok(diags.some((d) => d.code === 'bad-value' && /httpStatus/.test(String(d.message))));
  });

  test('a change in one file changes the diagnostics of the files that depend on it', () => {
    const ls = bookinfo();
    ls.setFile('file:///x/vs.yaml', VS_HEAD + '  hosts: [reviews]\n  http:\n    - route:\n        - destination:\n            host: reviews\n            subset: v3\n');
    assert.deepEqual(ls.diagnosticsByFile().get('file:///x/vs.yaml'), []);
    const drUri = uriOf('policies/destination-rules.yaml');
    ls.setFile(drUri, ls.workspace.getSource(drUri)!.text.replace('- name: v3', '- name: v3-renamed'));
    const after = ls.diagnosticsByFile().get('file:///x/vs.yaml')!;
    assert.deepEqual(after.map((d) => d.code), ['unknown-subset']);
    assert.deepEqual(after[0].data, { host: 'reviews', fqdn: 'reviews.default.svc.cluster.local', subset: 'v3', destinationRule: { file: drUri, name: 'reviews' } });
  });

  test('leaves YAML that is not a policy alone, even when it is broken', () => {
    const ls = bookinfo();
    ls.setFile('file:///x/ci.yaml', 'name: CI\non: [push\njobs: {\n');
    assert.deepEqual(ls.diagnosticsByFile().get('file:///x/ci.yaml'), []);
  });

  test('findings of an unchanged file are reported again after a keystroke in another file', () => {
    const ls = bookinfo();
    ls.setFile('file:///x/a.yaml', VS_HEAD + '  hosts: [reviews]\n  http:\n    - route:\n        - destination: { host: reviews, subset: v1 }\n          weight: -1\n      retries:\n        retryOn: 5xx,conect-failure\n    - route:\n        - destination: { host: reviews, subset: v2 }\n');
    const codes = () => (ls.diagnosticsByFile().get('file:///x/a.yaml') ?? []).map((d) => d.code).sort();
    const before = codes();
    assert.deepEqual(before, ['bad-enum', 'bad-weights', 'shadowed-rule']);
    for (const t of ['1s', '2s', '3s']) {
      ls.setFile('file:///x/b.yaml', VS_HEAD.replace('reviews', 'ratings') + `  hosts: [ratings]\n  http:\n    - route:\n        - destination: { host: ratings }\n      timeout: ${t}\n`);
      assert.deepEqual(codes(), before);
    }
  });
});

