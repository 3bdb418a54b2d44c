/**
 * One contract for the control API (simulator/control/api/contract.ts): what
 * the control plane serves is what the extension and the page read, checked
 * by the compiler. The second test renames a field in a copy of the contract
 * and type-checks the extension and the page against it: both builds fail.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as ts from 'typescript';
import type { Topology } from '../../../simulator/control/api/contract';
import { buildGraph } from '../../../webview/model';

const REPO = path.resolve(__dirname, '..', '..', '..', '..');
const CONTRACT = path.join(REPO, 'simulator', 'control', 'api', 'contract.ts');

test('a topology typed by the contract goes through the graph model the page and the extension draw', () => {
  const t: Topology = {
    mesh: 'm', version: 1, ready: true, trustDomain: 'cluster.local', namespace: 'default', generatedAt: 0, windowSeconds: 30,
    services: [{ name: 'a', namespace: 'default', fqdn: 'a.default.svc.cluster.local', port: 9080, protocol: 'http', ports: [{ port: 9080, protocol: 'http' }], workloads: ['a-v1'] }],
    workloads: [{ name: 'a-v1', service: 'a', namespace: 'default', labels: { version: 'v1' }, serviceAccount: 'a', spiffeId: 'spiffe://cluster.local/ns/default/sa/a',
      appPort: 1, sidecar: { inboundPort: 2, outboundPort: 3, adminPort: 4 }, managed: true, pids: { sidecar: 1, app: 2 }, health: { sidecar: 'up', app: 'up' }, restarts: { sidecar: 0, app: 0 }, configVersion: 1 }],
    ingress: { name: 'istio-ingressgateway', port: 5, adminPort: 6, serviceAccount: 'gw', spiffeId: 'x', labels: {}, pid: 1, health: 'up', restarts: 0 },
    edges: [{ id: 'istio-ingressgateway->a-v1', source: 'istio-ingressgateway', destination: 'a-v1', service: 'a', requests: 30, errors: 3, requestsPerSecond: 1,
      errorRate: 0.1, latencyMs: { p50: 2, p95: 5, p99: 9 }, mtlsShare: 1, lastSeen: 0, protocols: ['http'], activeFaults: [], ejectedEndpoints: [], routedBy: ['HTTPRoute default/a'] }],
    serviceEdges: [], faults: [], outliers: [],
  };
  const g = buildGraph(t);
  assert.deepEqual(g.edges.map((e) => [e.id, e.rps, e.errorRate, e.p99Ms, e.mtls, e.health, e.routedBy]), [['istio-ingressgateway->a-v1', 1, 0.1, 9, true, 'degraded', ['HTTPRoute default/a']]]);
});

/** Type errors of `entry` (and what it imports) compiled with `tsconfig`, the contract's text replaced by `contract`. */
function typeErrors(tsconfig: string, entry: string, contract: string): Array<{ file: string; text: string }> {
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(REPO, tsconfig), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } })!;
  const options = { ...parsed.options, noEmit: true };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (f) => (path.resolve(f) === CONTRACT ? contract : read(f));
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (f, lang, onError) => (path.resolve(f) === CONTRACT ? ts.createSourceFile(f, contract, lang) : getSourceFile(f, lang, onError));
  const program = ts.createProgram([path.join(REPO, entry)], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ({
    file: d.file ? path.relative(REPO, d.file.fileName) : '',
    text: ts.flattenDiagnosticMessageText(d.messageText, ' '),
  }));
}

/** The contract with one field of one interface renamed. */
function renamed(text: string, iface: string, field: string, to: string): string {
  const at = text.indexOf(`export interface ${iface} `);
  assert.ok(at >= 0, `interface ${iface} in the contract`);
  const fieldAt = text.indexOf(`\n  ${field}:`, at);
  assert.ok(fieldAt > at && fieldAt < text.indexOf('\n}', at), `${iface}.${field} in the contract`);
  return text.slice(0, fieldAt) + `\n  ${to}:` + text.slice(fieldAt + field.length + 4);
}

test('renaming a topology field in the contract fails the build of the extension and of the page', { timeout: 180_000 }, () => {
  const contract = ts.sys.readFile(CONTRACT)!;
  const builds = [
    { name: 'extension', tsconfig: 'tsconfig.json', entry: 'extension/extension.ts', dir: 'extension/' },
    { name: 'page', tsconfig: 'webview/tsconfig.json', entry: 'webview/main.ts', dir: 'webview/' },
  ];
  for (const b of builds) assert.deepEqual(typeErrors(b.tsconfig, b.entry, contract), [], `the ${b.name} builds against the contract as it is`);
  const changed = renamed(contract, 'TopologyWorkload', 'health', 'status');
  for (const b of builds) {
    const errors = typeErrors(b.tsconfig, b.entry, changed);
    assert.ok(errors.some((e) => e.file.startsWith(b.dir) && /'health'/.test(e.text)),
      `the ${b.name} build fails where it reads workload health: ${JSON.stringify(errors.slice(0, 5))}`);
  }
});
