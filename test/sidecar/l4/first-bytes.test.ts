/**
 * Network RBAC and network ext_authz decide on the client's first bytes, as
 * Envoy's filters do (rbac_filter.cc and ext_authz.cc decide in onData;
 * tcp_proxy connected the upstream at accept): on real sockets, with a
 * server-first app (it greets on accept, as MySQL or SMTP do), a real gRPC
 * authorizer, and redis-server for a client-first protocol.
 *
 * - the greeting reaches the client before any decision, denied or not;
 * - the client's first bytes trigger the decision: on ALLOW they go on (held
 *   bytes first, order kept), on DENY the connection closes and the app
 *   never sees them; a client that never sends is never decided;
 * - the callee's access log says why, as before (rbac_access_denied_matched_policy[...],
 *   UAEX); the caller's attempt connected (its tunnel was up).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { spawnSync } from 'node:child_process';
import type { ExtensionProvider, Resource } from '../../../simulator/policy/model';
import { ap, freePort, gw, startMeshFromSpec, vs, type TestMesh } from '../fixtures';
import { atIngress } from './ingressTcp';
import { eventually, redisCommand, redisServer } from './fixtures';
import { startGrpcAuthorizer } from './grpcAuthorizer';
import { explainGatewayConnection } from '../../../simulator/explain/walkGatewayL4';
import { judge } from '../../../simulator/explain/compare';

const SLEEP_ID = 'spiffe://cluster.local/ns/default/sa/sleep';
const GREETING = '220 greeter ready\r\n';

/** A server-first app: greets each connection on accept, answers each line with `got <line>`, and keeps every byte each connection received. */
async function greeter(): Promise<{ server: net.Server; port: number; received: Buffer[][]; closed: () => number }> {
  const received: Buffer[][] = [];
  let closed = 0;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const mine: Buffer[] = [];
    received.push(mine);
    s.on('error', () => undefined);
    s.once('close', () => { closed++; });
    s.write(GREETING);
    let buf = '';
    s.on('data', (d: Buffer) => {
      mine.push(d);
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        s.write(`got ${buf.slice(0, nl).trim()}\r\n`);
        buf = buf.slice(nl + 1);
      }
    });
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port, received, closed: () => closed };
}

