/**
 * A connection whose peer closes it is closed by the inbound listener, as
 * Envoy's connection manager closes a downstream connection at the peer's
 * FIN. A DestinationRule connectionPool makes the caller open a real mTLS
 * handshake to the callee for each modelled connection and end it at once
 * (H2Pool.handshake); the callee's HTTP/2 session for it stayed open, so a
 * PeerAuthentication push sent it a GOAWAY no caller could read (the
 * agreement test's "read 2 of the 3 GOAWAYs the callees sent").
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dr, pa, startMeshRetrying, type TestMesh } from '../fixtures';

const SERVICES = [
  { name: 'frontend', workloads: [{ name: 'frontend-v1', labels: { app: 'frontend' }, serviceAccount: 'frontend' }] },
  { name: 'reviews', workloads: [{ name: 'reviews-v1', labels: { app: 'reviews' }, serviceAccount: 'reviews' }] },
];

/** Waits (bounded) until `ok()` holds, failing with `what` when it never does. */
async function until(ok: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, what());
    await new Promise((r) => setImmediate(r));
  }
}

describe('the inbound listener closes a connection its peer closed', () => {
  let mesh: TestMesh;
  before(async () => {
    mesh = await startMeshRetrying(SERVICES, { destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 } } } })] });
  });
  after(() => mesh?.close());

  test('a connection-pool handshake leaves no session at the callee, so every GOAWAY a PeerAuthentication push sends is read', async () => {
    const caller = mesh.sidecars.get('frontend-v1')!;
    const callee = mesh.sidecars.get('reviews-v1')!;
    const reply = await mesh.request('frontend-v1', { url: 'http://reviews:9080/' });
    assert.equal(reply.status, 200);
    // One handshake for the modelled connection, ended by the caller at once: the callee closes its side.
    await until(() => callee.stats.get('inbound.downstream_cx_destroy_remote') >= 1, () => 'the callee never closed the connection the caller\'s handshake ended');
    // DISABLE no longer admits the caller's mTLS session: the callee sends it a GOAWAY, and only it.
    await mesh.push({ destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 } } } })], peerAuthentications: [pa('off', { mtls: { mode: 'DISABLE' } })] });
    const sent = callee.stats.get('inbound.cx_goaway_by_policy');
    assert.equal(sent, 1, 'one GOAWAY: the session the request went over');
    await until(() => caller.stats.get('upstream_cx_close_notify') >= sent, () => `the caller read ${caller.stats.get('upstream_cx_close_notify')} of the ${sent} GOAWAYs the callee sent`);
  });
});
