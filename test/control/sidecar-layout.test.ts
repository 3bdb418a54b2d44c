/**
 * Process layout of the sidecars (issue 8): several sidecars in one shared
 * process keep their own identity, listeners and stats, and can be stopped
 * one at a time; a crash of the shared process restarts it with every
 * sidecar in it; with one process per sidecar a kill hits only that one.
 * Real sidecars (out/simulator/sidecar/main.js), real mTLS.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { createCa } from '../../simulator/control/ca';
import { EventLog } from '../../simulator/control/events';
import { ManagedSidecar, SharedHosts, SidecarHost, sharedProcessCount, sidecarLayout } from '../../simulator/control/sidecars';
import { freePorts } from '../../simulator/control/ports';
import { echoApp, snapshotOf } from '../sidecar/fixtures';
import { pidAlive, waitFor, within } from './helpers';

function getJson(port: number, path: string, host?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: host ? { host } : {}, agent: false, timeout: 5_000 }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => { try { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }); } catch { resolve({ status: res.statusCode ?? 0, body: text }); } });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function postJson(port: number, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers, agent: false, timeout: 5_000 }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Only against a hang: every wait below is for an event (a ready, a failure, a restart), not a speed. */
const HANG_MS = 60_000;

/** `event`, unless a member says it could not start (a port another process took): then at once, with why. */
function unlessFailed<T>(members: ManagedSidecar[], event: Promise<T>, what: string): Promise<T> {
  return within(Promise.race([
    event,
    ...members.map((s) => s.nextFailure().then((f): never => { throw new Error(`${s.key} could not start: ${f.error}`); })),
  ]), HANG_MS, what).catch((e) => { throw new Error(`${(e as Error).message}; the process said: ${members[0].supervised.tail.join(' | ')}`); });
}

/** Every member ready. */
function allReady(members: ManagedSidecar[], what: string): Promise<unknown> {
  return unlessFailed(members, Promise.all(members.map((s) => s.whenReady())), what);
}

/** What the host says once every sidecar of a restarted process serves again: its sidecars and the new pid. */
function servingAgain(): { onServing: (sidecars: string[], pid: number) => void; next: Promise<{ sidecars: string[]; pid: number }> } {
  let tell!: (v: { sidecars: string[]; pid: number }) => void;
  const next = new Promise<{ sidecars: string[]; pid: number }>((r) => { tell = r; });
  return { onServing: (sidecars, pid) => tell({ sidecars, pid }), next };
}

async function twoWorkloads() {
  const app = await echoApp('reviews-v1');
  const [p1, p2, p3, r1, r2, r3, i1, i2] = await freePorts(8);
  const snapshot = snapshotOf([
    { name: 'productpage', workloads: [{ name: 'productpage-v1', ports: { inboundPort: p1, outboundPort: p2, adminPort: p3 } }] },
    { name: 'reviews', workloads: [{ name: 'reviews-v1', appPort: (app.server.address() as { port: number }).port, ports: { inboundPort: r1, outboundPort: r2, adminPort: r3 } }] },
  ], {}, 1, { port: i1, adminPort: i2 });
  const ca = createCa({ trustDomain: 'cluster.local' });
  const events = new EventLog();
  const make = (host?: SidecarHost, onServing?: (sidecars: string[], pid: number) => void) => snapshot.workloads.map((w) => new ManagedSidecar({
    workload: w.name, name: w.name, events, host, onServing,
    bootstrap: () => ({ type: 'bootstrap', workload: w.name, snapshot, certs: ca.issue(w.spiffeId) }),
  }));
  return { app, snapshot, events, make, admin: (name: string) => snapshot.workloads.find((w) => w.name === name)!.sidecar.adminPort };
}

