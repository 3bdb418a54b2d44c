import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createCa } from '../../simulator/control/ca';
import type { SidecarMessage } from '../../simulator/protocol';
import { startSidecar } from '../../simulator/sidecar/sidecar';
import { dr, echoApp, freePort, getVia, snapshotOf, startMesh, vs, type TestMesh } from './fixtures';

const twoVersions = {
  name: 'reviews',
  workloads: [
    { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' } },
    { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' } },
  ],
};
const subsets = dr('reviews', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] });
const toSubset = (s: string) => vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: s } }] }] });

describe('config and certificate updates', () => {
  let mesh: TestMesh;
  before(async () => {
    mesh = await startMesh([{ name: 'productpage', workloads: [{ name: 'productpage-v1' }] }, twoVersions], { destinationRules: [subsets], virtualServices: [toSubset('v1')] });
  });
  after(() => mesh.close());

  test('a config swap under load loses no request and new requests follow the new routes', async () => {
    const results: number[] = [];
    // The route flips after every fourth answer, while the other workers' requests are in flight: the
    // swaps land during the load however fast or slow the machine is.
    let pushes = 0;
    let swapping = Promise.resolve();
    const swap = () => mesh.push({ destinationRules: [subsets], virtualServices: [toSubset(pushes++ % 2 === 0 ? 'v2' : 'v1')] });
    const worker = async () => {
      for (let i = 0; i < 40; i++) {
        const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/load' });
        results.push(r.status);
        if (results.length % 4 === 0 && results.length < 160) swapping = swapping.then(swap);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await swapping;
    if (pushes % 2 === 1) await mesh.push({ destinationRules: [subsets], virtualServices: [toSubset('v1')] });
    assert.equal(pushes, 39);
    assert.equal(results.length, 160);
    assert.deepEqual(results.filter((s) => s !== 200), []);
    const settled = await mesh.request('productpage-v1', { url: 'http://reviews:9080/' });
    assert.equal(settled.json().workload, 'reviews-v1');
    assert.equal(mesh.sidecars.get('productpage-v1')!.tables().version, mesh.snapshot.version);
  });

  test('an invalid snapshot is rejected and the old one keeps serving', async () => {
    const sidecar = mesh.sidecars.get('productpage-v1')!;
    const before = sidecar.tables().version;
    const bad = snapshotOf([], {}, before + 1);
    bad.virtualServices = [vs('reviews', { hosts: ['reviews'], http: [{ match: [{ uri: { regex: '(' } }], route: [{ destination: { host: 'reviews' } }] }] })];
    const reply = await sidecar.handle({ type: 'config', snapshot: { ...mesh.snapshot, version: before + 1, virtualServices: bad.virtualServices } });
    assert.equal(reply?.type, 'rejected');
    assert.match((reply as { error: string }).error, /invalid regex/);
    assert.equal(sidecar.tables().version, before);
    assert.equal((await mesh.request('productpage-v1', { url: 'http://reviews:9080/' })).status, 200);
  });

  test('new certificates apply to new connections without breaking the ones in use', async () => {
    const caller = mesh.sidecars.get('productpage-v1')!;
    const callee = mesh.sidecars.get('reviews-v1')!;
    const fresh = mesh.ca.issue('spiffe://cluster.local/ns/default/sa/reviews');
    const reply = await callee.handle({ type: 'certs', certs: fresh });
    assert.equal(reply?.type, 'certsApplied');
    // The caller's existing session still works.
    assert.equal((await mesh.request('productpage-v1', { url: 'http://reviews:9080/' })).status, 200);
    // A new connection sees the new certificate.
    const served = await new Promise<string>((resolve, reject) => {
      const s = require('node:tls').connect({ host: '127.0.0.1', port: callee.ports.inbound, ca: mesh.ca.certPem, checkServerIdentity: () => undefined }, () => {
        resolve(new X509Certificate(s.getPeerX509Certificate().raw).serialNumber.toLowerCase());
        s.destroy();
      });
      s.on('error', reject);
    });
    assert.equal(served, fresh.serial);
    await caller.handle({ type: 'certs', certs: mesh.ca.issue('spiffe://cluster.local/ns/default/sa/productpage') });
    assert.equal((await mesh.request('productpage-v1', { url: 'http://reviews:9080/' })).status, 200);
  });
});

describe('WebSocket upgrades', () => {
  let mesh: TestMesh;
  let upgradeApp: http.Server;
  before(async () => {
    upgradeApp = http.createServer((_req, res) => res.end('no upgrade'));
    upgradeApp.on('upgrade', (req, socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Peer: ${req.headers['x-forwarded-client-cert'] ?? ''}\r\n\r\n`);
      socket.pipe(socket); // echo every byte
    });
    await new Promise<void>((r) => upgradeApp.listen(0, '127.0.0.1', r));
    const appPort = (upgradeApp.address() as net.AddressInfo).port;
    mesh = await startMesh([{ name: 'client', workloads: [{ name: 'client-v1' }] }, { name: 'chat', workloads: [{ name: 'chat-v1', appPort }] }]);
  });
  after(async () => {
    await mesh.close();
    upgradeApp.closeAllConnections();
    upgradeApp.close();
  });

  test('an Upgrade request is tunnelled through both sidecars over mTLS and bytes flow both ways', async () => {
    const port = mesh.sidecars.get('client-v1')!.ports.outbound!;
    const got = await new Promise<{ head: string; echo: string }>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => sock.write('GET http://chat:9080/ws HTTP/1.1\r\nHost: chat:9080\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n'));
      let data = '';
      const timer = setTimeout(() => sock.destroy(new Error(`timeout; got ${JSON.stringify(data)}`)), 3000);
      sock.on('data', (d) => {
        data += d;
        const end = data.indexOf('\r\n\r\n');
        if (end >= 0 && !data.includes('ping')) sock.write('ping');
        if (end >= 0 && data.slice(end + 4) === 'ping') {
          clearTimeout(timer);
          sock.destroy();
          resolve({ head: data.slice(0, end), echo: data.slice(end + 4) });
        }
      });
      sock.on('error', reject);
    });
    assert.match(got.head, /^HTTP\/1\.1 101/);
    assert.match(got.head, /X-Peer: By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/chat;.*URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/client/);
    assert.equal(got.echo, 'ping');
  });
});

describe('a sidecar as a forked child process', () => {
  let child: ChildProcess | undefined;
  let app: http.Server;
  after(() => {
    child?.kill();
    app?.closeAllConnections();
    app?.close();
  });

  test('boots from IPC, reports ready with its ports, applies config and exits on shutdown', async () => {
    const echo = await echoApp('solo-v1');
    app = echo.server;
    const ports = { inboundPort: await freePort(), outboundPort: 0, adminPort: 0 };
    const snapshot = snapshotOf([{ name: 'solo', workloads: [{ name: 'solo-v1', appPort: echo.port, ports }] }]);
    const ca = createCa({ trustDomain: 'cluster.local' });
    const main = path.join(__dirname, '../../simulator/sidecar/main.js');
    const proc = fork(main, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    child = proc;
    const messages: SidecarMessage[] = [];
    const next = (type: string) => new Promise<SidecarMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} within 5 s; got ${JSON.stringify(messages)}`)), 5000);
      const on = (m: SidecarMessage) => {
        messages.push(m);
        if (m.type === type) {
          clearTimeout(timer);
          proc.off('message', on);
          resolve(m);
        }
      };
      proc.on('message', on);
    });
    const ready = next('ready');
    proc.send({ type: 'bootstrap', workload: 'solo-v1', snapshot, certs: ca.issue(snapshot.workloads[0].spiffeId) });
    const r = (await ready) as Extract<SidecarMessage, { type: 'ready' }>;
    assert.equal(r.workload, 'solo-v1');
    assert.equal(r.ports.inbound, ports.inboundPort);
    assert.ok(r.ports.outbound! > 0 && r.ports.admin > 0);

    const res = await getVia(r.ports.outbound!, 'solo:9080', '/hello');
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).workload, 'solo-v1');
    const mem = (await (await fetch(`http://127.0.0.1:${r.ports.admin}/memory`)).json()) as { rss: number; pid: number };
    assert.equal(mem.pid, proc.pid);
    assert.ok(mem.rss > 0);

    const applied = next('applied');
    proc.send({ type: 'config', snapshot: { ...snapshot, version: 2 } });
    assert.deepEqual(await applied, { type: 'applied', version: 2 });

    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.send({ type: 'shutdown', graceMs: 500 });
    assert.equal(await exited, 0);
    child = undefined;
  });
});

