/**
 * The config publisher (control/publisher.ts): the one owner of the config
 * the sidecars run. Real sidecars in a real sidecar process take every
 * version; changes submitted together are published one after the other;
 * the report counts acknowledgements and says why one is missing. Runtime
 * faults reach the config only through it.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCa } from '../../simulator/control/ca';
import { EventLog } from '../../simulator/control/events';
import { FaultStore } from '../../simulator/control/faults';
import { freePorts } from '../../simulator/control/ports';
import { configReport, ConfigPublisher, type Ack } from '../../simulator/control/publisher';
import { ManagedSidecar, SidecarHost } from '../../simulator/control/sidecars';
import type { Resource } from '../../simulator/policy/model';
import type { RuntimeFault } from '../../simulator/protocol';
import { echoApp } from '../sidecar/fixtures';
import { within } from './helpers';

const MESH: Resource<'Mesh'> = {
  apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: 'pub' },
  spec: { services: [{ name: 'productpage', port: 9080, workloads: [{ name: 'productpage-v1', port: 1 }] }, { name: 'reviews', port: 9080, workloads: [{ name: 'reviews-v1', port: 2 }] }] },
};

async function meshOf(): Promise<{ publisher: ConfigPublisher; sidecars: Map<string, ManagedSidecar>; events: EventLog; lines: string[]; close(): Promise<void> }> {
  const app = await echoApp('reviews-v1');
  const [a, b, c, d, e, f, g, h] = await freePorts(8);
  const mesh = structuredClone(MESH);
  mesh.spec.services[1].workloads![0].port = app.port;
  const ports = { workloads: { 'productpage-v1': { inboundPort: a, outboundPort: b, adminPort: c }, 'reviews-v1': { inboundPort: d, outboundPort: e, adminPort: f } }, ingress: { port: g, adminPort: h } };
  const events = new EventLog();
  const lines: string[] = [];
  const sidecars = new Map<string, ManagedSidecar>();
  const publisher = new ConfigPublisher({ mesh, resources: [], ports, faults: [] }, { sidecars: () => sidecars, events, out: (l) => lines.push(l) });
  const ca = createCa({ trustDomain: 'cluster.local' });
  const host = new SidecarHost('sidecars', events);
  for (const w of publisher.snapshot.workloads) {
    sidecars.set(w.name, new ManagedSidecar({ workload: w.name, name: w.name, events, host, bootstrap: () => ({ type: 'bootstrap', workload: w.name, snapshot: publisher.snapshot, certs: ca.issue(w.spiffeId) }) }));
  }
  for (const s of sidecars.values()) s.start();
  await within(Promise.all([...sidecars.values()].map((s) => s.whenReady())), 10_000, 'both sidecars ready');
  return {
    publisher, sidecars, events, lines,
    close: async () => { await Promise.all([...sidecars.values()].map((s) => s.stop(200))); app.server.closeAllConnections(); app.server.close(); },
  };
}

const fault = (id: string): RuntimeFault => ({ id, service: 'reviews', abort: { httpStatus: 503, percentage: 100 } });

describe('the config publisher', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => { for (const c of cleanups) await c(); });

  test('every change is the next version, pushed to every sidecar, acknowledged and reported once', async () => {
    const m = await meshOf();
    cleanups.push(m.close);
    assert.equal(m.publisher.snapshot.version, 1);
    const report = await m.publisher.publish({ faults: [fault('f-1')] }, 'fault f-1 added');
    assert.deepEqual([report?.version, report?.applied, report?.sidecars, report?.failed], [2, 2, 2, []]);
    assert.deepEqual([...m.sidecars.values()].map((s) => s.appliedVersion), [2, 2]);
    assert.deepEqual(m.publisher.snapshot.faults.map((f) => f.id), ['f-1']);
    assert.match(m.lines.at(-1)!, /^config v2 applied to 2\/2 sidecars in \d+ ms: fault f-1 added$/);
    const event = m.events.recent().filter((e) => e.type === 'config.applied');
    assert.deepEqual(event.map((e) => [e.data?.version, e.data?.applied, e.data?.why]), [[2, 2, 'fault f-1 added']]);
  });

  test('changes submitted together are published one after the other, in order: no sidecar sees an older version after a newer one', async () => {
    const m = await meshOf();
    cleanups.push(m.close);
    let release: () => void = () => undefined;
    // A Mesh edit whose new workloads take a while to boot ...
    const slow = m.publisher.publish({ resources: [] }, 'a Mesh edit', { boot: () => new Promise<Map<string, Ack>>((r) => { release = () => r(new Map()); }) });
    // ... and a fault added meanwhile.
    const quick = m.publisher.publish({ faults: [fault('f-2')] }, 'fault f-2 added');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([...m.sidecars.values()].map((s) => s.appliedVersion), [1, 1], 'nothing is pushed while the edit waits for its workloads');
    release();
    const [a, b] = await Promise.all([slow, quick]);
    assert.deepEqual([a?.version, a?.applied, b?.version, b?.applied], [2, 2, 3, 2], 'both applied, none refused as older');
    assert.deepEqual([...m.sidecars.values()].map((s) => s.appliedVersion), [3, 3]);
    assert.deepEqual(m.publisher.snapshot.faults.map((f) => f.id), ['f-2'], 'the later change keeps the earlier one\'s inputs');
  });

  test('a sidecar that is not running is reported as not applied, with why; it boots with the config in force', async () => {
    const m = await meshOf();
    cleanups.push(m.close);
    await m.sidecars.get('productpage-v1')!.stop(200);
    const report = await m.publisher.publish({ faults: [] }, 'faults cleared');
    assert.deepEqual([report?.applied, report?.sidecars], [1, 2]);
    assert.deepEqual(report?.failed.map((f) => f.name), ['productpage-v1']);
    assert.match(m.lines.at(-1)!, /config v2 applied to 1\/2 sidecars in \d+ ms: faults cleared \(not applied: productpage-v1: sidecar not running \(it will boot with this snapshot\)\)/);
    const pp = m.sidecars.get('productpage-v1')!;
    pp.start();
    await within(pp.whenReady(), 10_000, 'productpage-v1 back');
    assert.equal(pp.appliedVersion, 2);
  });

  test('runtime faults reach the config only through the publisher: added, listed, and gone when they expire', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let now = 1_000_000;
    const events = new EventLog();
    const lines: string[] = [];
    const publisher = new ConfigPublisher({ mesh: MESH, resources: [], ports: { workloads: { 'productpage-v1': { inboundPort: 1, outboundPort: 2, adminPort: 3 }, 'reviews-v1': { inboundPort: 4, outboundPort: 5, adminPort: 6 } }, ingress: { port: 7, adminPort: 8 } }, faults: [] },
      { sidecars: () => [], events, out: (l) => lines.push(l) });
    const store = new FaultStore(publisher, events, () => now);
    const f = await store.add({ service: 'reviews', abort: { httpStatus: 503 }, for: '2s' });
    assert.deepEqual(publisher.snapshot.faults.map((x) => [x.id, x.expiresAt]), [[f.id, now + 2_000]]);
    assert.equal(publisher.snapshot.version, 2);
    assert.match(lines.at(-1)!, new RegExp(`config v2 applied to 0/0 sidecars in \\d+ ms: fault ${f.id} added \\(abort 503 \\(100%\\) on reviews, 2s left\\)`));
    now += 2_000;
    t.mock.timers.tick(2_010);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(publisher.snapshot.faults, [], 'the expired fault is taken out of the config');
    assert.equal(publisher.snapshot.version, 3);
    assert.deepEqual(events.recent().filter((e) => e.type === 'faults.changed').map((e) => [e.message, e.data?.version]), [[`fault ${f.id} added (abort 503 (100%) on reviews, 2s left)`, 2], [`fault ${f.id} expired`, 3]]);
  });

  test('the report is one sentence: version, acknowledgements, time, why, and what failed', () => {
    assert.equal(configReport(7, [{ name: 'a', ok: true }, { name: 'b', ok: false, error: 'no answer within 2000 ms' }], 12.4, 'routing.yaml edited').line,
      'config v7 applied to 1/2 sidecars in 12 ms: routing.yaml edited (not applied: b: no answer within 2000 ms)');
  });
});
