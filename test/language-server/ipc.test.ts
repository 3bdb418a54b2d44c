/**
 * The bundle the VS Code extension starts (dist/language-server.js) over Node
 * IPC, as vscode-languageclient's TransportKind.ipc does.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BOOKINFO, REPO } from './fixtures';
import { pathToUri } from './lsp-process';

const bundle = path.join(REPO, 'dist', 'language-server.js');
const missing = existsSync(bundle) ? false : 'dist/language-server.js is not built (npm run build bundles it)';

test('the bundled server answers over --node-ipc and publishes diagnostics', { skip: missing, timeout: 30_000 }, async () => {
  const child = fork(bundle, ['--node-ipc'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  try {
    const messages: any[] = [];
    const waitFor = (match: (m: any) => boolean) => new Promise<any>((resolve, reject) => {
      const found = messages.find(match);
      if (found) return resolve(found);
      const t = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(messages).slice(0, 1000)}`)), 15_000);
      child.on('message', function on(m) {
        if (match(m)) { clearTimeout(t); child.off('message', on); resolve(m); }
      });
    });
    child.on('message', (m) => messages.push(m));
    child.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: process.pid, rootUri: pathToUri(BOOKINFO), capabilities: {} } });
    const init = await waitFor((m) => m.id === 1);
    assert.ok(init.result.capabilities.hoverProvider);
    child.send({ jsonrpc: '2.0', method: 'initialized', params: {} });
    const uri = pathToUri(path.join(BOOKINFO, 'policies', 'unsaved.yaml'));
    child.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'yaml', version: 1, text: 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: r\nspec:\n  host: reviewz\n' } } });
    const published = await waitFor((m) => m.method === 'textDocument/publishDiagnostics' && m.params.uri === uri);
    assert.deepEqual(published.params.diagnostics.map((d: any) => d.code), ['unknown-host']);
    child.send({ jsonrpc: '2.0', id: 2, method: 'shutdown', params: null });
    await waitFor((m) => m.id === 2);
    child.send({ jsonrpc: '2.0', method: 'exit', params: null });
    await new Promise((resolve) => child.once('exit', resolve));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
