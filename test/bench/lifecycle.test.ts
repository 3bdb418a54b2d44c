/**
 * A benchmark run stops every process it started, whatever ends it, and
 * says why (bench/lifecycle.ts, bench/reaper.ts); it refuses to start beside
 * other devmesh/benchmark processes unless told to (bench/preflight.ts);
 * a wrk run it cannot read says how wrk ended (bench/dataplane/procs.ts).
 * Real processes: a miniature harness (fixtures/hold-harness.js) with a real
 * sidecar, killed with real signals, checked by pid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { startTimeOf, applyLine } from '../../bench/reaper';
import { busyMessage, busyProcesses, type ProcInfo } from '../../bench/preflight';
import { has, runWrk, wrkFailure } from '../../bench/dataplane/procs';

const REPO = path.join(__dirname, '..', '..', '..');
const FIXTURE = path.join(REPO, 'test', 'bench', 'fixtures', 'hold-harness.js');
const linux = process.platform === 'linux';

interface Started { child: ChildProcess; pids: Record<string, number>; starts: Map<number, string>; stderr: () => string; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }

async function startFixture(mode: string): Promise<Started> {
  const child = spawn(process.execPath, [FIXTURE, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const pids = await new Promise<Record<string, number>>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => { buf += d; const nl = buf.indexOf('\n'); if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl))); });
    void exit.then(({ code }) => reject(new Error(`the fixture exited (${code}) before printing its pids: ${err}`)));
  });
  // Each process is known by pid and start time: a pid the system reuses later is not mistaken for a survivor.
  const starts = new Map(Object.values(pids).map((pid) => [pid, startTimeOf(pid) ?? '']));
  for (const [name, pid] of Object.entries(pids)) assert.ok(starts.get(pid), `${name} (pid ${pid}) runs before the harness is ended`);
  return { child, pids, starts, stderr: () => err, exit };
}

/** Waits (bounded) until none of the processes runs; answers the survivors, killed afterwards so the test leaves nothing behind. */
async function survivors(s: Started): Promise<string[]> {
  const alive = () => Object.entries(s.pids).filter(([, pid]) => startTimeOf(pid) === s.starts.get(pid));
  const until = Date.now() + 20_000;
  while (alive().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const left = alive();
  for (const [, pid] of left) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  return left.map(([name, pid]) => `${name} ${pid}`);
}

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
  test(`a harness stopped by ${signal} says so with its phase, exits ${code}, and leaves none of its processes running`, { skip: !linux, timeout: 60_000 }, async () => {
    const s = await startFixture('hold');
    s.child.kill(signal);
    const { code: exitCode } = await s.exit;
    assert.equal(exitCode, code);
    assert.match(s.stderr(), new RegExp(`hold-harness: stopped by ${signal} in phase "holding"`));
    assert.deepEqual(await survivors(s), []);
  });
}

test('a harness killed with SIGKILL (no handler runs) still leaves none of its processes running: pdeathsig and the reaper stop them', { skip: !linux, timeout: 60_000 }, async () => {
  const s = await startFixture('hold');
  s.child.kill('SIGKILL');
  assert.equal((await s.exit).signal, 'SIGKILL');
  assert.deepEqual(await survivors(s), []);
});

test('an uncaught exception and a rejected main are said with the phase, exit 1, and leave no process', { skip: !linux, timeout: 60_000 }, async () => {
  for (const [mode, message] of [['throw', 'a callback threw'], ['reject', 'main gave up']]) {
    const s = await startFixture(mode);
    assert.equal((await s.exit).code, 1);
    assert.match(s.stderr(), new RegExp(`hold-harness: failed in phase "holding": ${message}`));
    assert.deepEqual(await survivors(s), [], mode);
  }
});

test('the reaper\'s protocol: a tracked pid with its start time and group flag, forgotten on "-"', () => {
  const tracked = new Map();
  applyLine(tracked, '+ 123 456 1 devmesh client-v1 (sidecar process)');
  applyLine(tracked, '+ 124 457 0 wrk -t1');
  applyLine(tracked, '- 124');
  applyLine(tracked, 'nonsense');
  assert.deepEqual([...tracked.values()], [{ pid: 123, start: '456', group: true, what: 'devmesh client-v1 (sidecar process)' }]);
});

