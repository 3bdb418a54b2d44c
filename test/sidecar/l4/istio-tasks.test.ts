/**
 * Istio's TCP tasks, re-expressed as data and run on real sidecars:
 *
 * - "TCP Traffic Shifting" (istio.io tasks/traffic-management/tcp-traffic-shifting):
 *   a Gateway with a TCP server, tcp-echo v1 and v2, all traffic to v1, then 80/20;
 * - "Authorization for TCP traffic" (tasks/security/authorization/authz-tcp):
 *   ALLOW on ports, ALLOW with an HTTP-only field, DENY with one, DENY with one and a port.
 *
 * - "Ingress gateway without TLS termination" (tasks/traffic-management/ingress/ingress-sni-passthrough):
 *   a Gateway server of protocol TLS in PASSTHROUGH mode, a VirtualService whose
 *   tls[] rule takes nginx.example.com on that port to my-nginx, which serves
 *   its own certificate.
 *
 * Each step checks the outcome the task documents. The task's port 9002
 * (reached at the pod IP, outside the Service) has no local equivalent:
 * devmesh has no pod IPs, so those two steps are not reproduced.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import { seededRandom } from '../../../simulator/sidecar/routing/loadBalancer';
import { ap, dr, freePort, gw, startMeshFromSpec, vs, type TestMesh } from '../fixtures';
import { createCa } from '../../../simulator/control/ca';
import { echoOutcome, eventually, say, tcpEcho, tlsGreeter } from './fixtures';
import * as tls from 'node:tls';
import * as net from 'node:net';

/** Rejects once nothing listens on the port any more (a connection is refused). */
const eventuallyRefused = (port: number) => eventually(() => new Promise<undefined | true>((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.on('connect', () => { s.destroy(); resolve(undefined); });
  s.on('error', () => resolve(true));
}), `port ${port} to close`).then(() => { throw new Error('refused'); });

const tcpEchoMesh = (upstreams: MeshSpec['services'][number]['workloads'] = []): MeshSpec => ({
  services: [
    {
      name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }, { name: 'tcp-other', port: 9001 }],
      workloads: [
        { name: 'tcp-echo-v1', labels: { app: 'tcp-echo', version: 'v1' }, ports: { '9000': 1, '9001': 2 } },
        { name: 'tcp-echo-v2', labels: { app: 'tcp-echo', version: 'v2' }, ports: { '9000': 3, '9001': 4 } },
      ],
    },
    { name: 'sleep', port: 80, workloads: upstreams },
  ],
});

/** tcp-echo: v1 answers "one ...", v2 "two ..." on both ports (the sample's args "9000,9001,9002" "one"). */
const tcpEchoApps = (name: string) => (name.startsWith('tcp-echo-v') ? tcpEcho(name.startsWith('tcp-echo-v1') ? 'one' : 'two') : undefined);

