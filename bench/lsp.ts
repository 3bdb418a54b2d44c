/**
 * Language server benchmark, through the real stdio server
 * (`node bin/devmesh.js lsp --stdio`) on a generated workspace: a Mesh of 50
 * services (v1 and v2 each), their DestinationRules, a Gateway, and 200
 * files x 10 VirtualServices (2,000 documents).
 *
 * Measures: initialize + index + first full check; keystroke (didChange) ->
 * publishDiagnostics of the edited file, p50/p95, with keystrokes 100 ms
 * apart (typing) and in bursts 20 ms apart (debounced); completion and
 * hover p95; RSS with every file open.
 *
 * With --peer, the same run measures Red Hat's yaml-language-server with Istio's
 * VirtualService CRD schema (extracted from istio/api's
 * kubernetes/customresourcedefinitions.gen.yaml): there, "ready" is the time to
 * open every file and receive its diagnostics (it checks open files only).
 *
 *   npx tsc -p . && node out/bench/lsp.js [--files 200] [--per-file 10] [--keystrokes 100]
 *     [--peer node_modules/yaml-language-server/bin/yaml-language-server --peer-crd crds.yaml]
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import * as path from 'node:path';
import { LspProcess, pathToUri, REPO } from '../test/language-server/lsp-process';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const FILES = opt('files', 200);
const PER_FILE = opt('per-file', 10);
const KEYSTROKES = opt('keystrokes', 100);
const QUERIES = opt('queries', 300);
const SERVICES = 50;

function generate(root: string): string[] {
  const mesh = [
    'apiVersion: devmesh.dev/v1alpha1', 'kind: Mesh', 'metadata:', '  name: bench', 'spec:', '  namespace: default', '  services:',
  ];
  for (let s = 0; s < SERVICES; s++) {
    mesh.push(`    - name: svc-${s}`, '      port: 9080', '      workloads:');
    for (const v of ['v1', 'v2']) {
      mesh.push(`        - name: svc-${s}-${v}`, `          port: ${20000 + s * 2 + (v === 'v1' ? 0 : 1)}`,
        `          labels: { app: svc-${s}, version: ${v} }`, `          serviceAccount: svc-${s}`);
    }
  }
  writeFileSync(path.join(root, 'mesh.yaml'), mesh.join('\n') + '\n');
  const drs: string[] = [];
  for (let s = 0; s < SERVICES; s++) {
    drs.push([
      'apiVersion: networking.istio.io/v1', 'kind: DestinationRule', 'metadata:', `  name: svc-${s}`, 'spec:', `  host: svc-${s}`,
      '  subsets:', '    - name: v1', '      labels:', '        version: v1', '    - name: v2', '      labels:', '        version: v2',
    ].join('\n'));
  }
  mkdirSync(path.join(root, 'policies'));
  writeFileSync(path.join(root, 'policies', 'destination-rules.yaml'), drs.join('\n---\n') + '\n');
  writeFileSync(path.join(root, 'policies', 'gateway.yaml'), [
    'apiVersion: networking.istio.io/v1', 'kind: Gateway', 'metadata:', '  name: edge', 'spec:', '  selector:', '    istio: ingressgateway',
    '  servers:', '    - port:', '        number: 8080', '        name: http', '        protocol: HTTP', '      hosts:', '        - "*.example.com"', '',
  ].join('\n'));
  const files: string[] = [];
  mkdirSync(path.join(root, 'routes'));
  for (let f = 0; f < FILES; f++) {
    const docs: string[] = [];
    for (let i = 0; i < PER_FILE; i++) {
      const s = (f * PER_FILE + i) % SERVICES;
      docs.push([
        'apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata:', `  name: app-${f}-${i}`, 'spec:',
        '  hosts:', `    - app-${f}-${i}.example.com`, '  gateways:', '    - edge', '  http:',
        '    - match:', '        - uri:', `            prefix: /api/${i}`,
        '      route:', '        - destination:', `            host: svc-${s}`, '            subset: v1', '          weight: 90',
        '        - destination:', `            host: svc-${s}`, '            subset: v2', '          weight: 10',
        '      timeout: 2s', '      retries:', '        attempts: 3', '        perTryTimeout: 500ms', '        retryOn: 5xx,connect-failure',
      ].join('\n'));
    }
    const file = path.join(root, 'routes', `routes-${String(f).padStart(3, '0')}.yaml`);
    writeFileSync(file, docs.join('\n---\n') + '\n');
    files.push(file);
  }
  return files;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const ms = (n: number) => `${n.toFixed(1)} ms`;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

function rssMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

interface Measured {
  ready: number;
  typing: number[];
  burst: number[];
  completion: number[];
  hover: number[];
  mem: { rss: number; peak: number };
  note?: string;
}

/**
 * Keystrokes, completion and hover on the first route file, with every file open.
 * `ready` is measured by the caller (it differs: devmesh indexes the folder, the peer
 * validates open documents).
 */
