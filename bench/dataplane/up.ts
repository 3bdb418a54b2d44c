/**
 * `devmesh up` on the bookinfo demo: time to every listener ready, and
 * config propagation (policy file saved -> every sidecar serving the new
 * snapshot). The demo is copied to a temp dir with every fixed port
 * rewritten to a free one, and run through the real CLI (`bin/devmesh.js`).
 *
 * Propagation is timed from the moment the file is written to the moment
 * devmesh prints "config vN applied to 8/8 sidecars", which it prints only
 * after every sidecar answered `applied` over IPC, i.e. after each one
 * swapped its tables. It includes the file watcher's latency and debounce
 * (20 ms), the reload (parse + validate + snapshot) and the IPC round trips.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { freePort } from './ports';
import { sleep } from './procs';

const ROOT = path.join(__dirname, '..', '..', '..');

export async function prepareBookinfo(dir: string): Promise<string> {
  cpSync(path.join(ROOT, 'examples', 'bookinfo'), dir, { recursive: true });
  const meshFile = path.join(dir, 'mesh.yaml');
  let text = readFileSync(meshFile, 'utf8');
  for (const fixed of [15000, 15080, 9180, 9181, 9182, 9183, 9184, 9185, 9186, 16379]) {
    text = text.replace(new RegExp(`\\b${fixed}\\b`, 'g'), String(await freePort()));
  }
  writeFileSync(meshFile, text);
  return meshFile;
}

interface UpProcess { child: ChildProcess; lines: string[]; waitFor(re: RegExp, timeoutMs: number, from?: number): Promise<{ match: RegExpExecArray; at: number; index: number }> }

function startUp(meshFile: string): UpProcess {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'devmesh.js'), 'up', '-f', meshFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', NODE_PATH: path.join(ROOT, 'node_modules') } });
  const lines: string[] = [];
  const stamps: number[] = [];
  const waiters: Array<() => void> = [];
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, nl)); stamps.push(performance.now()); buf = buf.slice(nl + 1); }
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  return {
    child, lines,
    waitFor(re, timeoutMs, from = 0) {
      const deadline = performance.now() + timeoutMs;
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = from; i < lines.length; i++) {
            const m = re.exec(lines[i]);
            if (m) return resolve({ match: m, at: stamps[i], index: i });
          }
          if (performance.now() > deadline || child.exitCode !== null) return reject(new Error(`devmesh up: no line matching ${re} (last lines: ${lines.slice(-5).join(' | ')})`));
          waiters.push(check);
          setTimeout(check, Math.max(0, deadline - performance.now()) + 1).unref();
        };
        check();
      });
    },
  };
}

async function stopUp(p: UpProcess): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGINT');
  await Promise.race([exited, sleep(5_000)]);
  if (p.child.exitCode === null) p.child.kill('SIGKILL');
}

export interface UpTiming { wallMs: number; reportedMs: number; phases: string }

/** Runs `devmesh up` `runs` times; each run ends with a clean Ctrl-C. */
export async function timeUp(meshFile: string, runs: number): Promise<UpTiming[]> {
  const out: UpTiming[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const p = startUp(meshFile);
    try {
      const { match, at } = await p.waitFor(/ready in (\d+) ms \(([^)]*)\)/, 20_000);
      out.push({ wallMs: at - t0, reportedMs: Number(match[1]), phases: match[2] });
    } finally {
      await stopUp(p);
    }
  }
  return out;
}

export interface Propagation { endToEndMs: number[]; reportedMs: number[]; sidecars: string }

/** Saves the reviews VirtualService `edits` times (a real change each time) and times each until applied everywhere. */
export async function timePropagation(meshFile: string, edits: number): Promise<Propagation> {
  const routing = path.join(path.dirname(meshFile), 'policies', 'routing.yaml');
  const original = readFileSync(routing, 'utf8');
  const p = startUp(meshFile);
  const endToEnd: number[] = [];
  const reported: number[] = [];
  let sidecars = '';
  try {
    const ready = await p.waitFor(/ready in (\d+) ms/, 20_000);
    await sleep(500); // the watcher starts after readiness
    let from = ready.index + 1;
    for (let i = 0; i < edits; i++) {
      const t0 = performance.now();
      writeFileSync(routing, original.replace('exact: jason', `exact: jason-${i}`));
      const { match, at, index } = await p.waitFor(/config v(\d+) applied to (\d+\/\d+) sidecars in ([\d.]+) ms/, 5_000, from);
      from = index + 1;
      endToEnd.push(at - t0);
      reported.push(Number(match[3]));
      sidecars = match[2];
      await sleep(60);
    }
  } finally {
    writeFileSync(routing, original);
    await stopUp(p);
  }
  return { endToEndMs: endToEnd, reportedMs: reported, sidecars };
}