describe('sidecars sharing one process', () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => { for (const c of cleanups.reverse()) await c(); });

  test('the default layout is shared; DEVMESH_SIDECAR_LAYOUT=process and a custom entry give one process each', () => {
    assert.equal(sidecarLayout({}), 'shared');
    assert.equal(sidecarLayout({ DEVMESH_SIDECAR_LAYOUT: 'process' }), 'process');
    assert.equal(sidecarLayout({ DEVMESH_SIDECAR_ENTRY: '/x/stub.js' }), 'process');
    assert.equal(sidecarLayout({ DEVMESH_SIDECAR_ENTRY: '/x/stub.js', DEVMESH_SIDECAR_LAYOUT: 'shared' }), 'shared');
  });

  test('get one process per core, with two workloads or more in each; DEVMESH_SIDECAR_PROCESSES sets the number', () => {
    const count = (workloads: number, cores: number, env: NodeJS.ProcessEnv = {}) => sharedProcessCount(workloads, cores, env);
    assert.deepEqual([1, 2, 3, 4, 5, 8].map((n) => count(n, 2)), [1, 1, 1, 2, 2, 2]);
    assert.deepEqual([2, 4, 8, 16, 40].map((n) => count(n, 8)), [1, 2, 4, 8, 8]);
    assert.equal(count(8, 1), 1);
    assert.equal(count(8, 8, { DEVMESH_SIDECAR_PROCESSES: '1' }), 1);
    assert.equal(count(8, 2, { DEVMESH_SIDECAR_PROCESSES: '3' }), 3);
    assert.equal(count(8, 2, { DEVMESH_SIDECAR_PROCESSES: 'many' }), 2);
  });

  test('of a mesh with four workloads on two cores are spread round robin over two processes, each serving its chain', async () => {
    const app = await echoApp('b');
    cleanups.push(() => { app.server.closeAllConnections(); app.server.close(); });
    const appPort = (app.server.address() as { port: number }).port;
    const ports = await freePorts(14);
    const next = () => { const [inboundPort, outboundPort, adminPort] = ports.splice(0, 3); return { inboundPort, outboundPort, adminPort }; };
    const snapshot = snapshotOf([
      { name: 'a', workloads: [{ name: 'a-v1', ports: next() }, { name: 'a-v2', ports: next() }] },
      { name: 'b', workloads: [{ name: 'b-v1', appPort, ports: next() }, { name: 'b-v2', appPort, ports: next() }] },
    ], {}, 1, { port: ports[0], adminPort: ports[1] });
    const ca = createCa({ trustDomain: 'cluster.local' });
    const events = new EventLog();
    const pool = new SharedHosts((name) => new SidecarHost(name, events), (n) => sharedProcessCount(n, 2, {}));
    const members = snapshot.workloads.map((w) => {
      const sc = new ManagedSidecar({ workload: w.name, name: w.name, events, host: pool.pick(snapshot.workloads.length), bootstrap: () => ({ type: 'bootstrap', workload: w.name, snapshot, certs: ca.issue(w.spiffeId) }) });
      sc.start();
      return sc;
    });
    cleanups.push(() => Promise.all(members.map((s) => s.stop(200))));
    await allReady(members, 'four sidecars ready');
    assert.deepEqual(pool.sizes(), [2, 2]);
    assert.deepEqual(pool.processes.map((h) => h.name), ['sidecars 1 of 2', 'sidecars 2 of 2']);
    const pidOf = (name: string) => members.find((s) => s.key === name)!.pid;
    assert.equal(pidOf('a-v1'), pidOf('b-v1'));
    assert.equal(pidOf('a-v2'), pidOf('b-v2'));
    assert.notEqual(pidOf('a-v1'), pidOf('a-v2'));
    for (const caller of ['a-v1', 'a-v2']) {
      const r = await getJson(snapshot.workloads.find((w) => w.name === caller)!.sidecar.outboundPort, '/', 'b');
      assert.equal(r.status, 200, `${caller} -> b`);
    }
    // A process whose last sidecar left has stopped and is forgotten: the next sidecar joins the one still running.
    const first = pool.processes[0];
    for (const s of members.filter((x) => x.pid === pidOf('a-v2'))) await s.stop(200);
    assert.equal(pool.pick(3), first);
    assert.equal(pool.processes.length, 1);
  });

  test('keep separate identities, listeners and stats, and /memory names the process they share', async () => {
    const m = await twoWorkloads();
    cleanups.push(() => { m.app.server.closeAllConnections(); m.app.server.close(); });
    const host = new SidecarHost('sidecars', m.events);
    const [pp, reviews] = m.make(host);
    cleanups.push(() => Promise.all([pp.stop(200), reviews.stop(200)]));
    pp.start();
    reviews.start();
    await allReady([pp, reviews], 'both sidecars ready');
    assert.equal(pp.pid, reviews.pid);

    const out = m.snapshot.workloads[0].sidecar.outboundPort;
    const r = await getJson(out, '/', 'reviews');
    assert.equal(r.status, 200);
    assert.equal(r.body.workload, 'reviews-v1');
    assert.match(r.body.headers['x-forwarded-client-cert'], /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage$/);

    const [ppCert, rvCert] = await Promise.all([getJson(m.admin('productpage-v1'), '/certs'), getJson(m.admin('reviews-v1'), '/certs')]);
    assert.match(ppCert.body.subjectAltName, /sa\/productpage$/);
    assert.match(rvCert.body.subjectAltName, /sa\/reviews$/);
    const [ppStats, rvStats] = await Promise.all([getJson(m.admin('productpage-v1'), '/stats'), getJson(m.admin('reviews-v1'), '/stats')]);
    assert.equal(ppStats.body['outbound.downstream_rq_total'], 1);
    assert.equal(ppStats.body['inbound.downstream_rq_total'], undefined);
    assert.equal(rvStats.body['inbound.downstream_rq_total'], 1);
    assert.equal(rvStats.body['outbound.downstream_rq_total'], undefined);

    const mem = await getJson(m.admin('reviews-v1'), '/memory');
    assert.equal(mem.body.pid, reviews.pid);
    assert.deepEqual([...mem.body.sidecarsInProcess].sort(), ['productpage-v1', 'reviews-v1']);
    assert.ok(mem.body.rssPerSidecar > 0 && mem.body.rssPerSidecar < mem.body.rss);
    // The process runs with the sidecar's GC settings (a small young generation, an old one kept near its live size).
    const argv = readFileSync(`/proc/${reviews.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.includes('--max-semi-space-size=4') && argv.includes('--heap-growing-percent=50'), argv.join(' '));

    // Stopping one sidecar closes its listeners; the other keeps serving from the same process.
    await pp.stop(200);
    await waitFor('productpage-v1 admin port closed', async () => !(await getJson(m.admin('productpage-v1'), '/ready').then(() => true, () => false)), 5_000);
    assert.ok(pidAlive(reviews.pid!));
    assert.equal((await getJson(m.admin('reviews-v1'), '/ready')).status, 200);
    // ...and it comes back on its own, in the same process.
    pp.start();
    await allReady([pp], 'productpage-v1 back');
    assert.equal(pp.pid, reviews.pid);
    assert.equal((await getJson(out, '/', 'reviews')).status, 200);
  });

  test('POST /restart on one sidecar\'s admin port restarts it alone, with the config it had, in the same process', async () => {
    const m = await twoWorkloads();
    cleanups.push(() => { m.app.server.closeAllConnections(); m.app.server.close(); });
    const host = new SidecarHost('sidecars', m.events);
    const logs: string[] = [];
    const members = m.snapshot.workloads.map((w) => new ManagedSidecar({
      workload: w.name, name: w.name, events: m.events, host, onLog: (_l, msg) => logs.push(msg),
      bootstrap: () => ({ type: 'bootstrap', workload: w.name, snapshot: m.snapshot, certs: createCa({ trustDomain: 'cluster.local' }).issue(w.spiffeId) }),
    }));
    const [pp, reviews] = members;
    cleanups.push(() => Promise.all(members.map((s) => s.stop(200))));
    members.forEach((s) => s.start());
    await allReady(members, 'ready').catch((e) => { throw new Error(`${e.message}; sidecars said: ${logs.join(' | ')}; ${host.supervised.tail.join(' | ')}`); });
    const next = { ...m.snapshot, version: 2 };
    assert.deepEqual(await reviews.pushConfig(next), { ok: true });
    const pid = reviews.pid;
    const before = await getJson(m.admin('reviews-v1'), '/stats');
    // A web page can POST to a loopback port without CORS: what a browser marks cross-site is refused.
    assert.equal((await postJson(m.admin('reviews-v1'), '/restart', { origin: 'http://evil.example' })).status, 403);
    assert.equal((await postJson(m.admin('reviews-v1'), '/restart', { 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal(reviews.pid, pid);
    const answer = await postJson(m.admin('reviews-v1'), '/restart');
    assert.equal(answer.status, 202);
    assert.equal(answer.body.restarting, 'reviews-v1');
    await waitFor('the restart logged', () => logs.some((l) => /reviews-v1 restarted in process/.test(l)), 5_000);
    await waitFor('reviews-v1 serving again', async () => (await getJson(m.admin('reviews-v1'), '/ready').catch(() => ({ status: 0 }))).status === 200, 5_000);
    assert.equal(reviews.pid, pid);
    assert.equal(pp.supervised.restarts, 0);
    assert.equal((await getJson(m.admin('reviews-v1'), '/config_dump')).body.version, 2);
    assert.ok(before.body['inbound.downstream_rq_total'] === undefined);
    assert.equal((await getJson(m.admin('productpage-v1'), '/ready')).status, 200);
  });

  test('a crash of the shared process restarts it, and every sidecar in it is bootstrapped again', async () => {
    const m = await twoWorkloads();
    cleanups.push(() => { m.app.server.closeAllConnections(); m.app.server.close(); });
    const serving = servingAgain();
    const host = new SidecarHost('sidecars', m.events, { onServing: serving.onServing });
    const members = m.make(host);
    cleanups.push(() => Promise.all(members.map((s) => s.stop(200))));
    members.forEach((s) => s.start());
    await allReady(members, 'both sidecars ready');
    const pid = members[0].pid!;
    process.kill(pid, 'SIGKILL');
    const back = await unlessFailed(members, serving.next, 'both sidecars serving again in a new process');
    assert.deepEqual(back.sidecars, ['productpage-v1', 'reviews-v1']);
    assert.notEqual(back.pid, pid);
    assert.deepEqual(members.map((s) => [s.ready, s.pid, s.supervised.restarts]), [[true, back.pid, 1], [true, back.pid, 1]]);
    assert.ok(m.events.recent().some((e) => e.type === 'process.crashed' && e.workload === 'sidecars'));
    assert.equal((await getJson(m.snapshot.workloads[0].sidecar.outboundPort, '/', 'reviews')).status, 200);
  });

  test('with one process per sidecar, killing one leaves the other running', async () => {
    const m = await twoWorkloads();
    cleanups.push(() => { m.app.server.closeAllConnections(); m.app.server.close(); });
    const serving = servingAgain();
    const [pp, reviews] = m.make(undefined, serving.onServing);
    cleanups.push(() => Promise.all([pp.stop(200), reviews.stop(200)]));
    pp.start();
    reviews.start();
    await allReady([pp, reviews], 'both sidecars ready');
    assert.notEqual(pp.pid, reviews.pid);
    const reviewsPid = reviews.pid!;
    const ppPid = pp.pid!;
    process.kill(ppPid, 'SIGKILL');
    const back = await unlessFailed([pp], serving.next, 'productpage-v1 serving again');
    assert.deepEqual(back.sidecars, ['productpage-v1']);
    assert.notEqual(back.pid, ppPid);
    assert.deepEqual([pp.ready, pp.pid, pp.supervised.restarts], [true, back.pid, 1]);
    assert.equal(reviews.pid, reviewsPid);
    assert.equal(reviews.supervised.restarts, 0);
    assert.equal((await getJson(m.snapshot.workloads[0].sidecar.outboundPort, '/', 'reviews')).status, 200);
  });
});