async function measure(server: LspProcess, files: string[]): Promise<Omit<Measured, 'ready'>> {
  const firstUri = pathToUri(files[0]);
  const text = readFileSync(files[0], 'utf8');
  const lines = text.split('\n');
  // Retype the digit of a subset (v2 is defined, v3..v9 are not: a cross-file finding for
  // devmesh whose message names the subset, so every keystroke changes its diagnostics).
  const subsetLine = lines.findIndex((l, i) => i > 200 && l.trim() === 'subset: v2');
  const col = lines[subsetLine].indexOf('v2') + 1;
  let version = 1;
  const edit = () => {
    const ch = '23456789'[version % 8];
    server.notify('textDocument/didChange', {
      textDocument: { uri: firstUri, version: ++version },
      contentChanges: [{ range: { start: { line: subsetLine, character: col }, end: { line: subsetLine, character: col + 1 } }, text: ch }],
    });
  };
  const keystroke = async (): Promise<number> => {
    const since = server.notifications.length;
    const start = performance.now();
    edit();
    await server.waitFor('textDocument/publishDiagnostics', (p) => p.uri === firstUri, 10_000, since);
    return performance.now() - start;
  };
  const typing: number[] = [];
  for (let i = 0; i < KEYSTROKES; i++) {
    typing.push(await keystroke());
    await sleep(100);
  }
  // Bursts: 4 keystrokes 20 ms apart, then one more; time from the last one to the diagnostics.
  const burst: number[] = [];
  for (let b = 0; b < Math.max(5, KEYSTROKES / 10); b++) {
    for (let k = 0; k < 4; k++) {
      edit();
      await sleep(20);
    }
    burst.push(await keystroke());
    await sleep(300);
  }
  // Completion (a subset value, then spec keys) and hover (a host).
  const completion: number[] = [];
  const hover: number[] = [];
  const hostLine = subsetLine - 1;
  const hostCol = lines[hostLine].indexOf('svc-') + 2;
  for (let i = 0; i < QUERIES; i++) {
    const position = i % 2 === 0 ? { line: subsetLine, character: col + 1 } : { line: 5, character: 2 };
    let start = performance.now();
    await server.request('textDocument/completion', { textDocument: { uri: firstUri }, position });
    completion.push(performance.now() - start);
    start = performance.now();
    await server.request('textDocument/hover', { textDocument: { uri: firstUri }, position: { line: hostLine, character: hostCol } });
    hover.push(performance.now() - start);
  }
  return { typing, burst, completion, hover, mem: rssMiB(server.child.pid!) };
}

function openAll(server: LspProcess, files: string[]): void {
  for (const f of files) server.notify('textDocument/didOpen', { textDocument: { uri: pathToUri(f), languageId: 'yaml', version: 1, text: readFileSync(f, 'utf8') } });
}

async function benchDevmesh(root: string, files: string[]): Promise<Measured> {
  // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const server = new LspProcess(process.execPath, [...nodeArgs, path.join(REPO, 'bin', 'devmesh.js'), 'lsp', '--stdio']);
  try {
    // initialize + index + check everything: done when the first request after indexing returns.
    const t0 = performance.now();
    await server.initialize(root);
    const indexed = await server.waitFor('window/logMessage', (p) => /indexed/.test(p.message), 60_000);
    await server.request('textDocument/documentSymbol', { textDocument: { uri: pathToUri(files[0]) } }, 60_000);
    const ready = performance.now() - t0;
    openAll(server, files);
    await server.request('textDocument/documentSymbol', { textDocument: { uri: pathToUri(files[0]) } }, 60_000);
    const m = await measure(server, files);
    if (process.env.DEVMESH_LSP_TRACE === '1') process.stderr.write(server.stderr.split('\n').slice(-40).join('\n') + '\n');
    return { ready, ...m, note: indexed.message };
  } finally {
    await server.close();
  }
}

