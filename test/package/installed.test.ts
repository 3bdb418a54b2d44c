/**
 * devmesh as a user gets it: `npm pack` of this repository, installed into a
 * fresh project in the temp folder (outside the repository, so nothing of its
 * node_modules is reachable), then the README's commands run from that
 * install — `npx devmesh init` from a docker-compose.yml and from flags,
 * `devmesh validate`, `devmesh up` with two tiny services, one request through
 * the mesh, and Ctrl-C, after which no process is left and every port is free.
 * Packs with --ignore-scripts: `npm test` has just built (prepack would build again).
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { canBind, freePorts, pidAlive, viaProxy, waitFor, within } from '../control/helpers';
import { LspProcess } from '../language-server/lsp-process';

const REPO = path.resolve(__dirname, '..', '..', '..');
const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };

let work: string;
let tarball: string;
let install: { stdout: string; stderr: string };
let app: string;

/** The environment of a user's shell: nothing pointing back into this repository (`npm test` sets npm_* for it). */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|NODE_PATH$|NODE_OPTIONS$|INIT_CWD$)/i.test(k)) env[k] = v;
  return { ...env, NO_COLOR: '1', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...extra };
}

/** `npx devmesh ...` as the README says it; `bin` runs the same link (node_modules/.bin/devmesh) without npx's second of start-up. */
function devmesh(cwd: string, args: string[], how: 'npx' | 'bin' = 'bin'): { status: number | null; out: string } {
  const [file, pre] = how === 'npx' ? ['npx', ['--no-install', 'devmesh']] : [path.join(cwd, 'node_modules', '.bin', 'devmesh'), []];
  const r = spawnSync(file, [...pre, ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: userEnv() });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
}

/** An empty project: a folder with a package.json. */
function newProject(name: string): string {
  const dir = path.join(work, name);
  writeFiles(dir, { 'package.json': JSON.stringify({ name, version: '1.0.0', private: true }) });
  return dir;
}

function npmInstall(dir: string, args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync('npm', ['install', '--prefer-offline', ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: userEnv() });
  assert.equal(r.status, 0, `npm install ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Tiny services: `back` answers; `front` calls back through its sidecar, as an app in the mesh does. */
const BACK = `require('node:http').createServer((req, res) => res.end(process.env.GREETING)).listen(Number(process.env.PORT), '127.0.0.1');\n`;
const FRONT = `const http = require('node:http');
const outbound = new URL(process.env.DEVMESH_OUTBOUND);
http.createServer((req, res) => {
  // Proxy form to the sidecar's outbound listener (Node's http ignores HTTP_PROXY before Node 24).
  http.get({ host: outbound.hostname, port: outbound.port, path: process.env.BACKEND + '/', headers: { host: new URL(process.env.BACKEND).host } }, (r) => {
    let body = '';
    r.on('data', (c) => { body += c; });
    r.on('end', () => res.end('front got: ' + body + ' (' + r.statusCode + ')'));
  }).on('error', (e) => { res.statusCode = 502; res.end(String(e)); });
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** Processes whose command line or working folder is inside `dir` (from /proc): what devmesh started there. */
function processesIn(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cmdline.includes(dir) || cwd === dir || cwd.startsWith(dir + path.sep)) found.push(`${pid} ${cmdline} (in ${cwd})`);
    } catch { /* gone meanwhile, or not ours to read */ }
  }
  return found;
}

before(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'devmesh-installed-'));
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: REPO, stdio: 'pipe', env: userEnv() });
  tarball = path.join(work, `devmesh-${version}.tgz`);
  app = newProject('app');
  install = npmInstall(app, ['-D', tarball]);
});

after(() => { if (work) rmSync(work, { recursive: true, force: true }); });

