/** The Mesh's `tcpTunnel`: how TCP connections travel between sidecars, validated where it is written and carried to the sidecars in the snapshot. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { diagnoseMesh } from './fixtures';
import { buildSnapshot } from '../../simulator/control/snapshot';
import type { Resource } from '../../simulator/policy/model';

const mesh = (tunnel: string) => `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  tcpTunnel: ${tunnel}
  services:
    - name: redis
      ports: [{ name: tcp-redis, port: 6379 }]
      workloads: [{ name: redis-v1, port: 16379 }]
`;

const diagnose = diagnoseMesh;

describe('the Mesh tcpTunnel', () => {
  it('accepts tls and h2', () => {
    for (const t of ['tls', 'h2']) assert.deepEqual(diagnose(mesh(t)).map((d) => `${d.code}: ${d.message}`), []);
  });

  it('refuses any other transport where it is written, naming the ones there are', () => {
    const [d, ...rest] = diagnose(mesh('quic'));
    assert.deepEqual(rest, []);
    assert.equal(d.code, 'bad-enum');
    assert.deepEqual([d.at.line + 1, d.at.character + 1], [5, 14], 'line and column of the value');
    assert.match(d.message, /"quic" is not a valid tcpTunnel/);
    assert.match(d.message, /tls/);
    assert.match(d.message, /h2/);
  });

  it('travels to the sidecars in the snapshot, and is absent when the Mesh names none', () => {
    const resource = (spec: Resource<'Mesh'>['spec']): Resource<'Mesh'> => ({ apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: 'shop' }, spec });
    const services = [{ name: 'redis', ports: [{ name: 'tcp-redis', port: 6379 }], workloads: [{ name: 'redis-v1', port: 16379 }] }];
    const ports = { workloads: { 'redis-v1': { inboundPort: 1, outboundPort: 2, adminPort: 3 } }, ingress: { port: 4, adminPort: 5 } };
    assert.equal(buildSnapshot(resource({ tcpTunnel: 'h2', services }), [], ports, 1).tcpTunnel, 'h2');
    assert.equal(buildSnapshot(resource({ services }), [], ports, 1).tcpTunnel, undefined);
  });
});
