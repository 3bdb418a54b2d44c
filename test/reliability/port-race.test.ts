/**
 * `devmesh up` probes free ports for unpinned sidecar listeners, then the
 * sidecar processes bind them a moment later; another process can take one
 * in between (parallel test runs did, and `up` died with EADDRINUSE). Here a
 * sidecar entry wrapper (fixtures/port-thief-sidecar.js) takes the port in
 * exactly that window: after devmesh picked it, before the sidecar binds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canBind, freePorts, HANG_MS, REPO, startUp, within } from '../control/helpers';
import { backWeights, meshFixture, processesIn, record, request, sidecarPids, upMesh } from './harness';

const THIEF = path.join(REPO, 'test', 'reliability', 'fixtures', 'port-thief-sidecar.js');

/** The thieves that listened (the fixture names a pid file `thief-<port>.pid` once its port is held), port order. */
function thieves(dir: string): Array<{ port: number; pid: number }> {
  return readdirSync(dir).map((f) => /^thief-(\d+)\.pid$/.exec(f)).filter((m) => m !== null)
    .map((m) => ({ port: Number(m[1]), pid: Number(readFileSync(path.join(dir, m[0]), 'utf8')) })).sort((a, b) => a.port - b.port);
}
const thiefPids = (dir: string) => thieves(dir).map((t) => t.pid);
/** Every thief, also one still starting (`spawned-<port>.pid`). */
function killThieves(dir: string): void {
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.pid'))) {
    try { process.kill(Number(readFileSync(path.join(dir, f), 'utf8')), 'SIGKILL'); } catch { /* gone */ }
  }
  rmSync(dir, { recursive: true, force: true });
}

test('unpinned sidecar ports taken between the probe and the bind are moved, and traffic uses the new ones', async () => {
  const fx = await meshFixture({ 'back-vs.yaml': backWeights(100, 0) });
  const thiefDir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-thief-'));
  // The ingress admin port, front's outbound port (its app's HTTP_PROXY) and back-v1's inbound port (dialled by peers).
  const env = { DEVMESH_SIDECAR_ENTRY: THIEF, THIEF_DIR: thiefDir, THIEF_TARGETS: 'istio-ingressgateway:adminPort,front-v1:outboundPort,back-v1:inboundPort' };
  const t0 = Date.now();
  const up = await upMesh(fx, env);
  try {
    // The thieves steal once: a second start (new fixture ports) would have nothing to move.
    assert.deepEqual(up.retried, [], 'devmesh up started at the first attempt');
    // Each thief held its port before its sidecar was given the bootstrap, and holds it still.
    const stolen = thieves(thiefDir);
    assert.equal(stolen.length, 3, 'three ports were taken');
    for (const { port } of stolen) assert.equal(await canBind(port), false, `port ${port} is held by its thief`);
    const moves = [...up.output().matchAll(/^devmesh: sidecar of (\S+): another process took its port before it could listen; moved (\w+) (\d+) -> \d+$/gm)]
      .map(([, name, key, from]) => ({ name, key, from: Number(from) }));
    assert.deepEqual(moves.map((m) => `${m.name}:${m.key}`).sort(), ['back-v1:inboundPort', 'front-v1:outboundPort', 'istio-ingressgateway:adminPort'], up.output());
    assert.deepEqual(moves.map((m) => m.from).sort((a, b) => a - b), stolen.map((t) => t.port), 'the ports moved are the ones the thieves hold');
    // ingress -> front (its app restarted with the new HTTP_PROXY) -> back-v1 (peers dial its new inbound port).
    let ok = 0;
    for (let i = 0; i < 20; i++) {
      const r = await request(fx.ingressPort, 'http://front:8080/call/back/hello');
      assert.equal(r.status, 200, `request ${i}: ${r.status} ${r.error ?? ''} ${r.body}`);
      assert.equal(JSON.parse(r.body).workload, 'back-v1');
      ok++;
    }
    const topo = await (await up.api('/api/topology')).json() as { workloads: Array<{ name: string; restarts: { app: number } }> };
    assert.equal(topo.workloads.find((w) => w.name === 'front-v1')!.restarts.app, 1, 'front app restarted once for its new outbound port');
    record({ scenario: 'port taken at startup (unpinned)', load: '20 sequential', faults: '3 sidecar ports taken before bind', durationMs: Date.now() - t0, sent: 20, ok, failed: 0, explained: 'ports moved, peers and app told', lost: 0 });
  } finally {
    await up.stop();
    killThieves(thiefDir);
    fx.cleanup();
  }
});

