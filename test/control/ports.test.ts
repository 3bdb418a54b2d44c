import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assignPorts, duplicateClaims, ephemeralRange, freePorts, isPortFree, portClaims, takenPorts } from '../../simulator/control/ports';
import type { Resource } from '../../simulator/policy/model';

const mesh = (extra: Partial<Resource<'Mesh'>['spec']> = {}): Resource<'Mesh'> => ({
  apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: 'm' },
  spec: {
    controlPort: 15000,
    services: [{ name: 'reviews', port: 9080, workloads: [
      { name: 'reviews-v1', port: 9181, command: ['node', 'r.js'], sidecar: { inboundPort: 15106 } },
      { name: 'reviews-dev', port: 9182 },
    ] }],
    ...extra,
  },
});

function listenOn(port = 0): Promise<net.Server> {
  return new Promise((resolve) => { const s = net.createServer(); s.listen(port, '127.0.0.1', () => resolve(s)); });
}

test('claims name the control port, the ingress, pinned sidecar ports and the ports of apps devmesh starts', () => {
  const claims = portClaims(mesh());
  assert.deepEqual(claims.map((c) => c.owner), [
    'controlPort 15000 (control API)',
    'ingress port 15080',
    'port 9181 of workload reviews-v1',
    'sidecar inboundPort 15106 of workload reviews-v1',
  ]);
  assert.deepEqual(claims[2].field, ['spec', 'services', 0, 'workloads', 0, 'port']);
});

test('the port of a workload the developer runs themself is not claimed, since their app is expected to hold it', () => {
  assert.ok(!portClaims(mesh()).some((c) => c.port === 9182));
});

test('two owners of one port in the Mesh are reported as a pair', () => {
  const dups = duplicateClaims(portClaims(mesh({ controlPort: 9181 })));
  assert.equal(dups.length, 1);
  assert.match(dups[0][1].owner, /port 9181 of workload reviews-v1/);
});

test('a port held by another process is reported with its owner and its field in the Mesh', async () => {
  const holder = await listenOn();
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const m = mesh();
    m.spec.services[0].workloads![0].port = port;
    const problems = await takenPorts(portClaims(m));
    const mine = problems.find((p) => p.claim.port === port)!;
    assert.ok(mine, 'the held port is reported');
    assert.equal(mine.message, `port ${port} of workload reviews-v1 is already in use by another process`);
    assert.deepEqual(mine.claim.field, ['spec', 'services', 0, 'workloads', 0, 'port']);
  } finally { holder.close(); }
});

test('isPortFree tells a held port from a free one', async () => {
  const holder = await listenOn();
  const port = (holder.address() as net.AddressInfo).port;
  assert.equal(await isPortFree(port), false);
  await new Promise((r) => holder.close(r));
  assert.equal(await isPortFree(port), true);
});

test('pinned sidecar ports are kept and every other port is distinct and free', async () => {
  const a = await assignPorts(mesh());
  assert.equal(a.workloads!['reviews-v1'].inboundPort, 15106);
  assert.equal(a.ingress.port, 15080);
  const picked = [a.workloads!['reviews-v1'].outboundPort, a.workloads!['reviews-v1'].adminPort, ...Object.values(a.workloads!['reviews-dev']), a.ingress.adminPort];
  assert.equal(new Set(picked).size, picked.length);
  for (const p of picked) assert.ok(p > 0 && (await isPortFree(p)), `port ${p} is free`);
});

test('free ports are drawn below the ephemeral range, where no outgoing connection takes them meanwhile', async () => {
  const [low] = ephemeralRange();
  const ports = await freePorts(20);
  assert.equal(new Set(ports).size, 20);
  for (const p of ports) {
    assert.ok(p >= 20_000 && p < low, `port ${p} outside 20000..${low - 1}`);
    assert.equal(await isPortFree(p), true);
  }
});

test('a port handed out once is not handed out again by the next call', async () => {
  const first = new Set(await freePorts(50));
  const again = await freePorts(50);
  assert.deepEqual(again.filter((p) => first.has(p)), []);
});

test('a port another process leased in the last two minutes is not handed out; an older lease is taken over', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-leases-'));
  const before = process.env.DEVMESH_PORT_LEASES;
  process.env.DEVMESH_PORT_LEASES = dir;
  try {
    const [low] = ephemeralRange();
    const old = new Date(Date.now() - 3 * 60_000);
    for (let p = 20_000; p < low; p++) {
      if (p % 2 === 0) writeFileSync(path.join(dir, String(p)), '');
      else if (p % 3 === 0) { writeFileSync(path.join(dir, String(p)), ''); utimesSync(path.join(dir, String(p)), old, old); }
    }
    const ports = await freePorts(40);
    assert.deepEqual(ports.filter((p) => p % 2 === 0), [], 'leased by another process');
    assert.ok(ports.some((p) => p % 3 === 0), 'expired leases are taken over');
    for (const p of ports) assert.ok(existsSync(path.join(dir, String(p))), `port ${p} leased for this process`);
  } finally {
    if (before === undefined) delete process.env.DEVMESH_PORT_LEASES; else process.env.DEVMESH_PORT_LEASES = before;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ports to avoid are never handed out', async () => {
  const [low] = ephemeralRange();
  const avoid = new Set<number>();
  for (let p = 20_000; p < low; p += 2) avoid.add(p);
  const ports = await freePorts(30, avoid);
  assert.deepEqual(ports.filter((p) => p % 2 === 0), []);
});

test('the ephemeral range is read from the kernel setting, with the IANA range when it is unreadable', () => {
  assert.deepEqual(ephemeralRange('32768\t60999\n'), [32768, 60999]);
  assert.deepEqual(ephemeralRange('garbage'), [49152, 65535]);
});

test('--control-port replaces the Mesh control port in the claims, named as the flag and with no Mesh position', async () => {
  const claims = portClaims(mesh(), { controlPort: 16123 });
  assert.equal(claims[0].port, 16123);
  assert.equal(claims[0].owner, '--control-port 16123 (control API)');
  assert.equal(claims[0].field, undefined);
  assert.ok(!claims.some((c) => c.port === 15000), 'the overridden spec.controlPort is not claimed');
  const a = await assignPorts(mesh(), { controlPort: 16123 });
  assert.ok(!Object.values(a.workloads).some((w) => Object.values(w).includes(16123)), 'no sidecar is given the flag\'s port');
});