describe('Istio task: TCP Traffic Shifting', () => {
  let mesh: TestMesh;
  let ingressPort: number;
  const gateway = (port: number) => gw('tcp-echo-gateway', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: port, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] }] });
  const destinations = dr('tcp-echo-destination', { host: 'tcp-echo', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] });
  const route = (port: number, weights: [number, number]): Resource<'VirtualService'> => vs('tcp-echo', {
    hosts: ['*'], gateways: ['tcp-echo-gateway'],
    tcp: [{ match: [{ port }], route: weights[1] === 0
      ? [{ destination: { host: 'tcp-echo', port: { number: 9000 }, subset: 'v1' } }]
      : [{ destination: { host: 'tcp-echo', port: { number: 9000 }, subset: 'v1' }, weight: weights[0] }, { destination: { host: 'tcp-echo', port: { number: 9000 }, subset: 'v2' }, weight: weights[1] }] }],
  });
  /** The task's loop: `(date; sleep 1) | nc $INGRESS_HOST $TCP_INGRESS_PORT`, `n` times: the first word of each answer. */
  const send = async (n: number) => {
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push((await say(ingressPort, new Date().toString())).split(' ')[0]);
    return words;
  };

  before(async () => {
    // The task's 31400 may be taken on this machine: the Gateway gets a free port instead.
    ingressPort = await freePort();
    mesh = await startMeshFromSpec(tcpEchoMesh([{ name: 'sleep', port: 5 }]), { gateways: [gateway(ingressPort)], destinationRules: [destinations], virtualServices: [route(ingressPort, [100, 0])] },
      { app: tcpEchoApps, random: seededRandom(1) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh.close());

  test('all TCP traffic to v1: every answer starts with "one"', async () => {
    assert.deepEqual(new Set(await send(20)), new Set(['one']));
  });

  test('80/20: about a fifth of the connections reach v2 ("two"), the rest v1', async () => {
    await mesh.push({ gateways: [gateway(ingressPort)], destinationRules: [destinations], virtualServices: [route(ingressPort, [80, 20])] });
    const words = await send(100);
    const two = words.filter((w) => w === 'two').length;
    assert.equal(words.filter((w) => w === 'one').length + two, 100);
    assert.ok(two >= 10 && two <= 30, `${two} of 100 reached v2`);
    const log = mesh.ingress!.accessLog.tail().filter((e) => e.protocol === '-');
    assert.ok(log.some((e) => e.upstream_cluster === 'outbound|9000|v2|tcp-echo.default.svc.cluster.local'));
  });

  test('with no tcp[] rule for the Gateway\'s port each connection is closed (NR); with no Gateway the port is not listened on', async () => {
    await mesh.push({ gateways: [gateway(ingressPort)], destinationRules: [destinations], virtualServices: [] });
    assert.equal((await say(ingressPort, 'x')).trim(), '');
    const entry = mesh.ingress!.accessLog.tail().at(-1)!;
    assert.deepEqual([entry.response_flags, entry.proxy_error], ['NR', 'no-gateway-route']);
    await mesh.push({ destinationRules: [destinations] });
    await assert.rejects(eventuallyRefused(ingressPort));
  });
});

describe('Istio task: Authorization for TCP traffic', () => {
  let mesh: TestMesh;
  const local: Record<number, number> = {};
  const policy = (spec: Resource<'AuthorizationPolicy'>['spec']) => ap('tcp-policy', { selector: { matchLabels: { app: 'tcp-echo' } }, ...spec });
  /** The task's `echo "port N" | nc tcp-echo N | grep hello && echo succeeded || echo rejected`. */
  const outcome = async (port: number) => ((await echoOutcome(local[port], `port ${port}`)).startsWith('hello') ? 'connection succeeded' : 'connection rejected');

  before(async () => {
    local[9000] = await freePort();
    local[9001] = await freePort();
    mesh = await startMeshFromSpec(tcpEchoMesh([{ name: 'sleep', port: 5, upstreams: [{ service: 'tcp-echo', port: 9000, localPort: local[9000] }, { service: 'tcp-echo', port: 9001, localPort: local[9001] }] }]), {},
      { app: (name: string) => (name.startsWith('tcp-echo-v') ? tcpEcho('hello') : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh.close());

  test('before any policy, sleep reaches tcp-echo on 9000 and 9001', async () => {
    assert.equal(await outcome(9000), 'connection succeeded');
    assert.equal(await outcome(9001), 'connection succeeded');
  });

  test('ALLOW ports 9000 and 9001: both succeed', async () => {
    await mesh.push({ authorizationPolicies: [policy({ action: 'ALLOW', rules: [{ to: [{ operation: { ports: ['9000', '9001'] } }] }] })] });
    assert.equal(await outcome(9000), 'connection succeeded');
    assert.equal(await outcome(9001), 'connection succeeded');
  });

  test('ALLOW with methods (HTTP-only) for port 9000: the rule is ignored, 9000 and 9001 are rejected', async () => {
    await mesh.push({ authorizationPolicies: [policy({ action: 'ALLOW', rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }] })] });
    assert.equal(await outcome(9000), 'connection rejected');
    assert.equal(await outcome(9001), 'connection rejected');
    const entry = mesh.sidecars.get('tcp-echo-v1')!.accessLog.tail().concat(mesh.sidecars.get('tcp-echo-v2')!.accessLog.tail()).find((e) => e.connection_termination_details.startsWith('rbac_access_denied'));
    assert.ok(entry, 'the callee logs the denial as Envoy\'s network RBAC does');
  });

  test('DENY with methods (HTTP-only): the field is dropped, every TCP port is rejected', async () => {
    await mesh.push({ authorizationPolicies: [policy({ action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })] });
    assert.equal(await outcome(9000), 'connection rejected');
    assert.equal(await outcome(9001), 'connection rejected');
  });

  test('DENY with methods and port 9000: 9000 is rejected, 9001 succeeds', async () => {
    await mesh.push({ authorizationPolicies: [policy({ action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }] })] });
    assert.equal(await outcome(9000), 'connection rejected');
    assert.equal(await outcome(9001), 'connection succeeded');
  });
});

describe('Istio task: Ingress gateway without TLS termination', () => {
  let mesh: TestMesh;
  let ingressPort: number;
  // my-nginx's own certificate, from the task's example.com CA: not a mesh identity.
  const exampleCa = createCa({ trustDomain: 'example.com' });
  const nginxCert = exampleCa.issue('spiffe://example.com/nginx.example.com');
  const gateway = (port: number) => gw('mygateway', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: port, name: 'https', protocol: 'TLS' }, tls: { mode: 'PASSTHROUGH' }, hosts: ['nginx.example.com'] }] });
  const route = (port: number) => vs('nginx', { hosts: ['nginx.example.com'], gateways: ['mygateway'], tls: [{ match: [{ port, sniHosts: ['nginx.example.com'] }], route: [{ destination: { host: 'my-nginx', port: { number: 443 } } }] }] });
  /** `curl --resolve nginx.example.com:<port>:127.0.0.1 --cacert example.com.crt https://nginx.example.com`: what answered, and whose certificate it showed. */
  const hello = (servername: string) => new Promise<{ said: string; cert?: string }>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: ingressPort, servername, ca: exampleCa.certPem, checkServerIdentity: () => undefined });
    let said = '';
    let cert: string | undefined;
    s.on('secureConnect', () => { cert = s.getPeerCertificate().subjectaltname; });
    s.on('data', (d) => (said += d));
    s.on('error', () => undefined);
    s.on('close', () => resolve({ said: said.trim(), cert }));
  });

  before(async () => {
    ingressPort = await freePort();
    const spec: MeshSpec = { services: [{ name: 'my-nginx', ports: [{ name: 'https', port: 443 }], workloads: [{ name: 'my-nginx-v1', labels: { run: 'my-nginx' }, port: 1 }] }] };
    mesh = await startMeshFromSpec(spec, { gateways: [gateway(ingressPort)], virtualServices: [route(ingressPort)] },
      { app: (n: string) => (n === 'my-nginx-v1' ? tlsGreeter(n, nginxCert) : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh.close());

  test('the client reaches my-nginx through the ingress with the TLS it started: my-nginx\'s own certificate, verified by the example.com CA', async () => {
    const r = await hello('nginx.example.com');
    assert.equal(r.said, 'my-nginx-v1 nginx.example.com');
    assert.equal(r.cert, 'URI:spiffe://example.com/nginx.example.com', 'the certificate is the app\'s, not the ingress\'s');
    // The ingress logs the connection once both sides have closed.
    const entry = await eventually(() => mesh.ingress!.accessLog.tail().find((e) => e.protocol === '-' && e.requested_server_name === 'nginx.example.com'), 'the ingress\'s access-log entry');
    assert.deepEqual([entry.upstream_cluster, entry.response_flags], ['outbound|443||my-nginx.default.svc.cluster.local', '-']);
  });

  test('a server name no tls[] rule takes is closed before any TLS is answered (NR)', async () => {
    const r = await hello('other.example.com');
    assert.deepEqual(r, { said: '', cert: undefined });
    const entry = mesh.ingress!.accessLog.tail().filter((e) => e.protocol === '-').at(-1)!;
    assert.deepEqual([entry.requested_server_name, entry.response_flags, entry.proxy_error], ['other.example.com', 'NR', 'no-sni-match']);
  });
});
