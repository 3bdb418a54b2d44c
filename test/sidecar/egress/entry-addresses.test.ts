/**
 * ServiceEntry `addresses` through a real sidecar: a CONNECT to an IP a
 * ServiceEntry lists (or one inside a CIDR block it lists), on one of its
 * ports, is that entry's — its endpoints, its cluster in the access log —
 * and REGISTRY_ONLY admits it; an address no entry lists is the
 * BlackHoleCluster's. The database is a local TCP echo server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { se, startMeshRetrying, type TestMesh } from '../fixtures';
import { connectVia, eventually, exchangeLine, tcpEcho } from '../l4/fixtures';

const services = [{ name: 'app', workloads: [{ name: 'app-v1' }] }];

describe('ServiceEntry addresses', () => {
  let mesh: TestMesh;
  let db: Awaited<ReturnType<typeof tcpEcho>>;
  const outbound = () => mesh.sidecars.get('app-v1')!.ports.outbound!;
  const entry = (addresses: string[]) => se('orders-db', {
    hosts: ['orders-db.example'], addresses, location: 'MESH_EXTERNAL', resolution: 'STATIC',
    ports: [{ number: 5432, name: 'tcp-postgres', protocol: 'TCP' }],
    endpoints: [{ address: '127.0.0.1', ports: { 'tcp-postgres': db.port } }],
  });

  before(async () => {
    db = await tcpEcho('db');
    mesh = await startMeshRetrying(services, { serviceEntries: [entry(['192.0.2.10'])], outboundTrafficPolicy: 'REGISTRY_ONLY' });
  });
  after(async () => {
    await mesh?.close();
    db?.server.destroyAll();
    db?.server.close();
  });

  async function lineThrough(target: string): Promise<string> {
    const c = await connectVia(outbound(), target);
    assert.equal(c.status, 200, `CONNECT ${target}: ${c.status} ${c.body}`);
    try {
      return await exchangeLine(c.socket, 'SELECT 1');
    } finally {
      c.socket.destroy();
    }
  }

  it('sends a connection to an address the entry lists, on its port, to the entry\'s endpoint', async () => {
    assert.equal(await lineThrough('192.0.2.10:5432'), 'db SELECT 1');
    const log = await eventually(() => mesh.sidecars.get('app-v1')!.accessLog.tail().find((e) => e.listener === 'outbound' && e.upstream_cluster.includes('orders-db.example')), 'the log entry');
    assert.equal(log.upstream_cluster, 'outbound|5432||orders-db.example');
    assert.equal(log.upstream_host, `127.0.0.1:${db.port}`);
  });

  it('matches an address inside a CIDR block the entry lists', async () => {
    await mesh.push({ serviceEntries: [entry(['192.0.2.0/24'])], outboundTrafficPolicy: 'REGISTRY_ONLY' });
    assert.equal(await lineThrough('192.0.2.77:5432'), 'db SELECT 1');
  });

  it('leaves an address outside the blocks, or another port, to the outbound traffic policy (REGISTRY_ONLY: 502)', async () => {
    await mesh.push({ serviceEntries: [entry(['192.0.2.0/24'])], outboundTrafficPolicy: 'REGISTRY_ONLY' });
    const outside = await connectVia(outbound(), '198.51.100.1:5432');
    outside.socket.destroy();
    assert.equal(outside.status, 502);
    const otherPort = await connectVia(outbound(), '192.0.2.77:5433');
    otherPort.socket.destroy();
    assert.equal(otherPort.status, 502);
  });
});