/** Red Hat's yaml-language-server with Istio's VirtualService CRD schema (v1), every file open. */
async function benchPeer(root: string, files: string[], bin: string, crdFile: string): Promise<Measured> {
  const schemaFile = path.join(root, 'virtualservice.schema.json');
  writeFileSync(schemaFile, JSON.stringify(virtualServiceSchemaFromCrd(crdFile)));
  const settings = {
    yaml: {
      validate: true, hover: true, completion: true, format: { enable: false }, schemaStore: { enable: false },
      schemas: { [pathToUri(schemaFile)]: ['routes/*.yaml'] },
    },
  };
  const server = new LspProcess(process.execPath, [bin, '--stdio']);
  server.handlers.set('workspace/configuration', (p: { items: { section?: string }[] }) =>
    p.items.map((i) => (i.section ? (settings as Record<string, unknown>)[i.section.split('.')[0]] ?? null : settings)));
  try {
    const t0 = performance.now();
    await server.initialize(root, { workspace: { configuration: true }, textDocument: { completion: { completionItem: { snippetSupport: true } } } });
    server.notify('workspace/didChangeConfiguration', { settings });
    const routeUris = new Set(files.map(pathToUri));
    const since = server.notifications.length;
    openAll(server, files);
    // Ready when every route file has had its diagnostics published once.
    await server.waitFor('textDocument/publishDiagnostics', () => {
      const seen = new Set(server.notifications.slice(since).filter((m) => m.method === 'textDocument/publishDiagnostics').map((m) => m.params.uri));
      return [...routeUris].every((u) => seen.has(u));
    }, 120_000, since);
    const ready = performance.now() - t0;
    const m = await measure(server, files);
    return { ready, ...m, note: 'yaml-language-server, schema from Istio CRD (VirtualService v1)' };
  } finally {
    await server.close();
  }
}

function virtualServiceSchemaFromCrd(crdFile: string): unknown {
  const { parseAllDocuments } = require('yaml') as typeof import('yaml');
  for (const doc of parseAllDocuments(readFileSync(crdFile, 'utf8'))) {
    const crd = doc.toJS() as any;
    if (crd?.spec?.names?.kind !== 'VirtualService') continue;
    const version = crd.spec.versions.find((v: any) => v.name === 'v1') ?? crd.spec.versions[0];
    const schema = version.schema.openAPIV3Schema;
    schema.properties.apiVersion = { type: 'string' };
    schema.properties.kind = { type: 'string', enum: ['VirtualService'] };
    schema.properties.metadata = { type: 'object' };
    return schema;
  }
  throw new Error(`no VirtualService CRD in ${crdFile}`);
}

function summary(m: Measured) {
  const p = (v: number[]) => ({ p50: ms(percentile(v, 50)), p95: ms(percentile(v, 95)), n: v.length });
  return {
    note: m.note,
    ready: ms(m.ready),
    keystrokeToDiagnostics: p(m.typing),
    burstLastKeystrokeToDiagnostics: p(m.burst),
    completion: p(m.completion),
    hover: p(m.hover),
    memoryAllOpen: `${m.mem.rss.toFixed(0)} MiB RSS (peak ${m.mem.peak.toFixed(0)} MiB)`,
  };
}

async function main(): Promise<void> {
  const root = mkdtempSync(path.join(tmpdir(), 'devmesh-bench-lsp-'));
  try {
    const files = generate(root);
    const report: Record<string, unknown> = {
      machine: `${cpus().length} x ${cpus()[0]?.model ?? '?'}, Node ${process.version}`,
      workspace: `${FILES} files x ${PER_FILE} VirtualServices + Mesh (${SERVICES} services) + ${SERVICES} DestinationRules + Gateway`,
      devmesh: summary(await benchDevmesh(root, files)),
    };
    const peer = args.includes('--peer') ? args[args.indexOf('--peer') + 1] : undefined;
    const crd = args.includes('--peer-crd') ? args[args.indexOf('--peer-crd') + 1] : undefined;
    if (peer && crd) report.peer = summary(await benchPeer(root, files, peer, crd));
    else report.peer = 'skipped: pass --peer <yaml-language-server bin> --peer-crd <istio customresourcedefinitions.gen.yaml>';
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench/lsp: ${err.stack ?? err}\n`);
  process.exitCode = 1;
});