/** A client socket and what it has read so far; `until` waits for text (or the close) as an event, never a delay. */
function client(port: number): { s: net.Socket; text: () => string; closed: Promise<void>; until: (what: string) => Promise<void> } {
  // Not half-open: the client ends its side when the other does, as most clients do (and its 'close' follows).
  const s = net.connect({ host: '127.0.0.1', port });
  let text = '';
  const waiters: (() => void)[] = [];
  s.on('data', (d) => {
    text += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  s.on('error', () => undefined);
  const closed = new Promise<void>((r) => s.once('close', () => { r(); for (const w of waiters.splice(0)) w(); }));
  const until = (what: string) => new Promise<void>((resolve, reject) => {
    const check = () => {
      if (text.includes(what)) return resolve();
      if (s.destroyed) return reject(new Error(`closed before "${what.trim()}" (got ${JSON.stringify(text)})`));
      waiters.push(check);
    };
    check();
  });
  return { s, text: () => text, closed, until };
}

describe('TCP authorization on the client\'s first bytes, behind a server-first app', { timeout: 20_000 }, () => {
  let mesh: TestMesh;
  let app: Awaited<ReturnType<typeof greeter>>;
  let authorizer: Awaited<ReturnType<typeof startGrpcAuthorizer>>;
  let fromSleep: number;
  let fromOther: number;
  let hold: { arrived: () => void; release: Promise<void> } | undefined;
  const selector = { matchLabels: { app: 'greeter' } };
  const denySleep = ap('greeter-deny-sleep', { selector, action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/sleep'] } }] }] });
  const allowSleep = ap('greeter-allow-sleep', { selector, action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/sleep'] } }] }] });
  const custom = ap('greeter-ext', { selector, action: 'CUSTOM', provider: { name: 'mesh-authz' }, rules: [{}] });
  const providers: ExtensionProvider[] = [{ name: 'mesh-authz', envoyExtAuthzGrpc: { service: 'ext-authz.default.svc.cluster.local', port: 9191 } }];
  const push = (aps: Resource<'AuthorizationPolicy'>[]) => mesh.push({ authorizationPolicies: aps, extensionProviders: providers });
  const stat = (name: string) => mesh.sidecars.get('greeter-v1')!.stats.get(name);
  const inboundEntries = () => mesh.sidecars.get('greeter-v1')!.accessLog.tail().filter((e) => e.protocol === '-' && e.listener === 'inbound');

  before(async () => {
    app = await greeter();
    // Allows sleep's principal; a test can hold one answer until it releases it.
    authorizer = await startGrpcAuthorizer(async (check) => {
      const h = hold;
      hold = undefined;
      if (h) {
        h.arrived();
        await h.release;
      }
      return check.attributes?.source?.principal === SLEEP_ID ? { status: { code: 0 } } : { status: { code: 7, message: 'not sleep' } };
    });
    fromSleep = await freePort();
    fromOther = await freePort();
    mesh = await startMeshFromSpec({
      services: [
        { name: 'greeter', ports: [{ name: 'tcp-mysql', port: 3306 }], workloads: [{ name: 'greeter-v1', labels: { app: 'greeter' }, ports: { '3306': 1 } }] },
        { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 3, upstreams: [{ service: 'greeter', port: 3306, localPort: fromSleep }] }] },
        { name: 'other', port: 80, workloads: [{ name: 'other', port: 4, upstreams: [{ service: 'greeter', port: 3306, localPort: fromOther }] }] },
        { name: 'ext-authz', ports: [{ name: 'grpc', port: 9191 }], workloads: [{ name: 'ext-authz-v1', labels: { app: 'ext-authz' }, ports: { '9191': 1 } }] },
      ],
    }, { extensionProviders: providers }, { ingress: false, served: { 'ext-authz-v1:9191': authorizer.port }, app: (w) => (w === 'greeter-v1' ? Promise.resolve(app) : undefined) });
  });
  after(async () => {
    await mesh?.close();
    app?.server.close();
    await authorizer?.stop();
  });

  test('DENY: the greeting reaches the client, nothing is decided while it is silent, and its first write closes the connection before the app sees a byte', async () => {
    await push([denySleep]);
    const denied = stat('rbac.tcp.denied');
    const accepted = app.received.length;
    const c = client(fromSleep);
    await c.until(GREETING);
    // The app accepted (tcp_proxy connected at accept) and greeted; a silent client is not decided yet.
    assert.equal(app.received.length, accepted + 1);
    assert.equal(stat('rbac.tcp.denied'), denied);
    assert.equal(c.s.destroyed, false);
    c.s.write('HELO sleep\r\n');
    await c.closed;
    assert.equal(c.text(), GREETING, 'nothing after the greeting');
    assert.equal(stat('rbac.tcp.denied'), denied + 1);
    await eventually(() => (app.closed() >= accepted + 1 ? true : undefined), 'the app\'s connection to be closed by the sidecar');
    assert.deepEqual(app.received[accepted], [], 'the app never saw the client\'s bytes');
    const entry = await eventually(() => inboundEntries().find((e) => e.connection_termination_details.startsWith('rbac_access_denied_matched_policy[')), 'the callee\'s entry');
    assert.equal(entry.connection_termination_details, 'rbac_access_denied_matched_policy[default/greeter-deny-sleep]');
    assert.equal(entry.bytes_sent, GREETING.length, 'the greeting went out');
    assert.equal(entry.bytes_received, 0, 'the held bytes were never forwarded');
    const out = await eventually(() => mesh.sidecars.get('sleep')!.accessLog.tail().find((e) => e.protocol === '-' && e.trace_id === entry.trace_id), 'the caller\'s entry');
    assert.deepEqual(out.decisions.find((d) => d.step === 'attempt'), { step: 'attempt', n: 1, endpoint: 'greeter-v1', result: 'connected', retried: false });
    assert.equal(out.response_flags, '-');
  });

  test('DENY: a client that half-closes without a byte is decided at its FIN (onData with end_stream), and closed', async () => {
    await push([denySleep]);
    const denied = stat('rbac.tcp.denied');
    const c = client(fromSleep);
    await c.until(GREETING);
    c.s.end();
    await c.closed;
    assert.equal(c.text(), GREETING);
    assert.equal(stat('rbac.tcp.denied'), denied + 1);
  });

  test('ALLOW: the bytes the client wrote before the greeting, and after it, reach the app in order', async () => {
    await push([allowSleep]);
    const accepted = app.received.length;
    const c = client(fromSleep);
    // Written at once, before the tunnel and the app connection are up: held, not lost, not reordered.
    c.s.write('one\n');
    c.s.write('two\n');
    await c.until('got two\r\n');
    c.s.write('three\n');
    await c.until('got three\r\n');
    assert.equal(c.text(), `${GREETING}got one\r\ngot two\r\ngot three\r\n`);
    assert.equal(Buffer.concat(app.received[accepted]).toString(), 'one\ntwo\nthree\n');
    c.s.end();
    await c.closed;
  });

  test('ALLOW with another caller: greeted, then closed at its first bytes (no ALLOW rule matched)', async () => {
    await push([allowSleep]);
    const accepted = app.received.length;
    const c = client(fromOther);
    await c.until(GREETING);
    c.s.write('HELO other\r\n');
    await c.closed;
    assert.equal(c.text(), GREETING);
    await eventually(() => (app.closed() >= accepted + 1 ? true : undefined), 'the app\'s connection to be closed');
    assert.deepEqual(app.received[accepted], []);
  });

  test('ext_authz (CUSTOM, a gRPC authorizer): asked on the first bytes, not at accept; OK lets them on', async () => {
    await push([custom]);
    const asked = authorizer.checks.length;
    const accepted = app.received.length;
    const c = client(fromSleep);
    await c.until(GREETING);
    assert.equal(authorizer.checks.length, asked, 'no Check while the client is silent');
    c.s.write('HELO sleep\n');
    await c.until('got HELO sleep\r\n');
    assert.equal(authorizer.checks.length, asked + 1);
    assert.equal(authorizer.checks[asked].attributes.source?.principal, SLEEP_ID);
    assert.equal(Buffer.concat(app.received[accepted]).toString(), 'HELO sleep\n');
    c.s.end();
    await c.closed;
  });

  test('ext_authz: what the client writes while the authorizer is still answering is held too, and follows the first bytes in order', async () => {
    await push([custom]);
    const accepted = app.received.length;
    let arrived!: () => void;
    let release!: () => void;
    const checkArrived = new Promise<void>((r) => { arrived = r; });
    hold = { arrived, release: new Promise<void>((r) => { release = r; }) };
    const c = client(fromSleep);
    await c.until(GREETING);
    c.s.write('one\n');
    await checkArrived;
    c.s.write('two\n');
    assert.deepEqual(app.received[accepted], [], 'nothing reaches the app before the answer');
    release();
    await c.until('got two\r\n');
    assert.equal(c.text(), `${GREETING}got one\r\ngot two\r\n`);
    assert.equal(Buffer.concat(app.received[accepted]).toString(), 'one\ntwo\n');
    c.s.end();
    await c.closed;
  });

  test('ext_authz deny: greeted, then closed at the first bytes with UAEX at the callee; the app never sees them', async () => {
    await push([custom]);
    const accepted = app.received.length;
    const seen = inboundEntries().length;
    const c = client(fromOther);
    await c.until(GREETING);
    c.s.write('HELO other\n');
    await c.closed;
    assert.equal(c.text(), GREETING);
    await eventually(() => (app.closed() >= accepted + 1 ? true : undefined), 'the app\'s connection to be closed');
    assert.deepEqual(app.received[accepted], []);
    const entry = await eventually(() => inboundEntries().slice(seen).find((e) => e.response_flags === 'UAEX'), 'the callee\'s UAEX entry');
    assert.equal(entry.proxy_error, 'ext_authz_denied');
    assert.equal(entry.bytes_received, 0);
    assert.equal(entry.bytes_sent, GREETING.length);
  });
});

describe('the ingress gateway\'s network RBAC on a Gateway TCP server, in front of a server-first app', { timeout: 20_000 }, () => {
  let mesh: TestMesh;
  let app: Awaited<ReturnType<typeof greeter>>;
  let port: number;
  const policies = (aps: Resource<'AuthorizationPolicy'>[]) => ({
    gateways: [gw('edge', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: port, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] }] } as Resource<'Gateway'>['spec'])],
    virtualServices: [vs('greeter', { hosts: ['*'], gateways: ['edge'], tcp: [{ route: [{ destination: { host: 'greeter', port: { number: 3306 } } }] }] })],
    authorizationPolicies: aps,
  });
  before(async () => {
    app = await greeter();
    port = await freePort();
    mesh = await startMeshFromSpec({
      services: [{ name: 'greeter', ports: [{ name: 'tcp-mysql', port: 3306 }], workloads: [{ name: 'greeter-v1', labels: { app: 'greeter' }, ports: { '3306': 1 } }] }],
    }, policies([]), { ingress: true, app: (w) => (w === 'greeter-v1' ? Promise.resolve(app) : undefined) });
  });
  after(async () => {
    await mesh?.close();
    app?.server.close();
  });

  test('DENY at the gateway: the workload\'s greeting reaches the client through the gateway, its first write closes the connection, and the app never sees it', async () => {
    await mesh.push(policies([atIngress('no-local-tcp', { action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['127.0.0.0/8'] } }] }] })]));
    const denied = mesh.ingress!.stats.get('rbac.tcp.denied');
    const accepted = app.received.length;
    const c = client(port);
    await c.until(GREETING);
    assert.equal(mesh.ingress!.stats.get('rbac.tcp.denied'), denied);
    c.s.write('HELO outside\r\n');
    await c.closed;
    assert.equal(c.text(), GREETING);
    assert.equal(mesh.ingress!.stats.get('rbac.tcp.denied'), denied + 1);
    await eventually(() => (app.closed() >= accepted + 1 ? true : undefined), 'the app\'s connection to be closed');
    assert.deepEqual(app.received[accepted], []);
    const entry = await eventually(() => mesh.ingress!.accessLog.tail().find((e) => e.protocol === '-' && e.listener === 'ingress' && e.connection_termination_details !== '-'), 'the ingress\'s entry');
    assert.equal(entry.connection_termination_details, 'rbac_access_denied_matched_policy[istio-system/no-local-tcp]');
    assert.equal(entry.bytes_received, 0);
    assert.equal(entry.bytes_sent, GREETING.length);
    // The records say it connected upstream before the verdict closed it, as a caller's attempt does when the callee's RBAC closes it.
    const ingress = mesh.ingress!.tables().identity.name;
    const decisions = entry.decisions.filter((d) => d.step !== 'request');
    assert.deepEqual(decisions.map((d) => d.step), ['route', 'authz', 'attempt']);
    assert.deepEqual(decisions[1], { step: 'authz', proxy: ingress, allowed: false, action: 'DENY', reason: 'istio-system/no-local-tcp', rule: { kind: 'AuthorizationPolicy', namespace: 'istio-system', name: 'no-local-tcp', rule: 0 } });
    assert.deepEqual(decisions[2], { step: 'attempt', n: 1, endpoint: 'greeter-v1', result: 'connected', retried: false });
    assert.equal(entry.response_flags, '-');
    const callee = await eventually(() => mesh.sidecars.get('greeter-v1')!.accessLog.tail().find((e) => e.protocol === '-' && e.trace_id === entry.trace_id), 'the callee\'s entry of the tunnel');
    // devmesh explain walks the same: connected upstream, then closed on the first bytes.
    const walked = explainGatewayConnection(mesh.snapshot, { from: 'ingress', protocol: 'tcp', target: `127.0.0.1:${port}` });
    assert.equal(walked.outcomes.length, 1);
    assert.equal(walked.outcomes[0].kind, 'refused');
    assert.match(walked.outcomes[0].summary, /^connected upstream to greeter-v1, then closed by the ingress gateway .* on the client's first bytes: RBAC: access denied/);
    assert.deepEqual(walked.outcomes[0].records.filter((d) => d.step !== 'request' && d.step !== 'mtls'), decisions);
    assert.equal(judge(walked.outcomes, { status: 0, flags: entry.response_flags, outbound: entry.decisions, inbound: new Map([['greeter-v1', [callee.decisions]]]) }).agrees, true);
  });
});