test('two sidecars can run in one process without sharing state', async () => {
  const a = await echoApp('a-v1');
  const b = await echoApp('b-v1');
  const snapshot = snapshotOf([
    { name: 'a', workloads: [{ name: 'a-v1', appPort: a.port, ports: { inboundPort: await freePort(), outboundPort: 0, adminPort: 0 } }] },
    { name: 'b', workloads: [{ name: 'b-v1', appPort: b.port, ports: { inboundPort: await freePort(), outboundPort: 0, adminPort: 0 } }] },
  ]);
  const ca = createCa({ trustDomain: 'cluster.local' });
  const sa = await startSidecar({ type: 'bootstrap', workload: 'a-v1', snapshot, certs: ca.issue(snapshot.workloads[0].spiffeId) });
  const sb = await startSidecar({ type: 'bootstrap', workload: 'b-v1', snapshot, certs: ca.issue(snapshot.workloads[1].spiffeId) });
  try {
    const r = await getVia(sa.ports.outbound!, 'b');
    assert.equal(JSON.parse(r.body).workload, 'b-v1');
    assert.equal(sa.stats.get('upstream_rq_mtls'), 1);
    assert.equal(sb.stats.get('upstream_rq_mtls'), 0);
    await sa.handle({ type: 'config', snapshot: { ...snapshot, version: 5 } });
    assert.equal(sa.tables().version, 5);
    assert.equal(sb.tables().version, 1);
  } finally {
    await Promise.all([sa.close(100), sb.close(100)]);
    for (const s of [a.server, b.server]) {
      s.closeAllConnections();
      s.close();
    }
  }
});
