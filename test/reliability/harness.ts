/**
 * Shared by the reliability scenarios: a small mesh (ingress -> front ->
 * back v1/v2, echo apps), a bounded load generator that counts every request
 * and why it failed, process samples (RSS, open fds) and the table row each
 * scenario prints. Short mode (the default, run by `npm test`) keeps sizes
 * small; long mode (RELIABILITY_LONG=1 or `--long`) runs the sizes whose
 * figures are recorded in RELIABILITY.md, and appends each row to
 * RELIABILITY_RESULTS (default out/reliability-results.md).
 *
 * Every load loop targets 127.0.0.1 only and is bounded in count and time.
 */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts, REPO, startUp, waitReady, type BookinfoFixture, type UpProcess } from '../control/helpers';

export const LONG = process.env.RELIABILITY_LONG === '1' || process.argv.includes('--long');
/** Short value in CI, long value for the recorded figures. */
export const size = <T>(short: T, long: T): T => (LONG ? long : short);

export const ECHO = path.join(REPO, 'test', 'reliability', 'fixtures', 'echo.js');

/** A generated Mesh in a temp folder: the same shape as the Bookinfo fixture of the control tests. */
export type MeshFixture = BookinfoFixture;

export const BACK_RULES = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: back }
spec:
  host: back
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;

/** A VirtualService splitting `back` between v1 and v2 (weights are relative, as in Istio). */
export const backWeights = (v1: number, v2: number, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: back }
spec:
  hosts: [back]
  http:
    - route:
        - { destination: { host: back, subset: v1 }, weight: ${v1} }
        - { destination: { host: back, subset: v2 }, weight: ${v2} }
${extra}`;

/**
 * front (front-v1) calls back (back-v1, back-v2); all echo apps started by
 * devmesh. `policies` are extra files beside the Mesh.
 */
export async function meshFixture(policies: Record<string, string> = {}, opts: { sidecarPins?: string; env?: Record<string, Record<string, string>> } = {}): Promise<MeshFixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-rel-'));
  const [controlPort, ingressPort, f1, b1, b2] = await freePorts(5);
  const appPorts = { 'front-v1': f1, 'back-v1': b1, 'back-v2': b2 };
  const wl = (name: keyof typeof appPorts, app: string, version: string) => `
        - name: ${name}
          labels: { app: ${app}, version: ${version} }
          port: ${appPorts[name]}
          command: ["node", ${JSON.stringify(ECHO)}]${opts.env?.[name] ? `\n          env: ${JSON.stringify(opts.env[name])}` : ''}`;
  const mesh = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: reliability }
spec:
  controlPort: ${controlPort}
  ingress: { port: ${ingressPort} }
  services:
    - name: front
      port: 8080
      workloads:${wl('front-v1', 'front', 'v1')}
    - name: back
      port: 8080
      workloads:${wl('back-v1', 'back', 'v1')}${wl('back-v2', 'back', 'v2')}
`;
  const meshFile = path.join(dir, 'mesh.yaml');
  writeFileSync(meshFile, mesh);
  writeFileSync(path.join(dir, 'back-rules.yaml'), BACK_RULES);
  for (const [name, text] of Object.entries(policies)) writeFileSync(path.join(dir, name), text);
  return {
    dir, meshFile, controlPort, ingressPort, appPorts,
    write: (name, text) => writeFileSync(path.join(dir, name), text),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * `devmesh up` on the fixture, ready to serve. The fixture's ports are pinned
 * in the Mesh after a probe, so a parallel test run can take one first; devmesh
 * then names it and exits, and the fixture gets new ports (bounded).
 */
export async function upMesh(fx: MeshFixture, env: Record<string, string> = {}, args: string[] = []): Promise<UpProcess & { retried: string[] }> {
  // What the attempts before the one that served said: a test whose subject is the startup itself checks it is empty.
  const retried: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const up = startUp(fx.meshFile, env, args);
    try {
      await waitReady(up, fx.meshFile);
      return Object.assign(up, { retried });
    } catch (e) {
      await up.stop();
      if (attempt >= 3 || !/already in use|was taken by another process/.test(up.output())) throw e;
      retried.push(up.output());
      await repickPorts(fx);
    }
  }
}

async function repickPorts(fx: MeshFixture): Promise<void> {
  const names = Object.keys(fx.appPorts);
  const fresh = await freePorts(2 + names.length);
  let text = readFileSync(fx.meshFile, 'utf8');
  const swap = (from: number, to: number) => { text = text.replace(new RegExp(`\\b${from}\\b`, 'g'), String(to)); return to; };
  fx.controlPort = swap(fx.controlPort, fresh[0]);
  fx.ingressPort = swap(fx.ingressPort, fresh[1]);
  names.forEach((n, i) => { fx.appPorts[n] = swap(fx.appPorts[n], fresh[2 + i]); });
  writeFileSync(fx.meshFile, text);
}

// ---------- load ----------

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  /** Failure reason ("503 UF", "ECONNRESET", "timeout") -> count. */
  reasons: Record<string, number>;
  maxMs: number;
  ms: number;
  /** The first response body (or error) seen per failure reason. */
  samples: Record<string, string>;
}

export interface LoadOptions {
  port: number;
  /** Proxy-form URL (`http://front:8080/call/back/x`). */
  url: string | ((i: number) => string);
  concurrency: number;
  /** Upper bounds: the loop stops at whichever comes first (or at stop()). */
  maxRequests: number;
  maxMs: number;
  /** Per-request deadline: a request not answered by then counts as failed ("timeout"). */
  timeoutMs?: number;
  /** Pause between one worker's requests (moderate load instead of flat out). */
  pauseMs?: number;
  /** Called with every failure, for scenario-specific accounting. */
  onFailure?: (reason: string, at: number) => void;
  headers?: Record<string, string>;
}