test('a pinned port taken between the check and the bind is a one-line error naming the port and its place in the Mesh', async () => {
  const fx = await meshFixture();
  const thiefDir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-thief-'));
  const up = startUp(fx.meshFile, { DEVMESH_SIDECAR_ENTRY: THIEF, THIEF_DIR: thiefDir, THIEF_TARGETS: 'istio-ingressgateway:port' });
  try {
    const exit = await within(up.exited, HANG_MS, 'devmesh up exiting');
    assert.equal(exit.code, 1, up.output());
    const lines = up.output().trim().split('\n').filter((l) => !l.startsWith('['));
    assert.deepEqual(lines, [`mesh.yaml:6:20: error port-in-use: ingress port ${fx.ingressPort} was taken by another process before the sidecar of istio-ingressgateway could listen on it; devmesh up stopped everything it started`]);
    assert.deepEqual(processesIn(fx.dir).filter((p) => !thiefPids(thiefDir).includes(p)), [], 'nothing left running');
    assert.ok(await canBind(fx.controlPort), 'control port released');
  } finally {
    await up.stop();
    killThieves(thiefDir);
    fx.cleanup();
  }
});

// In a process shared with other sidecars nothing exits when one sidecar cannot bind: it says so at once.
const SHARED = { DEVMESH_SIDECAR_LAYOUT: 'shared', DEVMESH_SIDECAR_PROCESSES: '1' };

test('in a shared sidecar process, an unpinned port taken before the bind is reported with the port and the workload, moved, and served from the same process', async () => {
  const fx = await meshFixture({ 'back-vs.yaml': backWeights(100, 0) });
  const thiefDir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-thief-'));
  const up = await upMesh(fx, { ...SHARED, DEVMESH_SIDECAR_ENTRY: THIEF, THIEF_DIR: thiefDir, THIEF_TARGETS: 'back-v1:inboundPort' });
  try {
    const [taken] = thieves(thiefDir).map((t) => t.port);
    assert.ok(taken, 'a port was taken');
    assert.equal(await canBind(taken), false, `port ${taken} is held by its thief`);
    assert.match(up.output(), new RegExp(`devmesh: sidecar of back-v1: another process took its port before it could listen; moved inboundPort ${taken} -> \\d+`));
    const pids = await sidecarPids(up);
    assert.equal(pids['back-v1'], pids['front-v1'], 'back-v1 booted again in the process it shares with front-v1');
    for (let i = 0; i < 10; i++) {
      const r = await request(fx.ingressPort, 'http://front:8080/call/back/hello');
      assert.equal(r.status, 200, `request ${i}: ${r.status} ${r.error ?? ''} ${r.body}`);
      assert.equal(JSON.parse(r.body).workload, 'back-v1');
    }
    const topo = await (await up.api('/api/topology')).json() as { workloads: Array<{ name: string; restarts: { sidecar: number } }> };
    assert.deepEqual(topo.workloads.map((w) => w.restarts.sidecar), [0, 0, 0], 'no process was restarted');
  } finally {
    await up.stop();
    killThieves(thiefDir);
    fx.cleanup();
  }
});

test('in a shared sidecar process, a pinned sidecar port taken before the bind ends up at once with the port, the workload and its place in the Mesh', async () => {
  const fx = await meshFixture();
  const [pinned] = await freePorts(1);
  fx.write('mesh.yaml', readFileSync(fx.meshFile, 'utf8').replace(/(- name: back-v1\n)/, `$1          sidecar: { inboundPort: ${pinned} }\n`));
  const thiefDir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-thief-'));
  const up = startUp(fx.meshFile, { ...SHARED, DEVMESH_SIDECAR_ENTRY: THIEF, THIEF_DIR: thiefDir, THIEF_TARGETS: 'back-v1:inboundPort' });
  try {
    const exit = await within(up.exited, HANG_MS, 'devmesh up exiting');
    assert.equal(exit.code, 1, up.output());
    const lines = up.output().trim().split('\n').filter((l) => !l.startsWith('['));
    const text = readFileSync(fx.meshFile, 'utf8').split('\n');
    const line = text.findIndex((l) => l.includes(`inboundPort: ${pinned}`));
    assert.deepEqual(lines, [`mesh.yaml:${line + 1}:${text[line].indexOf(String(pinned)) + 1}: error port-in-use: sidecar inboundPort ${pinned} of workload back-v1 was taken by another process before the sidecar of back-v1 could listen on it; devmesh up stopped everything it started`]);
    assert.deepEqual(processesIn(fx.dir).filter((p) => !thiefPids(thiefDir).includes(p)), [], 'nothing left running');
  } finally {
    await up.stop();
    killThieves(thiefDir);
    fx.cleanup();
  }
});