const installed = !spawnSync('redis-server', ['--version']).error;

describe('a client-first protocol: Redis behind a DENY policy', { skip: installed ? false : 'redis-server not installed (apt-get install redis-server)' }, () => {
  let mesh: TestMesh;
  let local: number;
  const deny = ap('redis-deny-cart', { selector: { matchLabels: { app: 'redis' } }, action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/cart'] } }] }] });
  before(async () => {
    local = await freePort();
    mesh = await startMeshFromSpec({
      services: [
        { name: 'redis', ports: [{ name: 'redis', port: 6379 }], workloads: [{ name: 'redis-v1', port: 1 }] },
        { name: 'cart', port: 9190, workloads: [{ name: 'cart-v1', port: 2, upstreams: [{ service: 'redis', port: 6379, localPort: local }] }] },
      ],
    }, {}, { ingress: false, app: async (n) => (n === 'redis-v1' ? redisServer(await freePort()) : undefined) });
  });
  after(() => mesh?.close());

  const open = async () => {
    const s = net.connect({ host: '127.0.0.1', port: local });
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('connect', () => r()));
    return s;
  };

  test('the first command closes the connection and never reaches Redis; without the policy the key is unset', async () => {
    await mesh.push({ authorizationPolicies: [deny] });
    const s = await open();
    await assert.rejects(redisCommand(s, 'SET', 'first-bytes', 'leaked'), /closed before answering SET/);
    const entry = await eventually(() => mesh.sidecars.get('redis-v1')!.accessLog.tail().find((e) => e.protocol === '-' && e.connection_termination_details.startsWith('rbac_')), 'Redis\' sidecar entry');
    assert.equal(entry.connection_termination_details, 'rbac_access_denied_matched_policy[default/redis-deny-cart]');
    assert.equal(entry.bytes_received, 0);
    await mesh.push({ authorizationPolicies: [] });
    const again = await open();
    assert.equal(await redisCommand(again, 'GET', 'first-bytes'), null, 'the denied SET never ran');
    again.destroy();
  });
});
