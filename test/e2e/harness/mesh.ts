/**
 * A real `devmesh up` on a copy of the Bookinfo example with every port
 * replaced by a free one (the example pins 15000/15080/9180-9185), so tests
 * run beside a developer's own demo. Stopped with SIGTERM, as a user would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { demoModulesEnv, freePorts, REPO, waitFor } from './env';

export interface Session { apiUrl: string; token: string; pid: number; dashboardUrl?: string }

export interface DemoMesh {
  dir: string;
  meshFile: string;
  ingressPort: number;
  workloads: string[];
}

/** Copies examples/bookinfo into a temp folder with free ports; returns where. */
export async function makeDemoMesh(): Promise<DemoMesh> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-e2e-'));
  cpSync(path.join(REPO, 'examples', 'bookinfo'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}.devmesh`) });
  const meshFile = path.join(dir, 'mesh.yaml');
  const mesh = yaml.load(readFileSync(meshFile, 'utf8')) as {
    spec: { controlPort?: number; ingress?: { port: number }; services: { workloads: { name: string; port: number; sidecar?: unknown; upstreams?: { localPort: number }[] }[] }[] };
  };
  const workloads = mesh.spec.services.flatMap((s) => s.workloads);
  const upstreams = workloads.flatMap((w) => w.upstreams ?? []);
  const ports = await freePorts(2 + workloads.length + upstreams.length);
  mesh.spec.controlPort = ports[0];
  mesh.spec.ingress = { ...(mesh.spec.ingress ?? {}), port: ports[1] };
  workloads.forEach((w, i) => { w.port = ports[2 + i]; delete w.sidecar; });
  upstreams.forEach((u, i) => { u.localPort = ports[2 + workloads.length + i]; });
  writeFileSync(meshFile, yaml.dump(mesh, { lineWidth: 200 }));
  return { dir, meshFile, ingressPort: ports[1], workloads: workloads.map((w) => w.name) };
}

export function readSession(meshFile: string): Session | undefined {
  try { return JSON.parse(readFileSync(path.join(path.dirname(meshFile), '.devmesh', 'session.json'), 'utf8')) as Session; } catch { return undefined; }
}

export interface RunningMesh extends DemoMesh {
  proc: ChildProcess;
  session: Session;
  output: () => string;
  stop(): Promise<void>;
}

export async function startDemoMesh(demo?: DemoMesh): Promise<RunningMesh> {
  const m = demo ?? (await makeDemoMesh());
  let out = '';
  const proc = spawn(process.execPath, [path.join(REPO, 'bin', 'devmesh.js'), 'up', '-f', m.meshFile], { cwd: m.dir, env: { ...process.env, NO_COLOR: '1', ...demoModulesEnv() }, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (b: Buffer) => { out += b; });
  proc.stderr!.on('data', (b: Buffer) => { out += b; });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    }
    rmSync(m.dir, { recursive: true, force: true });
  };
  try {
    const session = await waitFor('devmesh up to write its session file', () => {
      if (proc.exitCode !== null) throw new Error(`devmesh up exited with ${proc.exitCode}:\n${out}`);
      const s = readSession(m.meshFile);
      return s && s.pid === proc.pid ? s : undefined;
    }, 60_000);
    await waitFor('the mesh to be ready', async () => {
      const r = await fetch(`${session.apiUrl}/api/health`, { headers: { authorization: `Bearer ${session.token}` } });
      return r.status === 200 ? true : undefined;
    }, 60_000, 200);
    return { ...m, proc, session, output: () => out, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Sends `n` requests through the ingress to productpage (proxy-form, as `curl -x` does). */
export async function sendTraffic(ingressPort: number, n: number): Promise<{ ok: number; failed: number }> {
  const http = await import('node:http');
  let ok = 0, failed = 0;
  for (let i = 0; i < n; i++) {
    const status = await new Promise<number>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: ingressPort, path: 'http://productpage:9080/productpage', headers: { host: 'productpage:9080' }, timeout: 5_000 }, (res) => {
        res.resume(); res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (status >= 200 && status < 400) ok++; else failed++;
  }
  return { ok, failed };
}
