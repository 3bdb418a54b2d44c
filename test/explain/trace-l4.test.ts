/**
 * `devmesh explain --trace <connection id>` without the CLI: real TCP
 * connections through real sidecars, both ends' access-log entries read back
 * as one hop (traceL4.ts connectionHop), walked over the same snapshot and
 * judged as the command judges them; and what it says of an id it cannot walk.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { judge } from '../../simulator/explain/compare';
import { connectionHop, CONNECTION_ID } from '../../simulator/explain/traceL4';
import { explainConnection } from '../../simulator/explain/walkL4';
import { ap, freePort, startMeshFromSpec, vs, type TestMesh } from '../sidecar/fixtures';
import { eventually, say, tcpEcho } from '../sidecar/l4/fixtures';

describe('a recorded TCP connection, walked again', () => {
  let mesh: TestMesh;
  let local: number;
  const entries = () => [...mesh.sidecars.values()].flatMap((s) => s.accessLog.tail());

  before(async () => {
    local = await freePort();
    mesh = await startMeshFromSpec({
      services: [
        { name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }], workloads: [{ name: 'tcp-echo-v1', labels: { app: 'tcp-echo', version: 'v1' } }, { name: 'tcp-echo-v2', labels: { app: 'tcp-echo', version: 'v2' } }] },
        { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 5, upstreams: [{ service: 'tcp-echo', port: 9000, localPort: local }] }] },
      ],
    }, {
      virtualServices: [vs('tcp-echo', { hosts: ['tcp-echo'], tcp: [{ route: [{ destination: { host: 'tcp-echo', subset: 'v2' } }] }] })],
      destinationRules: [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'tcp-echo', namespace: 'default' }, spec: { host: 'tcp-echo', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } }],
      authorizationPolicies: [ap('only-v1', { selector: { matchLabels: { version: 'v2' } }, action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/sleep'] } }], to: [{ operation: { methods: ['GET'] } }] }] })],
    }, { app: (name: string) => (name.startsWith('tcp-echo') ? tcpEcho(name) : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh.close());

  test('the caller\'s entry names the target and config it decided under; the walk over them agrees with both ends (a DENY rule with an HTTP-only field still denies)', async () => {
    assert.equal((await say(local, 'hi')).trim(), '');
    const out = await eventually(() => mesh.sidecars.get('sleep')!.accessLog.tail().find((e) => e.protocol === '-'), 'the caller\'s entry');
    assert.match(out.trace_id, CONNECTION_ID);
    await eventually(() => mesh.sidecars.get('tcp-echo-v2')!.accessLog.tail().find((e) => e.trace_id === out.trace_id), 'the callee\'s entry');
    const hop = connectionHop(entries(), out.trace_id);
    assert.ok(!('problem' in hop), JSON.stringify(hop));
    assert.deepEqual(hop.connection, { from: 'sleep', protocol: 'tcp', target: 'tcp-echo.default.svc.cluster.local:9000' });
    assert.equal(hop.config, mesh.snapshot.version);
    assert.deepEqual([...hop.seen.inbound.keys()], ['tcp-echo-v2']);
    const walked = explainConnection(mesh.snapshot, hop.connection);
    const j = judge(walked.outcomes, hop.seen);
    assert.ok(j.agrees, JSON.stringify(j));
    assert.match(j.outcome.summary, /closed by tcp-echo-v2's sidecar on the client's first bytes: RBAC: access denied by AuthorizationPolicy default\/only-v1 \(DENY\) rule 0/);
  });

  test('a walk over other policies than the connection ran under does not agree, and says where it differs', async () => {
    const out = mesh.sidecars.get('sleep')!.accessLog.tail().find((e) => e.protocol === '-')!;
    const hop = connectionHop(entries(), out.trace_id);
    assert.ok(!('problem' in hop));
    const other = { ...mesh.snapshot, authorizationPolicies: [] };
    const j = judge(explainConnection(other, hop.connection).outcomes, hop.seen);
    assert.equal(j.agrees, false);
    assert.match(j.agrees ? '' : j.difference ?? '', /authz at tcp-echo-v2/);
  });

  test('an id no sidecar logged, or one only a callee logged, is not walked, and says why', () => {
    const missing = connectionHop(entries(), '0123456789abcdef');
    assert.match('problem' in missing ? missing.problem : '', /no connection 0123456789abcdef in the mesh's access logs/);
    const inboundOnly = entries().filter((e) => e.listener === 'inbound' && e.protocol === '-');
    const id = inboundOnly[0].trace_id;
    const only = connectionHop(inboundOnly, id);
    assert.match('problem' in only ? only.problem : '', /logged only by tcp-echo-v2 \(inbound\)/);
  });
});