describe('devmesh installed from its npm tarball into a fresh project', () => {
  it('the tarball holds bin/, the bundles, the page and the notices, and nothing from test/, bench/, .ci/ or out/', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, '')).sort();
    // The sidecar's rare-path packages (jose, prom-client, protobufjs) are files of their own, required on first use.
    assert.deepEqual(files, ['LICENSE', 'README.md', 'bin/devmesh.js', 'dist/THIRD-PARTY-NOTICES.txt', 'dist/cli.js', 'dist/sidecar-jose.js', 'dist/sidecar-prom-client.js', 'dist/sidecar-protobufjs.js', 'dist/sidecar.js', 'dist/webview.css', 'dist/webview.js', 'package.json']);
  });

  it('installs quietly, as one package with no dependency and no install script', () => {
    assert.doesNotMatch(install.stderr, /warn|install-scripts|ERR/i);
    assert.deepEqual(readdirSync(path.join(app, 'node_modules')).filter((f) => !f.startsWith('.')), ['devmesh']);
    const manifest = JSON.parse(readFileSync(path.join(app, 'node_modules', 'devmesh', 'package.json'), 'utf8'));
    assert.equal(manifest.dependencies, undefined);
    assert.deepEqual(Object.keys(manifest.scripts ?? {}).filter((s) => /^(pre|post)?install$|^prepare$/.test(s)), []);
  });

  it('npx devmesh --version answers with the package version', () => {
    const r = devmesh(app, ['--version'], 'npx');
    assert.equal(r.status, 0, r.out);
    assert.equal(r.out.trim(), version);
  });

  it('npm install -g puts devmesh on PATH', () => {
    const prefix = path.join(work, 'global');
    npmInstall(work, ['-g', '--prefix', prefix, tarball]);
    const r = spawnSync('devmesh', ['--version'], { encoding: 'utf8', env: userEnv({ PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH}` }) });
    assert.equal(r.stdout.trim(), version, r.stderr);
  });

  it('devmesh init writes a Mesh from --service flags that devmesh validate accepts', () => {
    const dir = newProject('flags');
    npmInstall(dir, ['-D', tarball]);
    const init = devmesh(dir, ['init', '--service', 'api=3000:node api.js', '--service', 'web=3001:npm start'], 'npx');
    assert.equal(init.status, 0, init.out);
    assert.match(init.out, /wrote mesh\.yaml, policies\/api\.yaml/);
    const validate = devmesh(dir, ['validate']);
    assert.equal(validate.status, 0, validate.out);
    assert.match(validate.out, /0 errors, 0 warnings in 2 files checked/);
  });

  it('devmesh init reads a docker-compose.yml; devmesh up runs it, a request crosses the mesh, and Ctrl-C stops every process and frees every port', async () => {
    const [backPort, frontPort, controlPort, ingressPort] = await freePorts(4);
    const dir = app;
    writeFiles(dir, {
      'docker-compose.yml': `services:
  back:
    build: ./back
    command: node server.js
    ports: ["${backPort}:8080"]
    environment: { GREETING: hello from back }
  front:
    build: ./front
    command: node server.js
    ports: ["${frontPort}:8080"]
    environment:
      - BACKEND=http://back:8080
  cache:
    image: redis:7
    ports: ["6379:6379"]
`,
      'back/server.js': BACK,
      'front/server.js': FRONT,
    });
    const init = devmesh(dir, ['init']);
    assert.equal(init.status, 0, init.out);
    assert.match(init.out, /found 3 services in docker-compose\.yml/);
    const validate = devmesh(dir, ['validate'], 'npx');
    assert.equal(validate.status, 0, validate.out);

    // The test's own ports instead of 15000/15080, which a developer's mesh may hold.
    const meshFile = path.join(dir, 'mesh.yaml');
    const mesh = parseDocument(readFileSync(meshFile, 'utf8'));
    mesh.setIn(['spec', 'controlPort'], controlPort);
    mesh.setIn(['spec', 'ingress'], mesh.createNode({ port: ingressPort }));
    writeFileSync(meshFile, mesh.toString());

    // In its own process group, so SIGINT to the group is what Ctrl-C in a terminal sends.
    const up = spawn('npx', ['--no-install', 'devmesh', 'up'], { cwd: dir, env: userEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    up.stdout!.on('data', (c) => { out += c; });
    up.stderr!.on('data', (c) => { out += c; });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => up.once('exit', (code, signal) => r({ code, signal })));
    try {
      const session = await waitFor('devmesh up to write its session file', () => {
        try { return JSON.parse(readFileSync(path.join(dir, '.devmesh', 'session.json'), 'utf8')) as { apiUrl: string; token: string; pid: number }; } catch { return undefined; }
      }, 30_000).catch((e) => { throw new Error(`${(e as Error).message}\n${out}`); });
      const api = async (p: string) => (await fetch(session.apiUrl + p, { headers: { authorization: `Bearer ${session.token}` } })).json() as Promise<any>;
      await waitFor('the mesh to be ready', async () => (await fetch(`${session.apiUrl}/api/health`, { headers: { authorization: `Bearer ${session.token}` } })).status === 200, 30_000);
      const reply = await waitFor('front to answer through the ingress', async () => {
        const r = await viaProxy(ingressPort, 'http://front:8080/');
        return r.status === 200 ? r : undefined;
      }, 20_000, 200);
      assert.equal(reply.body, 'front got: hello from back (200)');

      const topology = await api('/api/topology');
      const pids: number[] = [session.pid, topology.ingress.pid, ...topology.workloads.flatMap((w: any) => [w.pids.sidecar, w.pids.app])].filter(Boolean);
      const ports: number[] = [controlPort, ingressPort, topology.ingress.adminPort, backPort, frontPort, ...topology.workloads.flatMap((w: any) => [w.sidecar.inboundPort, w.sidecar.outboundPort, w.sidecar.adminPort])];
      assert.deepEqual(topology.workloads.map((w: any) => w.name).sort(), ['back', 'cache', 'front']);
      assert.ok(processesIn(dir).length >= 4, `devmesh up, its sidecars and both apps run from the project:\n${processesIn(dir).join('\n')}`);

      process.kill(-up.pid!, 'SIGINT');
      await within(exited, 20_000, 'devmesh up exiting after Ctrl-C');
      assert.match(out, /mesh stopped/);
      await waitFor('every process devmesh started to be gone', () => pids.every((p) => !pidAlive(p)) && processesIn(dir).length === 0, 10_000)
        .catch(() => { throw new Error(`still running: ${pids.filter(pidAlive).join(', ')}\n${processesIn(dir).join('\n')}`); });
      for (const port of ports) assert.ok(await canBind(port), `port ${port} is free again`);
    } finally {
      if (up.exitCode === null && up.signalCode === null) { try { process.kill(-up.pid!, 'SIGKILL'); } catch { /* gone */ } }
    }
  });

  it('devmesh lsp --stdio from the install reports a policy error in an open file', async () => {
    const dir = app;
    const lsp = new LspProcess('npx', ['--no-install', 'devmesh', 'lsp', '--stdio'], { cwd: dir });
    try {
      const init = await lsp.initialize(dir);
      assert.ok(init.capabilities.completionProvider, 'the server offers completion');
      const uri = `file://${path.join(dir, 'broken.yaml')}`;
      lsp.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'yaml', version: 1, text: 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r }\nspec:\n  hosts: [reviews]\n  http:\n    - timeot: 1s\n' } });
      const diags = await lsp.waitFor('textDocument/publishDiagnostics', (p) => p.uri === uri && p.diagnostics.length > 0, 20_000);
      assert.match(diags.diagnostics.map((d: any) => d.message).join('\n'), /unknown field "timeot"/);
    } finally {
      await lsp.close();
    }
  });
});