/** A bounded closed-loop load: `concurrency` workers, each sending one request after another. */
export class Load {
  readonly result: LoadResult = { sent: 0, ok: 0, failed: 0, reasons: {}, maxMs: 0, ms: 0, samples: {} };
  private stopped = false;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  readonly done: Promise<LoadResult>;

  constructor(private readonly o: LoadOptions) {
    const t0 = Date.now();
    this.done = Promise.all(Array.from({ length: o.concurrency }, () => this.worker(t0))).then(() => {
      this.agent.destroy();
      this.result.ms = Date.now() - t0;
      return this.result;
    });
  }

  stop(): Promise<LoadResult> { this.stopped = true; return this.done; }

  private async worker(t0: number): Promise<void> {
    while (!this.stopped && this.result.sent < this.o.maxRequests && Date.now() - t0 < this.o.maxMs) {
      const i = this.result.sent++;
      const url = typeof this.o.url === 'function' ? this.o.url(i) : this.o.url;
      const start = Date.now();
      const r = await request(this.o.port, url, { agent: this.agent, timeoutMs: this.o.timeoutMs ?? 10_000, headers: this.o.headers });
      const ms = Date.now() - start;
      this.result.maxMs = Math.max(this.result.maxMs, ms);
      if (r.status === 200) this.result.ok++;
      else {
        this.result.failed++;
        const reason = r.status ? `${r.status}${r.flag ? ` ${r.flag}` : ''}` : r.error!;
        this.result.reasons[reason] = (this.result.reasons[reason] ?? 0) + 1;
        this.result.samples[reason] ??= `${new Date(start).toISOString()} ${r.body.slice(0, 300)}`;
        this.o.onFailure?.(reason, start);
      }
      if (this.o.pauseMs) await new Promise((res) => setTimeout(res, this.o.pauseMs));
    }
  }
}

export interface Reply { status: number; body: string; flag?: string; error?: string; headers?: http.IncomingHttpHeaders }

/** One proxy-form GET/POST through a listener on 127.0.0.1; never throws, never hangs past `timeoutMs`. */
export function request(port: number, url: string, o: { agent?: http.Agent | false; timeoutMs?: number; method?: string; body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Reply) => { if (!settled) { settled = true; clearTimeout(timer); resolve(r); } };
    const req = http.request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: url, headers: { host: u.host, ...o.headers }, agent: o.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => finish({ status: res.statusCode!, body, flag: res.headers['x-devmesh-response-flags'] as string | undefined ?? flagOf(res.headers), headers: res.headers }));
      res.on('error', (e) => finish({ status: 0, body, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    });
    const timer = setTimeout(() => { req.destroy(); finish({ status: 0, body: '', error: 'timeout' }); }, o.timeoutMs ?? 10_000);
    req.on('error', (e) => finish({ status: 0, body: '', error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(o.body);
  });
}

/** The proxy-error header devmesh puts on responses it made itself (linkerd's l5d-proxy-error style). */
function flagOf(h: http.IncomingHttpHeaders): string | undefined {
  const v = h['x-devmesh-proxy-error'] ?? h['l5d-proxy-error'];
  return typeof v === 'string' ? v : undefined;
}

// ---------- processes ----------

export interface ProcSample { pid: number; rssKb: number; fds: number }

/** RSS (kB) and open file descriptors of a live process, from /proc. */
export function sampleProc(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  let fds = 0;
  try { fds = readdirSync(`/proc/${pid}/fd`).length; } catch { /* gone */ }
  return { pid, rssKb, fds };
}

/** Pids of every sidecar (and the ingress) of a running mesh, by name. */
export async function sidecarPids(up: UpProcess): Promise<Record<string, number>> {
  const t = await (await up.api('/api/topology')).json() as { workloads: Array<{ name: string; pids: { sidecar: number | null } }>; ingress: { name: string; pid: number | null } };
  const out: Record<string, number> = {};
  if (t.ingress.pid) out[t.ingress.name] = t.ingress.pid;
  for (const w of t.workloads) if (w.pids.sidecar) out[w.name] = w.pids.sidecar;
  return out;
}

/** Every process running in `dir` (its cwd) or naming it on its command line: what a mesh in `dir` started. */
export function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${d}/cwd`);
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cwd === dir || cmd.includes(dir)) pids.push(Number(d));
    } catch { /* gone or not ours */ }
  }
  return pids;
}

// ---------- figures ----------

export interface Row {
  scenario: string;
  load: string;
  faults: string;
  durationMs: number;
  sent: number;
  ok: number;
  failed: number;
  explained: string;
  lost: number;
  rss?: string;
  fds?: string;
}

/** Prints the scenario's row; in long mode also appends it to the results file for RELIABILITY.md. */
export function record(row: Row): void {
  const cells = [row.scenario, row.load, row.faults, `${(row.durationMs / 1000).toFixed(1)} s`, `${row.sent} / ${row.ok} / ${row.failed}`, row.explained || '-', String(row.lost), row.rss ?? '-', row.fds ?? '-'];
  const line = `| ${cells.join(' | ')} |`;
  process.stdout.write(`[reliability${LONG ? ' long' : ''}] ${line}\n`);
  if (LONG) appendFileSync(process.env.RELIABILITY_RESULTS ?? path.join(REPO, 'out', 'reliability-results.md'), line + '\n');
}

export function reasons(r: Record<string, number>): string {
  return Object.entries(r).map(([k, v]) => `${v}x ${k}`).join(', ');
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