const procs: ProcInfo[] = [
  { pid: 1, ppid: 0, cmd: '/sbin/init' },
  { pid: 100, ppid: 1, cmd: '/usr/bin/node --max-semi-space-size=4 /work/x/out/simulator/sidecar/main.js', ageS: 300 },
  { pid: 101, ppid: 1, cmd: 'nginx -p /tmp/devmesh-bench-abc/nginx -c /tmp/devmesh-bench-abc/nginx/front.conf' },
  { pid: 200, ppid: 1, cmd: 'bash' },
  { pid: 201, ppid: 200, cmd: 'node out/test/x.test.js' },
  { pid: 202, ppid: 201, cmd: '/usr/bin/node /work/y/out/simulator/sidecar/main.js' },
  { pid: 300, ppid: 200, cmd: 'node out/bench/run.js dataplane' },
  { pid: 301, ppid: 300, cmd: '/usr/bin/node /work/z/out/simulator/sidecar/main.js' },
  { pid: 302, ppid: 300, cmd: 'wrk -t1 -c64 -d4s http://127.0.0.1:1/' },
  { pid: 400, ppid: 200, cmd: 'nginx -g daemon off;' },
  { pid: 401, ppid: 200, cmd: 'node /work/wrk-notes.js' },
];

test('the preflight counts sidecars, benchmark processes, a benchmark\'s nginx and load generators, never its own descendants or ancestors', () => {
  assert.deepEqual(busyProcesses(procs, 300).map((b) => [b.pid, b.what]), [[100, 'devmesh sidecar process'], [101, "a benchmark's nginx"], [202, 'devmesh sidecar process']]);
  assert.deepEqual(busyProcesses(procs, 999).map((b) => b.pid), [100, 101, 202, 300, 301, 302]);
  // Started through a wrapper whose command line names run.js (`npm run bench`'s sh -c, `timeout`): the wrapper is not counted.
  const wrapped: ProcInfo[] = [...procs, { pid: 500, ppid: 200, cmd: 'sh -c npm run build && node out/bench/run.js' }, { pid: 501, ppid: 500, cmd: 'node out/bench/run.js' }];
  assert.deepEqual(busyProcesses(wrapped, 501).map((b) => b.pid), [100, 101, 202, 300, 301, 302]);
});

test('the refusal names each process and its parent, says what to kill (orphans apart) and how to measure anyway', () => {
  const msg = busyMessage(busyProcesses(procs, 300), false);
  assert.match(msg, /refusing to start: 3 devmesh\/benchmark process/);
  assert.match(msg, /pid 100 \(devmesh sidecar process; 5 min old, orphaned: the run that started it is gone\)/);
  assert.match(msg, /pid 202 \(devmesh sidecar process; parent 201 node out\/test\/x\.test\.js\)/);
  assert.match(msg, /kill 100 101`/);
  assert.match(msg, /--allow-busy \(or DEVMESH_BENCH_ALLOW_BUSY=1\)/);
  assert.match(busyMessage(busyProcesses(procs, 300), true), /measuring anyway \(--allow-busy\): 3 /);
});

test('the benchmark refuses to start beside a benchmark process it did not start, naming its pid, and starts with --allow-busy', { skip: !linux, timeout: 60_000 }, async () => {
  const svc = spawn(process.execPath, [path.join(REPO, 'out', 'bench', 'dataplane', 'service.js')], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise((r) => svc.stdout!.once('data', r));
    const run = async (...args: string[]) => {
      const c = spawn(process.execPath, [path.join(REPO, 'out', 'bench', 'run.js'), 'validate', '--preflight', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEVMESH_BENCH_ALLOW_BUSY: '' } });
      let err = '';
      c.stderr!.on('data', (d) => (err += d));
      const code = await new Promise<number | null>((r) => c.once('exit', r));
      return { code, err };
    };
    const refused = await run();
    assert.equal(refused.code, 3);
    assert.match(refused.err, new RegExp(`pid ${svc.pid} \\(benchmark process; [^)]*parent ${process.pid} `));
    assert.match(refused.err, /--allow-busy/);
    const allowed = await run('--allow-busy');
    assert.equal(allowed.code, 0);
    assert.match(allowed.err, new RegExp(`measuring anyway[^]*pid ${svc.pid} `));
  } finally {
    svc.kill();
  }
});

test('a wrk run that gives no figures says how wrk ended, with its stdout and stderr apart', { skip: !has('wrk') }, async () => {
  await assert.rejects(runWrk('not-a-url', { connections: 1, seconds: 1 }), (e: Error) => {
    assert.match(e.message, /wrk output not understood: `[^`]*wrk -t1 -c1 -d1s --latency not-a-url` exited with code 1/);
    assert.match(e.message, /stdout:\n {2}Usage: wrk/);
    assert.match(e.message, /stderr:\n {2}invalid URL: not-a-url/);
    return true;
  });
  const killed = wrkFailure({ command: 'wrk x', stdout: '', stderr: '', code: null, signal: 'SIGKILL', timedOut: true, deadlineS: 24 });
  assert.match(killed, /did not finish within 24 s and was killed \(SIGKILL by the harness's deadline\)/);
  assert.match(killed, /stdout: \(empty: wrk prints its report when it ends, a killed wrk prints nothing\)/);
  assert.match(wrkFailure({ command: 'wrk x', stdout: '', stderr: '', code: null, signal: 'SIGTERM', timedOut: false, deadlineS: 24 }), /was killed by SIGTERM \(not by the harness/);
});
