/**
 * Shared by the control-plane integration tests: a generated Bookinfo Mesh
 * on free ports in a temp folder, a running `devmesh up` child, and bounded
 * waits. Every wait has a deadline; every process is tracked for cleanup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SpanRecord } from '../../simulator/control/api/contract';
import { freePorts } from '../../simulator/control/ports';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const BIN = path.join(REPO, 'bin', 'devmesh.js');
export const SERVICES = path.join(REPO, 'examples', 'bookinfo', 'services');
export const STUB_SIDECAR = path.join(REPO, 'test', 'control', 'fixtures', 'stub-sidecar.js');

export { freePorts };

export interface BookinfoFixture {
  dir: string;
  meshFile: string;
  controlPort: number;
  ingressPort: number;
  appPorts: Record<string, number>;
  write(name: string, text: string): void;
  cleanup(): void;
}

/** A Bookinfo Mesh (productpage, details, reviews v1/v2/v3, ratings) on free ports, plus policy files. */
export async function bookinfoFixture(policies: Record<string, string> = {}, opts: { extraMeshYaml?: string } = {}): Promise<BookinfoFixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-up-'));
  const [controlPort, ingressPort, pp, det, r1, r2, r3, rat] = await freePorts(8);
  const appPorts = { 'productpage-v1': pp, 'details-v1': det, 'reviews-v1': r1, 'reviews-v2': r2, 'reviews-v3': r3, 'ratings-v1': rat };
  const wl = (name: string, version: string, svc: string, file: string, env?: Record<string, string>) => `
        - name: ${name}
          labels: { app: ${svc}, version: ${version} }
          serviceAccount: bookinfo-${svc}
          port: ${appPorts[name as keyof typeof appPorts]}
          command: ["node", "${file}"]
          cwd: ${JSON.stringify(SERVICES)}${env ? `\n          env: ${JSON.stringify(env)}` : ''}`;
  const mesh = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: bookinfo-test }
spec:
  controlPort: ${controlPort}
  ingress: { port: ${ingressPort} }
  services:
    - name: productpage
      port: 9080
      workloads:${wl('productpage-v1', 'v1', 'productpage', 'productpage.js')}
    - name: details
      port: 9080
      workloads:${wl('details-v1', 'v1', 'details', 'details.js')}
    - name: reviews
      port: 9080
      workloads:${wl('reviews-v1', 'v1', 'reviews', 'reviews.js', { ENABLE_RATINGS: 'false' })}${wl('reviews-v2', 'v2', 'reviews', 'reviews.js', { ENABLE_RATINGS: 'true', STAR_COLOR: 'black' })}${wl('reviews-v3', 'v3', 'reviews', 'reviews.js', { ENABLE_RATINGS: 'true', STAR_COLOR: 'red' })}
    - name: ratings
      port: 9080
      workloads:${wl('ratings-v1', 'v1', 'ratings', 'ratings.js')}
