/**
 * The server as an editor sees it: `node bin/devmesh.js lsp --stdio`, spoken
 * to in JSON-RPC over a pipe, on a copy of the Bookinfo example.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BOOKINFO, BROKEN_CANARY } from './fixtures';
import { LspProcess, pathToUri } from './lsp-process';

describe('devmesh lsp --stdio', () => {
  let server: LspProcess;
  let root: string;
  let brokenUri: string;

  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'devmesh-lsp-'));
    cpSync(BOOKINFO, root, { recursive: true });
    writeFileSync(path.join(root, 'ci.yaml'), 'name: CI\non: [push\n');
    server = LspProcess.devmesh();
    const init = await server.initialize(root, { workspace: { didChangeWatchedFiles: { dynamicRegistration: true } } });
    assert.ok(init.capabilities.completionProvider, 'completion is announced');
    brokenUri = pathToUri(path.join(root, 'policies', 'canary.yaml'));
  });

  after(async () => {
    await server?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const BROKEN = BROKEN_CANARY;

  test('publishes diagnostics with the validator codes and ranges for an unsaved buffer', async () => {
    server.notify('textDocument/didOpen', { textDocument: { uri: brokenUri, languageId: 'yaml', version: 1, text: BROKEN } });
    const published = await server.waitFor('textDocument/publishDiagnostics', (p) => p.uri === brokenUri && p.diagnostics.length > 0);
    const codes = published.diagnostics.map((d: any) => d.code).sort();
    assert.deepEqual(codes, ['bad-duration', 'unknown-subset']);
    const subset = published.diagnostics.find((d: any) => d.code === 'unknown-subset');
    assert.deepEqual(subset.range, { start: { line: 10, character: 20 }, end: { line: 10, character: 22 } });
    assert.match(subset.message, /DestinationRule "reviews"/, 'checked against the DestinationRule indexed from disk');
  });

  test('re-checks a file after an incremental change and clears fixed findings', async () => {
    const since = server.notifications.length;
    server.notify('textDocument/didChange', {
      textDocument: { uri: brokenUri, version: 2 },
      contentChanges: [{ range: { start: { line: 11, character: 15 }, end: { line: 11, character: 25 } }, text: '10s' }],
    });
    const published = await server.waitFor('textDocument/publishDiagnostics', (p) => p.uri === brokenUri, 5_000, since);
    assert.deepEqual(published.diagnostics.map((d: any) => d.code), ['unknown-subset']);
  });

  test('re-publishes a dependent file when a watched DestinationRule changes on disk', async () => {
    const drFile = path.join(root, 'policies', 'destination-rules.yaml');
    const { readFileSync } = await import('node:fs');
    writeFileSync(drFile, readFileSync(drFile, 'utf8').replace('    - name: v3\n', '    - name: v9\n      labels:\n        version: v3\n    - name: v3x\n'));
    const since = server.notifications.length;
    server.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToUri(drFile), type: 2 }] });
    const published = await server.waitFor('textDocument/publishDiagnostics', (p) => p.uri === brokenUri, 5_000, since);
    assert.deepEqual(published.diagnostics, [], 'subset v9 now exists');
  });

  test('answers completion with the subsets of the chosen host', async () => {
    const result = await server.request('textDocument/completion', { textDocument: { uri: brokenUri }, position: { line: 10, character: 20 } });
    const items = Array.isArray(result) ? result : result.items;
    assert.ok(items.some((i: any) => i.label === 'v9'), JSON.stringify(items.map((i: any) => i.label)));
  });

  test('answers hover with what a host resolves to', async () => {
    const hover = await server.request('textDocument/hover', { textDocument: { uri: brokenUri }, position: { line: 9, character: 20 } });
    assert.match(hover.contents.value, /reviews\.default\.svc\.cluster\.local/);
    assert.match(hover.contents.value, /reviews-v1/);
  });

  test('answers definition with the Mesh entry of a host, in a file read from disk', async () => {
    const locs = await server.request('textDocument/definition', { textDocument: { uri: brokenUri }, position: { line: 9, character: 20 } });
    assert.equal(locs.length, 1);
    assert.equal(locs[0].uri, pathToUri(path.join(root, 'mesh.yaml')));
  });

  test('never publishes diagnostics for YAML that is not a policy', async () => {
    const ciUri = pathToUri(path.join(root, 'ci.yaml'));
    server.notify('textDocument/didOpen', { textDocument: { uri: ciUri, languageId: 'yaml', version: 1, text: 'name: CI\non: [push\n' } });
    const completion = await server.request('textDocument/completion', { textDocument: { uri: ciUri }, position: { line: 1, character: 4 } });
    assert.deepEqual(Array.isArray(completion) ? completion : completion.items, []);
    assert.ok(!server.notifications.some((m) => m.method === 'textDocument/publishDiagnostics' && m.params.uri === ciUri));
  });

  test('answers devmesh/ruleSites and devmesh/explain over the workspace the editor holds', async () => {
    const routing = pathToUri(path.join(root, 'policies', 'routing.yaml'));
    const sites = await server.request('devmesh/ruleSites', { uri: routing });
    assert.deepEqual(sites.slice(0, 2).map((s: any) => [s.rule, s.range.start.line]), [['VirtualService/default/reviews/0', 11], ['VirtualService/default/reviews/1', 19]]);
    const answer = await server.request('devmesh/explain', { from: 'productpage-v1', method: 'GET', url: 'http://ratings:9080/ratings/0', headers: {} });
    assert.equal(answer.ok, true);
    assert.equal(answer.answered, false);
    assert.match(answer.text, /403 RBAC: access denied by AuthorizationPolicy default\/ratings-viewer/);
  });

  test('a file deleted on disk leaves the workspace even while the editor still holds its buffer', async () => {
    let since = server.notifications.length;
    server.notify('textDocument/didChange', { textDocument: { uri: brokenUri, version: 3 }, contentChanges: [{ text: BROKEN.replace('subset:', 'subset: x').replace(/subset: x\s*\S+/, 'subset: nosuch') }] });
    await server.waitFor('textDocument/publishDiagnostics', (p) => p.uri === brokenUri && p.diagnostics.length > 0, 5_000, since);
    const refused = await server.request('devmesh/explain', { from: 'productpage-v1', method: 'GET', url: 'http://ratings:9080/ratings/0', headers: {} });
    assert.equal(refused.ok, false, 'the open canary buffer has errors, so the walk refuses');
    assert.match(refused.message, /policies\/canary\.yaml:\d+:\d+/);
    since = server.notifications.length;
    server.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: brokenUri, type: 3 }] });
    const published = await server.waitFor('textDocument/publishDiagnostics', (p) => p.uri === brokenUri, 5_000, since);
    assert.deepEqual(published.diagnostics, []);
    const answer = await server.request('devmesh/explain', { from: 'productpage-v1', method: 'GET', url: 'http://ratings:9080/ratings/0', headers: {} });
    assert.equal(answer.ok, true);
  });
});
