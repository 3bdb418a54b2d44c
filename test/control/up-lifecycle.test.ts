/**
 * `devmesh up` as a process: startup, session, supervision, hot reload and
 * shutdown, with the stub sidecar (fixtures/stub-sidecar.js) so these fail
 * only for control-plane reasons. Routing through real sidecars is in
 * bookinfo.test.ts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { bookinfoFixture, canBind, freePorts, pidAlive, startUp, STUB_SIDECAR, waitFor, waitReady, within, eventsUntil, HANG_MS, withOutput, type BookinfoFixture, type UpProcess } from './helpers';

const env = { DEVMESH_SIDECAR_ENTRY: STUB_SIDECAR };

interface Topology {
  version: number;
  workloads: Array<{ name: string; spiffeId: string; appPort: number; sidecar: { inboundPort: number; outboundPort: number; adminPort: number }; pids: { sidecar: number; app: number }; restarts: { sidecar: number; app: number }; health: { sidecar: string; app: string }; configVersion: number }>;
  ingress: { port: number; adminPort: number; pid: number; spiffeId: string };
}

describe('a running devmesh up', () => {
  let fx: BookinfoFixture;
  let up: UpProcess;
  const topology = async (): Promise<Topology> => (await up.api('/api/topology')).json() as Promise<Topology>;

  before(async () => {
    fx = await bookinfoFixture();
    up = startUp(fx.meshFile, env);
    await waitReady(up, fx.meshFile);
  });
  after(async () => { await up?.stop(); fx?.cleanup(); });

  test('prints a table of workloads with identities and the API URL', () => {
    const out = up.output();
    assert.match(out, /reviews:9080\s+reviews-v2\s+\d+\s+\d+\/\d+\/\d+\s+spiffe:\/\/cluster.local\/ns\/default\/sa\/bookinfo-reviews/);
    assert.match(out, new RegExp(`control API \\+ dashboard: http://127.0.0.1:${fx.controlPort}`));
    // No Gateway here: the first service, at its root.
    assert.match(out, new RegExp(`try:  curl -x http://127.0.0.1:${fx.ingressPort} http://productpage:9080/$`, 'm'));
  });

  test('writes the session file 0600 with the API URL, a token and its pid', () => {
    const file = path.join(fx.dir, '.devmesh', 'session.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const s = up.session();
    assert.equal(s.apiUrl, `http://127.0.0.1:${fx.controlPort}`);
    assert.equal(s.pid, up.child.pid);
    assert.ok(s.token.length >= 32);
  });

  test('the API refuses a request without the token', async () => {
    const r = await fetch(`http://127.0.0.1:${fx.controlPort}/api/health`);
    assert.equal(r.status, 401);
  });

  test('topology lists every workload with its identity, sidecar ports and pids', async () => {
    const t = await topology();
    assert.deepEqual(t.workloads.map((w) => w.name), ['productpage-v1', 'details-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1']);
    const r1 = t.workloads.find((w) => w.name === 'reviews-v1')!;
    assert.equal(r1.spiffeId, 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews');
    assert.equal(r1.appPort, fx.appPorts['reviews-v1']);
    assert.deepEqual(r1.health, { sidecar: 'up', app: 'up' });
    assert.ok(pidAlive(r1.pids.app) && pidAlive(r1.pids.sidecar));
    assert.equal(t.ingress.port, fx.ingressPort);
    assert.equal(t.ingress.spiffeId, 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account');
  });

  test('a second devmesh up for the same Mesh says one is running and leaves it alone', async () => {
    const second = startUp(fx.meshFile, env);
    const { code } = await within(second.exited, HANG_MS, 'the second up exiting');
    assert.equal(code, 1);
    // The probe gives the running API a second; a loaded machine may answer later, and up then adds that it is not answering yet.
    assert.match(second.output(), new RegExp(`devmesh up is already running for .*mesh.yaml \\(pid ${up.child.pid}, API http://127.0.0.1:${fx.controlPort}(, not answering yet)?\\)`));
    assert.equal((await up.api('/api/health')).status, 200);
  });

  test('a valid policy edit becomes snapshot v+1 on every sidecar', async () => {
    const before = (await (await up.api('/api/config')).json() as { version: number }).version;
    fx.write('reviews-vs.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec:\n  hosts: [reviews]\n  http:\n    - route:\n        - destination: { host: reviews, subset: v1 }\n');
    const t = await waitFor('every sidecar to apply the edit', async () => {
      const topo = await topology();
      return topo.workloads.every((w) => w.configVersion === before + 1) && topo.version === before + 1 ? topo : undefined;
    }, HANG_MS, 20).catch(withOutput(up));
    assert.equal(t.version, before + 1);
  });

  test('an invalid edit is refused, reported in the API, and the last good snapshot keeps serving', async () => {
    const before = (await (await up.api('/api/config')).json() as { version: number }).version;
    fx.write('broken.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: broken\nspec: {}\n');
    const cfg = await waitFor('the rejection to be reported', async () => {
      const c = await (await up.api('/api/config')).json() as { state: string; version: number; lastRejection: { diagnostics: Array<{ file: string; line: number; text: string }> } | null };
      return c.state === 'rejected' ? c : undefined;
    }, HANG_MS, 20).catch(withOutput(up));
    assert.equal(cfg.version, before);
    assert.ok(cfg.lastRejection!.diagnostics.some((d) => d.file.endsWith('broken.yaml') && d.line >= 1), JSON.stringify(cfg.lastRejection));
    assert.match(up.output(), /broken\.yaml:\d+:\d+: error/);
    assert.match(up.output(), new RegExp(`still serving v${before}`));
    assert.equal((await up.api('/api/health')).status, 200);
    // Fixing the file clears the rejected state without a restart.
    fx.write('broken.yaml', '# fixed\n');
    await waitFor('the fix to be accepted', async () => ((await (await up.api('/api/config')).json()) as { state: string }).state === 'ok', HANG_MS, 20).catch(withOutput(up));
  });

  test('a changed env in the Mesh restarts that app alone; a mesh-wide setting is reported as needing a new up', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(fx.meshFile, 'utf8');
    const t0 = await topology();
    const pidOf = (t: Topology, name: string) => t.workloads.find((w) => w.name === name)!.pids.app;
    fx.write('mesh.yaml', text.replace('{"ENABLE_RATINGS":"false"}', '{"ENABLE_RATINGS":"true"}'));
    const t1 = await waitFor('reviews-v1 to run with the new env', async () => {
      const t = await topology();
      const w = t.workloads.find((x) => x.name === 'reviews-v1')!;
      return w.pids.app !== pidOf(t0, 'reviews-v1') && w.health.app === 'up' ? t : undefined;
    }, HANG_MS, 20).catch(withOutput(up));
    assert.ok(!pidAlive(pidOf(t0, 'reviews-v1')), 'the old app is stopped');
    for (const other of ['productpage-v1', 'reviews-v2', 'ratings-v1']) assert.equal(pidOf(t1, other), pidOf(t0, other), `${other} kept running`);
    await waitFor('the edit reported', () => /mesh bookinfo-test: restarted the app of reviews-v1/.test(up.output()), HANG_MS, 20).catch(withOutput(up));
    // The control port is the installation itself: reported, not applied.
    fx.write('mesh.yaml', text.replace(`controlPort: ${fx.controlPort}`, `controlPort: ${fx.controlPort + 1}`));
    await waitFor('the control port change to be reported', () => /the Mesh's spec.controlPort changed: that takes effect on the next devmesh up/.test(up.output()), HANG_MS, 20).catch(withOutput(up));
    assert.equal((await up.api('/api/health')).status, 200);
    fx.write('mesh.yaml', text);
    await waitFor('reviews-v1 back on the original env', async () => pidOf(await topology(), 'reviews-v1') !== pidOf(t1, 'reviews-v1'), HANG_MS, 20).catch(withOutput(up));
  });

  test('a compatibilityVersion edit in the Mesh is a new snapshot on every sidecar, with nothing restarted', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(fx.meshFile, 'utf8');
    const t0 = await topology();
    fx.write('mesh.yaml', text.replace('spec:\n', 'spec:\n  compatibilityVersion: "1.23"\n'));
    // up says so once every sidecar acknowledged the snapshot; a newer version in the API alone may be an earlier edit's.
    const said = await waitFor('the new defaults reported', () => /mesh bookinfo-test: defaults of Istio 1\.23 \(config v(\d+)\)/.exec(up.output()) ?? undefined, HANG_MS, 20).catch(withOutput(up));
    const version = Number(said[1]);
    assert.ok(version > t0.version);
    const t1 = await waitFor('every sidecar on the new defaults', async () => {
      const t = await topology();
      return t.workloads.every((w) => w.configVersion >= version) ? t : undefined;
    }, HANG_MS, 20).catch(withOutput(up));
    for (const w of t0.workloads) assert.deepEqual(t1.workloads.find((x) => x.name === w.name)!.pids, w.pids, `${w.name} kept running`);
    fx.write('mesh.yaml', text);
    await waitFor('back to the newest defaults', () => /defaults of Istio 1\.30/.test(up.output()), HANG_MS, 20).catch(withOutput(up));
  });

  test('a Mesh edit that adds a workload on a port another process holds is refused, and nothing changes', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(fx.meshFile, 'utf8');
    const before = await topology();
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const held = (holder.address() as net.AddressInfo).port;
    try {
      fx.write('mesh.yaml', text.replace(/(\n    - name: ratings\n)/, `
        - name: reviews-v9
          labels: { app: reviews, version: v9 }
          port: ${held}
          command: ["node", "reviews.js"]$1`));
      const cfg = await waitFor('the edit to be refused', async () => {
        const c = await (await up.api('/api/config')).json() as { state: string; lastRejection: { diagnostics: Array<{ code: string; text: string }> } | null };
        // A reload may also catch the file half-written (an editor's save is not atomic): wait for this refusal.
        return c.state === 'rejected' && c.lastRejection?.diagnostics.some((x) => x.code === 'port-in-use') ? c : undefined;
      }, HANG_MS, 20).catch(withOutput(up));
      const d = cfg.lastRejection!.diagnostics.find((x) => x.code === 'port-in-use');
      assert.ok(d, JSON.stringify(cfg.lastRejection));
      assert.match(d.text, new RegExp(`mesh\\.yaml:\\d+:\\d+: error port-in-use: port ${held} of workload reviews-v9 is already in use by another process; the Mesh edit was not applied`));
      const after = await topology();
      assert.equal(after.version, before.version);
      assert.deepEqual(after.workloads.map((w) => w.name), before.workloads.map((w) => w.name));
    } finally {
      holder.close();
      fx.write('mesh.yaml', text);
    }
    await waitFor('the restored file to be accepted', async () => ((await (await up.api('/api/config')).json()) as { state: string }).state === 'ok', HANG_MS, 20).catch(withOutput(up));
  });

  test('an app killed with SIGKILL is restarted and the crash is an event', async () => {
    const t0 = await topology();
    const victim = t0.workloads.find((w) => w.name === 'ratings-v1')!;
    process.kill(victim.pids.app, 'SIGKILL');
    const t1 = await waitFor('ratings-v1 to come back', async () => {
      const t = await topology();
      const w = t.workloads.find((x) => x.name === 'ratings-v1')!;
      return w.restarts.app >= 1 && w.health.app === 'up' && w.pids.app !== victim.pids.app ? w : undefined;
    }, HANG_MS);
    assert.ok(pidAlive(t1.pids.app));
    await eventsUntil(up, 'crash and restart of ratings-v1\'s app', (events) =>
      events.some((e) => e.type === 'process.crashed' && e.workload === 'ratings-v1' && e.process === 'app')
      && events.some((e) => e.type === 'process.restarted' && e.workload === 'ratings-v1'));
  });

  test('a sidecar killed with SIGKILL is restarted, bootstrapped again and the mesh is healthy again', async () => {
    const t0 = await topology();
    const victim = t0.workloads.find((w) => w.name === 'reviews-v3')!;
    process.kill(victim.pids.sidecar, 'SIGKILL');
    const w = await waitFor('the reviews-v3 sidecar to come back', async () => {
      const t = await topology();
      const x = t.workloads.find((y) => y.name === 'reviews-v3')!;
      return x.restarts.sidecar >= 1 && x.health.sidecar === 'up' ? x : undefined;
    }, HANG_MS);
    assert.notEqual(w.pids.sidecar, victim.pids.sidecar);
    assert.equal(await canBind(w.sidecar.inboundPort), false, 'its listener is open again on the same port');
    await waitFor('health to be ready again', async () => (await up.api('/api/health')).status === 200, HANG_MS);
  });

  test('SIGTERM stops every process, frees every port, removes the session file and exits 0', async () => {
    const t = await topology();
    const pids = [...t.workloads.flatMap((w) => [w.pids.app, w.pids.sidecar]), t.ingress.pid, up.child.pid!];
    const ports = [fx.controlPort, fx.ingressPort, t.ingress.adminPort, ...t.workloads.flatMap((w) => [w.appPort, w.sidecar.inboundPort, w.sidecar.outboundPort, w.sidecar.adminPort])];
    up.child.kill('SIGTERM');
    const { code } = await within(up.exited, HANG_MS, 'devmesh exiting');
    assert.equal(code, 0);
    assert.deepEqual(pids.filter(pidAlive), [], 'no process left');
    const open = [];
    for (const p of ports) if (!(await canBind(p))) open.push(p);
    assert.deepEqual(open, [], 'no port left open');
    assert.equal(existsSync(path.join(fx.dir, '.devmesh', 'session.json')), false);
  });
});

describe('after devmesh itself is killed with SIGKILL', () => {
  test('the next devmesh up stops the apps it left behind and starts cleanly on the same ports', async () => {
    const fx = await bookinfoFixture();
    let second: UpProcess | undefined;
    try {
      const first = startUp(fx.meshFile, env);
      await waitReady(first, fx.meshFile);
      const t = await (await first.api('/api/topology')).json() as Topology;
      const apps = t.workloads.map((w) => w.pids.app);
      first.child.kill('SIGKILL');
      await within(first.exited, HANG_MS, 'devmesh dying');
      // Apps cannot notice their parent died; they are still there, holding their ports.
      assert.ok(apps.some(pidAlive), 'apps outlive a SIGKILLed devmesh');
      second = startUp(fx.meshFile, env);
      await waitReady(second, fx.meshFile);
      assert.match(second.output(), /a previous devmesh up for this Mesh ended without stopping its children; stopped: .*app of reviews-v1/);
      await waitFor('the leftover apps to be gone', () => apps.every((p) => !pidAlive(p)), HANG_MS);
    } finally {
      await second?.stop();
      fx.cleanup();
    }
  });
});

describe('devmesh up refuses to start', () => {
  test('when a port it needs is taken, naming the port, its owner and where the Mesh sets it', async () => {
    const fx = await bookinfoFixture();
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(fx.appPorts['reviews-v1'], '127.0.0.1', () => r()));
    try {
      const up = startUp(fx.meshFile, env);
      const { code } = await within(up.exited, HANG_MS, 'devmesh exiting');
      assert.equal(code, 1);
      assert.match(up.output(), new RegExp(`mesh.yaml:\\d+:\\d+: error port-in-use: port ${fx.appPorts['reviews-v1']} of workload reviews-v1 is already in use by another process`));
      assert.equal(existsSync(path.join(fx.dir, '.devmesh', 'session.json')), false);
      assert.ok(await canBind(fx.controlPort), 'the API was never opened');
    } finally { holder.close(); fx.cleanup(); }
  });

  test('when a local upstream port is taken, naming the upstream\'s localPort at its line', async () => {
    const fx = await bookinfoFixture();
    const [local] = await freePorts(1);
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(local, '127.0.0.1', () => r()));
    try {
      const text = readFileSync(fx.meshFile, 'utf8');
      const withUpstream = text.replace('command: ["node", "productpage.js"]', `command: ["node", "productpage.js"]\n          upstreams: [{ service: ratings, port: 9080, localPort: ${local} }]`);
      assert.notEqual(withUpstream, text);
      fx.write('mesh.yaml', withUpstream);
      const line = withUpstream.split('\n').findIndex((l) => l.includes(`localPort: ${local}`)) + 1;
      const up = startUp(fx.meshFile, env);
      const { code } = await within(up.exited, HANG_MS, 'devmesh exiting');
      assert.equal(code, 1);
      assert.match(up.output(), new RegExp(`mesh.yaml:${line}:\\d+: error port-in-use: upstream localPort ${local} \\(ratings\\) of workload productpage-v1 is already in use by another process`), up.output());
      assert.ok(await canBind(fx.controlPort), 'the API was never opened');
    } finally { holder.close(); fx.cleanup(); }
  });

  test('when a command does not exist, saying which workload and where', async () => {
    const fx = await bookinfoFixture();
    try {
      const text = (await import('node:fs')).readFileSync(fx.meshFile, 'utf8').replace('command: ["node", "details.js"]', 'command: ["no-such-program-xyz"]');
      fx.write('mesh.yaml', text);
      const up = startUp(fx.meshFile, env);
      const { code } = await within(up.exited, HANG_MS, 'devmesh exiting');
      assert.equal(code, 1);
      assert.match(up.output(), /mesh.yaml:\d+:\d+: error bad-command: command "no-such-program-xyz" of workload details-v1 was not found on PATH/);
    } finally { fx.cleanup(); }
  });

  test('when an app exits at once, showing its output, and leaves nothing running', async () => {
    const fx = await bookinfoFixture();
    try {
      const text = (await import('node:fs')).readFileSync(fx.meshFile, 'utf8').replace('command: ["node", "ratings.js"]', 'command: ["node", "-e", "console.error(\'boom: no database\'); process.exit(4)"]');
      fx.write('mesh.yaml', text);
      const up = startUp(fx.meshFile, env);
      const { code } = await within(up.exited, HANG_MS, 'devmesh exiting');
      assert.equal(code, 1);
      assert.match(up.output(), /the app \(node -e .*\) of ratings-v1 exited \(code 4\) before it was listening/);
      assert.match(up.output(), /\| boom: no database/);
      for (const p of Object.values(fx.appPorts)) assert.ok(await canBind(p), `port ${p} is free`);
      assert.ok(await canBind(fx.controlPort) && await canBind(fx.ingressPort));
    } finally { fx.cleanup(); }
  });

  test('when a policy file has an error, printing it like devmesh validate', async () => {
    const fx = await bookinfoFixture({ 'bad.yaml': 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: [oops\n' });
    try {
      const up = startUp(fx.meshFile, env);
      const { code } = await within(up.exited, HANG_MS, 'devmesh exiting');
      assert.equal(code, 1);
      assert.match(up.output(), /bad\.yaml:\d+:\d+: error/);
      assert.match(up.output(), /nothing was started/);
    } finally { fx.cleanup(); }
  });
});
