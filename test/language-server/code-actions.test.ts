import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CodeAction, TextEdit } from 'vscode-languageserver';
import { Workspace } from '../../simulator/policy';
import { LanguageService } from '../../language-server/service';
import { AP_HEAD, bookinfo, caret, NEW_FILE, uriOf, VS_HEAD } from './fixtures';

/** Opens `marked`, asks for quick fixes at the caret and returns them. */
function fixesAt(ls: LanguageService, marked: string): CodeAction[] {
  const { text, position } = caret(marked);
  ls.setFile(NEW_FILE, text);
  return ls.codeActions(NEW_FILE, { start: position, end: position });
}

/** Applies an action's edits to the files of the service and returns the new texts. */
function apply(ls: LanguageService, action: CodeAction): Map<string, string> {
  const out = new Map<string, string>();
  for (const [uri, edits] of Object.entries(action.edit?.changes ?? {})) {
    const doc = TextDocument.create(uri, 'yaml', 1, ls.workspace.getSource(uri)!.text);
    out.set(uri, TextDocument.applyEdits(doc, edits as TextEdit[]));
  }
  return out;
}

const ROUTE = VS_HEAD + '  hosts: [reviews]\n  http:\n    - route:\n        - destination:\n            host: reviews\n';

describe('quick fixes', () => {
  test('fix a misspelled field to the one the schema has', () => {
    const ls = bookinfo();
    const [fix] = fixesAt(ls, VS_HEAD + '  hosts: [reviews]\n  http:\n    - route:\n        - destination:\n            host: reviews\n      time|uot: 2s\n');
    assert.ok(fix, 'a fix is offered');
    assert.equal(fix.title, 'Change "timeuot" to "timeout"');
    const after = apply(ls, fix).get(NEW_FILE)!;
    assert.match(after, /\n      timeout: 2s\n/);
    ls.setFile(NEW_FILE, after);
    assert.deepEqual(ls.policyDiagnostics(NEW_FILE).filter((d) => d.code === 'unknown-field'), []);
  });

  test('turn a prefix rewrite that doubles a slash into a uriRegexRewrite that strips the prefix', () => {
    const ls = bookinfo();
    const [fix] = fixesAt(ls, VS_HEAD + '  hosts: [reviews]\n  http:\n    - match:\n        - uri:\n            prefix: /api\n      rewrite:\n        uri: |/\n      route:\n        - destination:\n            host: reviews\n');
    assert.equal(fix.title, 'Strip the prefix with uriRegexRewrite "^/api/?" -> "/"');
    const after = apply(ls, fix).get(NEW_FILE)!;
    assert.match(after, /\n      rewrite:\n        uriRegexRewrite: \{ match: '\^\/api\/\?', rewrite: '\/' \}\n/);
    ls.setFile(NEW_FILE, after);
    assert.deepEqual(ls.policyDiagnostics(NEW_FILE).map((d) => d.code), []);
  });

  test('fix an enum value to the nearest allowed one', () => {
    const ls = bookinfo();
    const [fix] = fixesAt(ls, 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\nspec:\n  mtls:\n    mode: STRI|KT\n');
    assert.equal(fix.title, 'Change to "STRICT"');
    assert.match(apply(ls, fix).get(NEW_FILE)!, /mode: STRICT\n/);
  });

  test('add a missing subset to the DestinationRule of the host, in its own file', () => {
    const ls = bookinfo();
    const fixes = fixesAt(ls, ROUTE + '            subset: v|4\n');
    const fix = fixes.find((f) => f.title.startsWith('Add subset'));
    assert.ok(fix, `offered: ${fixes.map((f) => f.title)}`);
    assert.equal(fix.title, 'Add subset "v4" to DestinationRule "reviews"');
    const drUri = uriOf('policies/destination-rules.yaml');
    const after = apply(ls, fix).get(drUri)!;
    assert.match(after, / {4}- name: v3\n {6}labels:\n {8}version: v3\n {4}- name: v4\n {6}labels:\n {8}version: v4\n---/);
    ls.setFile(drUri, after);
    assert.deepEqual(ls.policyDiagnostics(NEW_FILE).filter((d) => d.code === 'unknown-subset'), [], 'the subset now resolves');
  });

  test('create a missing DestinationRule with the subset', () => {
    const ls = new LanguageService(new Workspace());
    ls.setFile('file:///m/mesh.yaml', 'apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata:\n  name: m\nspec:\n  services:\n    - name: web\n      port: 80\n      workloads:\n        - name: web-v1\n          port: 8080\n          labels: { app: web, version: v1 }\n');
    const fix = fixesAt(ls, VS_HEAD.replace('reviews', 'web') + '  hosts: [web]\n  http:\n    - route:\n        - destination:\n            host: web\n            subset: v|1\n')
      .find((f) => f.title.startsWith('Create DestinationRule'));
    assert.ok(fix);
    const after = apply(ls, fix).get(NEW_FILE)!;
    ls.setFile(NEW_FILE, after);
    assert.deepEqual(ls.policyDiagnostics(NEW_FILE).map((d) => d.code), [], after);
  });

  test('remove spiffe:// from a principal, keeping its quotes', () => {
    const ls = bookinfo();
    const [fix] = fixesAt(ls, AP_HEAD + '  rules:\n    - from:\n        - source:\n            principals: ["spiffe://cluster.local/ns/default/sa/bookinfo-rev|iews"]\n');
    assert.equal(fix.title, 'Remove "spiffe://"');
    assert.match(apply(ls, fix).get(NEW_FILE)!, /principals: \["cluster\.local\/ns\/default\/sa\/bookinfo-reviews"\]/);
  });

  test('point a misspelled host at the nearest Mesh service', () => {
    const ls = bookinfo();
    const fix = fixesAt(ls, ROUTE.replace('host: reviews\n', 'host: revi|ews\n').replace('revi|ews', 'revi|ewz')).find((f) => f.title.startsWith('Change to'));
    assert.ok(fix);
    assert.equal(fix.title, 'Change to "reviews"');
    assert.match(apply(ls, fix).get(NEW_FILE)!, /host: reviews\n$/);
  });

  test('offers nothing where there is no finding', () => {
    assert.deepEqual(fixesAt(bookinfo(), ROUTE + '            subset: v|1\n'), []);
  });
});
