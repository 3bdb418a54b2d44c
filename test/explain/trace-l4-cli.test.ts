/**
 * `devmesh explain --trace <connection id>` as a user runs it against a
 * running `devmesh up`: Bookinfo plus a Redis service and a client workload
 * that reaches it by a local upstream port; one real connection through the
 * sidecars, its id read from `devmesh logs` (`conn <id>`), and the command
 * setting both ends' records beside the L4 walk.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { BIN, SERVICES, bookinfoFixture, freePorts, startUp, waitFor, waitReady, type BookinfoFixture, type UpProcess } from '../control/helpers';

const AUTHZ = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: redis-client-only }
spec:
  selector: { matchLabels: { app: redis } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: ["cluster.local/ns/default/sa/cache-client"] } }]
      to: [{ operation: { ports: ["6379"] } }]
`;

function run(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** `redis-cli -p <port> PING` as a raw connection: what came back before the close. */
function ping(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('*1\r\n$4\r\nPING\r\n'));
    let got = '';
    s.on('data', (d) => { got += d; s.end(); });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
  });
}

describe('explain --trace for a TCP connection on a running mesh', { timeout: 120_000 }, () => {
  let fx: BookinfoFixture;
  let up: UpProcess;
  let upstream: number;

  before(async () => {
    const [redisPort, clientPort, local] = await freePorts(3);
    upstream = local;
    fx = await bookinfoFixture({ 'redis-authz.yaml': AUTHZ }, { extraMeshYaml: `    - name: redis
      port: 6379
      protocol: redis
      workloads:
        - name: redis-v1
          labels: { app: redis, version: v1 }
          port: ${redisPort}
          command: ["node", "redis.js"]
          cwd: ${JSON.stringify(SERVICES)}
    - name: cache-client
      port: 9090
      protocol: tcp
      workloads:
        - name: cache-client-v1
          labels: { app: cache-client }
          serviceAccount: cache-client
          port: ${clientPort}
          command: ["node", "redis.js"]
          cwd: ${JSON.stringify(SERVICES)}
          upstreams:
            - { service: redis, port: 6379, localPort: ${local} }
` });
    up = startUp(fx.meshFile);
    await waitReady(up, fx.meshFile, 30_000);
  });
  after(async () => {
    await up?.stop();
    fx?.cleanup();
  });

  test('the id devmesh logs shows leads to both ends\' records, and the walk over the config they ran under agrees', async () => {
    assert.match(await ping(upstream), /^[+-]/, 'Redis (or its stand-in) answered through the mesh');
    const line = await waitFor('the connection in devmesh logs', async () => {
      const r = await run(['logs', 'cache-client-v1', '-f', fx.meshFile], fx.dir);
      return r.stdout.split('\n').find((l) => l.includes('outbound|6379||redis.default.svc.cluster.local'));
    }, 15_000, 200);
    const id = /^\[cache-client-v1 conn ([0-9a-f]{16})\]/.exec(line)?.[1];
    assert.ok(id, line);
    await waitFor('the callee\'s entry', async () => (await run(['logs', 'redis-v1', '-f', fx.meshFile], fx.dir)).stdout.includes(`conn ${id}`), 15_000, 200);

    const json = await run(['explain', '--trace', id, '-f', fx.meshFile, '--format', 'json'], fx.dir);
    assert.equal(json.code, 0, json.stdout + json.stderr);
    const out = JSON.parse(json.stdout) as { agrees: boolean; connection: { from: string; target: string }; decided: { inbound: Record<string, Array<Array<{ step: string; allowed?: boolean; rule?: { name: string; rule: number } }>>> }; walkedOver: string };
    assert.equal(out.agrees, true);
    assert.deepEqual(out.connection, { from: 'cache-client-v1', protocol: 'tcp', target: 'redis.default.svc.cluster.local:6379' });
    const authz = out.decided.inbound['redis-v1'][0].find((d) => d.step === 'authz')!;
    assert.deepEqual([authz.allowed, authz.rule?.name, authz.rule?.rule], [true, 'redis-client-only', 0]);
    assert.match(out.walkedOver, /^config v\d+, in force when the connection ran$/);

    const text = await run(['explain', '--trace', id, '-f', fx.meshFile], fx.dir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^Connection  ${id}: cache-client-v1 -> TCP redis.default.svc.cluster.local:6379`));
    assert.match(text.stdout, /authz {5}redis-v1: allowed — ALLOW AuthorizationPolicy\/default\/redis-client-only\/0/);
    assert.match(text.stdout, /predicted   connected to redis-v1 \(100 %\): agrees/);
  });

  test('an id the mesh does not keep is a usage error that says so', async () => {
    const r = await run(['explain', '--trace', '0123456789abcdef', '-f', fx.meshFile], fx.dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no connection 0123456789abcdef in the mesh's access logs/);
  });
});