${opts.extraMeshYaml ?? ''}`;
  const meshFile = path.join(dir, 'mesh.yaml');
  writeFileSync(meshFile, mesh);
  // Istio's destination-rule-all-mtls.yaml: the subsets every routing task names.
  writeFileSync(path.join(dir, 'destination-rules.yaml'), readFileSync(path.join(REPO, 'examples', 'bookinfo', 'policies', 'destination-rules.yaml'), 'utf8'));
  for (const [name, text] of Object.entries(policies)) writeFileSync(path.join(dir, name), text);
  return {
    dir, meshFile, controlPort, ingressPort, appPorts,
    write: (name, text) => writeFileSync(path.join(dir, name), text),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface UpProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  session(): { apiUrl: string; token: string; pid: number };
  api(p: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

/** Runs `node bin/devmesh.js up -f <meshFile> [args]` and records its output. */
export function startUp(meshFile: string, env: Record<string, string> = {}, args: string[] = []): UpProcess {
  const child = spawn(process.execPath, [BIN, 'up', '-f', meshFile, ...args], {
    cwd: path.dirname(meshFile), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c) => { out += c; });
  child.stderr!.on('data', (c) => { out += c; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const sessionFile = path.join(path.dirname(meshFile), '.devmesh', 'session.json');
  const session = () => JSON.parse(readFileSync(sessionFile, 'utf8'));
  return {
    child, exited, session,
    output: () => out,
    api: (p, init = {}) => {
      const s = session();
      return fetch(s.apiUrl + p, { ...init, headers: { authorization: `Bearer ${s.token}`, ...(init.headers as Record<string, string> ?? {}) }, signal: AbortSignal.timeout(5_000) });
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 8_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Runs the real CLI (`node bin/devmesh.js ...args`); resolves with its exit code and output (bounded in time). */
export function cli(args: string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    child.stdout!.on('data', (c) => { out += c; });
    child.stderr!.on('data', (c) => { err += c; });
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => { clearTimeout(t); resolve({ code, out, err }); });
  });
}

/**
 * How long a wait for an event (a process exits, a mesh serves, a line is printed, a
 * config is applied) may take before the test calls it a hang. Not a speed target: on
 * this 2-core machine under other test runs a node process took 9.6 s of wall time to
 * load the control plane's modules (0.4 s of CPU, load average 22). Speed is measured in bench/.
 */
export const HANG_MS = 60_000;

/** Polls `check` every `everyMs` until it returns a value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) { lastErr = e; }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
}

/**
 * The spans `devmesh up` holds for a trace, once it holds at least `atLeast` of them
 * (the sidecars' telemetry reaches the control plane in batches).
 */
export function traceOf(up: UpProcess, traceId: string, atLeast: number, timeoutMs = 10_000): Promise<SpanRecord[]> {
  return waitFor(`${atLeast} spans of trace ${traceId}`, async () => {
    const r = await up.api(`/api/traces/${traceId}`);
    if (r.status !== 200) return undefined;
    const t = (await r.json()) as { spans: SpanRecord[] };
    return t.spans.length >= atLeast ? t.spans : undefined;
  }, timeoutMs, 100);
}

/** Waits for the session file, then for /api/health to say ready. */
export async function waitReady(up: UpProcess, meshFile: string, timeoutMs = HANG_MS): Promise<void> {
  const sessionFile = path.join(path.dirname(meshFile), '.devmesh', 'session.json');
  await waitFor('devmesh up to be ready', async () => {
    if (up.child.exitCode !== null) throw new Error(`devmesh up exited early:\n${up.output()}`);
    if (!existsSync(sessionFile)) return false;
    const r = await up.api('/api/health');
    return r.status === 200;
  }, timeoutMs).catch((e) => { throw new Error(`${(e as Error).message}\n--- devmesh output ---\n${up.output()}`); });
}

export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Whether 127.0.0.1:port can be bound now (nothing listens there). */
export function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** An HTTP request through a forward proxy (proxy-form), as curl -x does. */
export async function viaProxy(proxyPort: number, url: string, headers: Record<string, string> = {}, timeoutMs = 8_000): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const http = await import('node:http');
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: proxyPort, path: url, headers: { host: u.host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)));
    req.on('error', reject);
  });
}

export function removeDir(dir: string): void { rmSync(dir, { recursive: true, force: true }); }

/** `promise`, or a rejection naming `what` after `ms`; the timer never outlives the race. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`${what} did not happen within ${ms} ms`)), ms); })]);
  } finally { clearTimeout(timer); }
}

/** The events of the SSE stream (replayed history included) once `enough` holds of them; bounded against a hang. */
export async function eventsUntil(up: UpProcess, what: string, enough: (events: Array<{ type: string; workload?: string; process?: string }>) => boolean, timeoutMs = HANG_MS): Promise<Array<{ type: string; workload?: string; process?: string }>> {
  const s = up.session();
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  const events: Array<{ type: string; workload?: string; process?: string }> = [];
  let text = '';
  try {
    const r = await fetch(`${s.apiUrl}/api/events`, { headers: { authorization: `Bearer ${s.token}` }, signal: ctrl.signal });
    const reader = r.body!.getReader();
    while (!enough(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
      const lines = text.split('\n');
      text = lines.pop()!;
      for (const l of lines) if (l.startsWith('data: ')) events.push(JSON.parse(l.slice(6)));
    }
    if (enough(events)) return events;
    throw new Error('the stream ended');
  } catch (e) {
    throw new Error(`no ${what} in the event stream within ${timeoutMs} ms (${(e as Error).message}); last events: ${JSON.stringify(events.slice(-5))}`);
  } finally { clearTimeout(timer); ctrl.abort(); }
}

/** Reads the SSE stream for `ms` and returns the events (replayed history included). */
export async function readEvents(up: UpProcess, ms: number): Promise<Array<{ type: string; workload?: string; process?: string }>> {
  const s = up.session();
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), ms);
  let text = '';
  try {
    const r = await fetch(`${s.apiUrl}/api/events`, { headers: { authorization: `Bearer ${s.token}` }, signal: ctrl.signal });
    const reader = r.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
  } catch { /* aborted: the stream never ends by itself */ } finally { clearTimeout(timer); }
  return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
}

/** For `.catch`: rethrows with devmesh's output attached, so a failed wait shows what the mesh said. */
export function withOutput(up: UpProcess): (e: unknown) => never {
  return (e) => { throw new Error(`${(e as Error).message}\n--- devmesh output ---\n${up.output()}`); };
}

/** `devmesh up` on `meshYaml` (written as mesh.yaml in a new temp folder), once it serves and has printed its ready banner. */
export async function upWithMesh(meshYaml: string, prefix: string): Promise<{ dir: string; up: UpProcess }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const meshFile = path.join(dir, 'mesh.yaml');
  writeFileSync(meshFile, meshYaml);
  const up = startUp(meshFile);
  try {
    await waitReady(up, meshFile);
    await waitFor('the ready banner', () => up.output().includes('how apps reach each service')).catch(withOutput(up));
  } catch (e) {
    await up.stop();
    removeDir(dir);
    throw e;
  }
  return { dir, up };
}

export interface DemoCopy { dir: string; meshFile: string; controlPort: number; ingressPort: number; appPorts: Record<string, number>; upstreamPorts: Record<string, number> }

/**
 * examples/bookinfo (the demo `npm run demo` runs) copied to a temp folder
 * with every port it pins — control, ingress, apps, local upstream ports —
 * replaced by a free one, so a test runs beside a developer's own demo.
 */
export async function bookinfoDemoCopy(prefix = 'devmesh-demo-'): Promise<DemoCopy> {
  const { parseDocument } = await import('yaml');
  const { cpSync } = await import('node:fs');
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cpSync(path.join(REPO, 'examples', 'bookinfo'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}.devmesh`) });
  const meshFile = path.join(dir, 'mesh.yaml');
  const doc = parseDocument(readFileSync(meshFile, 'utf8'));
  type W = { name: string; port: number; upstreams?: Array<{ service: string; localPort: number }> };
  const spec = doc.toJS() as { spec: { services: Array<{ workloads: W[] }> } };
  const workloads = spec.spec.services.flatMap((s, si) => s.workloads.map((w, wi) => ({ w, si, wi })));
  const upstreams = workloads.flatMap(({ w, si, wi }) => (w.upstreams ?? []).map((u, ui) => ({ key: `${w.name}:${u.service}`, path: ['spec', 'services', si, 'workloads', wi, 'upstreams', ui, 'localPort'] })));
  const [controlPort, ingressPort, ...rest] = await freePorts(2 + workloads.length + upstreams.length);
  doc.setIn(['spec', 'controlPort'], controlPort);
  doc.setIn(['spec', 'ingress', 'port'], ingressPort);
  const appPorts: Record<string, number> = {};
  workloads.forEach(({ w, si, wi }, i) => { appPorts[w.name] = rest[i]; doc.setIn(['spec', 'services', si, 'workloads', wi, 'port'], rest[i]); });
  const upstreamPorts: Record<string, number> = {};
  upstreams.forEach((u, i) => { upstreamPorts[u.key] = rest[workloads.length + i]; doc.setIn(u.path, rest[workloads.length + i]); });
  writeFileSync(meshFile, doc.toString());
  return { dir, meshFile, controlPort, ingressPort, appPorts, upstreamPorts };
}

const indentPem = (pem: string) => pem.trim().split('\n').map((l) => `    ${l}`).join('\n');

/** A Kubernetes TLS Secret in istio-system (where the gateways read credentials), its keys as stringData: what `kubectl create secret tls` stores. */
export function secretYaml(name: string, keys: Record<string, string>): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: istio-system }
type: kubernetes.io/tls
stringData:
${Object.entries(keys).map(([k, v]) => `  ${k}: |\n${indentPem(v)}`).join('\n')}
`;
}

/** secretYaml of a certificate and its key (`tls.crt`, `tls.key`), and any other keys (`ca.crt`). */
export function tlsSecretYaml(name: string, c: { certPem: string; keyPem: string }, extra: Record<string, string> = {}): string {
  return secretYaml(name, { 'tls.crt': c.certPem, 'tls.key': c.keyPem, ...extra });
}
