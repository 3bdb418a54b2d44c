/**
 * The agreement property for gRPC: real unary calls from a grpc-js client
 * through the caller's sidecar (a local upstream port, as an app's channel
 * reaches it) to grpc-js servers behind their own sidecars, each walked
 * offline as `devmesh explain --from W grpc host:port/pkg.Svc/Method` walks
 * it. For each call the prediction must agree with what the sidecars
 * recorded: the route and rule, the fault, every attempt and the endpoint it
 * reached, the authorization verdict at the callee, the HTTP status the
 * caller's sidecar answered and the gRPC status the client got. Cases: a
 * VirtualService matching the method path and a header (weights 100/0 to
 * subsets), a fault abort with grpcStatus UNAVAILABLE, retries on
 * `unavailable` of an app that answers UNAVAILABLE (a unary call and a
 * server stream ended before any message), a route timeout; a
 * GRPCRoute on the Service (mesh attachment) matching service/method and a
 * header; an AuthorizationPolicy allowing one method only; and the
 * streaming calls (server, client and bidi streams with real grpc-js
 * streams) routed by their method path, aborted by a fault and denied by
 * method.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { explainRequest } from '../../simulator/explain/walk';
import { disagreement } from '../../simulator/explain/compare';
import { grpcCall } from '../../simulator/commands/explain';
import { grpcStatusName } from '../../simulator/policy/grpc-status';
import type { GRPCRouteRule, MeshSpec } from '../../simulator/policy/model';
import { ap, dr, startMeshFromSpec, vs, type Policies, type TestMesh } from '../sidecar/fixtures';
import { drain, echoClient, grpcEchoApp, say, statusOf, upstreamPort, type EchoMessage } from '../sidecar/grpc/fixtures';

type EchoClient = ReturnType<typeof echoClient>;
import { recorded } from './hops';

const RATINGS = ['ratings-v1', 'ratings-v2'];
const version = (w: string) => w.slice(w.lastIndexOf('-') + 1);
const SPEC: MeshSpec = {
  services: [
    { name: 'productpage', port: 9080, workloads: [{ name: 'productpage-v1', serviceAccount: 'productpage', port: 1 }] },
    { name: 'ratings', ports: [{ name: 'grpc', port: 9090 }], workloads: RATINGS.map((name) => ({ name, labels: { app: 'ratings', version: version(name) }, serviceAccount: 'ratings', ports: { 9090: 1 } })) },
    // One version as a Service of its own, for a GRPCRoute backendRef.
    { name: 'ratings-v2', ports: [{ name: 'grpc', port: 9090 }], selector: { app: 'ratings', version: 'v2' } },
  ],
};
const SAY = '/devmesh.test.Echo/Say';
const SUBSETS = dr('ratings', { host: 'ratings', subsets: RATINGS.map((w) => ({ name: version(w), labels: { version: version(w) } })) });
const to = (subset: string, weight?: number) => ({ destination: { host: 'ratings', subset }, ...(weight !== undefined ? { weight } : {}) });

/** A call as the test makes it: Echo/Say (or a streaming method) from productpage-v1 with this metadata; what the app is told to answer. */
interface Call { metadata?: Record<string, string>; app?: { grpcStatus?: number; delayMs?: number }; method?: keyof typeof STREAMS }

/**
 * The streaming calls, each made as an app makes it and ended as the app
 * sees it (its gRPC status): Watch (server stream of 3 messages), Collect
 * (client stream of 3), Chat (bidi, 3 each way).
 */
const STREAMS = {
  Watch: (c: EchoClient, md: grpc.Metadata) => drain(c.watch({ text: 'hi', count: 3 }, md)).then((r) => { if (r.status.code === grpc.status.OK) assert.equal(r.messages.length, 3); return r.status.code; }),
  Collect: (c: EchoClient, md: grpc.Metadata) => statusOf(new Promise((resolve, reject) => {
    const s = c.collect(md, {}, (e: grpc.ServiceError | null, r?: EchoMessage) => (e ? reject(e) : resolve(r)));
    for (let i = 0; i < 3; i++) s.write({ text: String(i) });
    s.end();
  })).then((s) => s.code),
  Chat: (c: EchoClient, md: grpc.Metadata) => new Promise<number>((resolve) => {
    const s = c.chat(md);
    const got: EchoMessage[] = [];
    s.on('data', (m: EchoMessage) => got.push(m));
    s.on('error', () => undefined);
    s.on('status', (st: grpc.StatusObject) => { if (st.code === grpc.status.OK) assert.equal(got.length, 3); resolve(st.code); });
    for (let i = 0; i < 3; i++) s.write({ text: String(i) });
    s.end();
  }),
};

describe('explain agrees with real sidecars on gRPC calls', { timeout: 120_000 }, () => {
  let mesh: TestMesh;
  let client: ReturnType<typeof echoClient>;
  let local: { close(): void };
  let n = 0;
  before(async () => {
    mesh = await startMeshFromSpec(SPEC, {}, { app: async (w) => (w.startsWith('ratings') ? grpcEchoApp(w) : undefined) });
    const up = await upstreamPort(mesh.sidecars.get('productpage-v1')!, { host: 'ratings', port: 9090 });
    local = up;
    client = echoClient(`127.0.0.1:${up.port}`);
  });
  after(async () => {
    client?.close();
    local?.close();
    await mesh?.close();
  });

  /**
   * Pushes `policies`, walks the call and makes it: some predicted outcome
   * agrees with the sidecars' records, HTTP status and gRPC status.
   * Returns the gRPC status and the endpoints the attempts reached.
   */
  async function agrees(policies: Policies, call: Call = {}): Promise<{ code: number; endpoints: string[] }> {
    await mesh.push(policies);
    const id = `grpc-${n++}`;
    const path = `/devmesh.test.Echo/${call.method ?? 'Say'}`;
    const target = grpcCall(`ratings:9090${path}`);
    assert.ok('url' in target);
    const headers = { 'content-type': 'application/grpc', te: 'trailers', ...call.metadata };
    const walked = explainRequest(mesh.snapshot, { from: 'productpage-v1', method: 'POST', url: target.url, headers, appStatus: 200, appGrpcStatus: call.app?.grpcStatus ?? grpc.status.OK, appDelayMs: call.app?.delayMs }, {});
    const candidates = walked.outcomes.filter((o) => o.probability > 0);
    const md = { ...call.metadata, 'x-request-id': id, ...(call.app?.grpcStatus !== undefined ? { 'fail-with': String(call.app.grpcStatus) } : {}), ...(call.app?.delayMs ? { 'sleep-ms': String(call.app.delayMs) } : {}) };
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(md)) metadata.set(k, v);
    const code = call.method ? await STREAMS[call.method](client, metadata) : (await statusOf(say(client, { text: id }, md))).code;
    const { entry: out, seen: hop } = await recorded(mesh, 'productpage-v1', id, RATINGS);
    const endpoints = out.decisions.flatMap((d) => (d.step === 'attempt' && d.endpoint ? [d.endpoint] : []));
    const seen = { ...hop, grpcStatus: code };
    // The walk knows the app's answer here, so every outcome names the gRPC status.
    const why = (o: (typeof candidates)[number]) => (o.grpcStatus === undefined ? 'no grpc-status predicted' : disagreement(o, seen));
    assert.ok(candidates.some((o) => why(o) === undefined), [
      `grpc ratings:9090${path} ${JSON.stringify(call)}: no predicted outcome agrees with what the sidecars did`,
      `sidecars: status ${seen.status} flags ${seen.flags} grpc-status ${code} ${grpcStatusName(code)}; outbound ${JSON.stringify(seen.outbound)}`,
      ...candidates.map((o) => `predicted ${(o.probability * 100).toFixed(1)} % (${why(o)}): ${o.summary} ${JSON.stringify(o.records)}`),
    ].join('\n'));
    assert.equal(out.grpc_status, grpcStatusName(code), 'the access log names the gRPC status the client got');
    return { code, endpoints };
  }

  test('a VirtualService rule matching the method path sends Say to the subset weighted 100 (0 to the other)', async () => {
    const policies: Policies = {
      destinationRules: [SUBSETS],
      virtualServices: [vs('ratings', { hosts: ['ratings'], http: [
        { name: 'other-methods', match: [{ uri: { exact: '/devmesh.test.Echo/Watch' } }], route: [to('v1')] },
        { name: 'say', match: [{ uri: { prefix: '/devmesh.test.Echo/S' } }], route: [to('v1', 0), to('v2', 100)] },
        { name: 'rest', route: [to('v1')] },
      ] })],
    };
    assert.deepEqual(await agrees(policies), { code: grpc.status.OK, endpoints: ['ratings-v2'] });
  });

  test('a VirtualService rule matching a metadata header sends the canary to v2, the rest to v1', async () => {
    const policies: Policies = {
      destinationRules: [SUBSETS],
      virtualServices: [vs('ratings', { hosts: ['ratings'], http: [
        { name: 'canary', match: [{ headers: { 'x-canary': { exact: 'yes' } }, uri: { exact: SAY } }], route: [to('v2')] },
        { name: 'rest', route: [to('v1')] },
      ] })],
    };
    assert.deepEqual(await agrees(policies, { metadata: { 'x-canary': 'yes' } }), { code: grpc.status.OK, endpoints: ['ratings-v2'] });
    assert.deepEqual(await agrees(policies, { metadata: { 'x-canary': 'no' } }), { code: grpc.status.OK, endpoints: ['ratings-v1'] });
  });

  test('a fault abort with grpcStatus UNAVAILABLE at 100 % answers for the app', async () => {
    const policies: Policies = {
      virtualServices: [vs('ratings', { hosts: ['ratings'], http: [{ name: 'abort', fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } }, route: [{ destination: { host: 'ratings' } }] }] })],
    };
    assert.deepEqual(await agrees(policies), { code: grpc.status.UNAVAILABLE, endpoints: [] });
  });

  test('retries on unavailable: an app answering UNAVAILABLE is tried 1 + attempts times, as predicted', async () => {
    const policies: Policies = {
      destinationRules: [SUBSETS],
      virtualServices: [vs('ratings', { hosts: ['ratings'], http: [{ name: 'retry', route: [to('v1')], retries: { attempts: 2, retryOn: 'unavailable' } }] })],
    };
    assert.deepEqual(await agrees(policies, { app: { grpcStatus: grpc.status.UNAVAILABLE } }), { code: grpc.status.UNAVAILABLE, endpoints: ['ratings-v1', 'ratings-v1', 'ratings-v1'] });
    // A status the policy does not name is not retried.
    assert.deepEqual(await agrees(policies, { app: { grpcStatus: grpc.status.NOT_FOUND } }), { code: grpc.status.NOT_FOUND, endpoints: ['ratings-v1'] });
    // A server stream the app ends with UNAVAILABLE before any message (trailers-only) is retried as a unary call.
    assert.deepEqual(await agrees(policies, { method: 'Watch', app: { grpcStatus: grpc.status.UNAVAILABLE } }), { code: grpc.status.UNAVAILABLE, endpoints: ['ratings-v1', 'ratings-v1', 'ratings-v1'] });
  });

  test('a route timeout shorter than the app takes ends the call with 504 UT (UNAVAILABLE to the client), as predicted from the app delay', async () => {
    const timed = (timeout: string): Policies => ({
      destinationRules: [SUBSETS],
      virtualServices: [vs('ratings', { hosts: ['ratings'], http: [{ name: 'timed', route: [to('v2')], timeout }] })],
    });
    assert.deepEqual(await agrees(timed('50ms'), { app: { delayMs: 400 } }), { code: grpc.status.UNAVAILABLE, endpoints: ['ratings-v2'] });
    // A timeout the app answers well within (a loaded machine included).
    assert.deepEqual(await agrees(timed('30s')), { code: grpc.status.OK, endpoints: ['ratings-v2'] });
  });

  test('a GRPCRoute on the Service matching service/method and a header sends the call to the ratings-v2 Service', async () => {
    const route = (rules: GRPCRouteRule[]): Policies => ({
      gatewayApi: [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'ratings', namespace: 'default' }, spec: { parentRefs: [{ group: '', kind: 'Service', name: 'ratings', port: 9090 }], rules } }],
    });
    const policies = route([
      { matches: [{ method: { service: 'devmesh.test.Echo', method: 'Say' }, headers: [{ name: 'x-canary', value: 'yes' }] }], backendRefs: [{ name: 'ratings-v2', port: 9090 }] },
      { matches: [{ method: { service: 'devmesh.test.Echo', method: 'Watch' } }], backendRefs: [{ name: 'ratings-v2', port: 9090 }] },
    ]);
    assert.deepEqual(await agrees(policies, { metadata: { 'x-canary': 'yes' } }), { code: grpc.status.OK, endpoints: ['ratings-v2'] });
  });

  test('streaming calls are routed by their method path: Watch (server stream) to v1, Chat (bidi) to v2, Collect (client stream) by the rest', async () => {
    const policies: Policies = {
      destinationRules: [SUBSETS],
      virtualServices: [vs('ratings', { hosts: ['ratings'], http: [
        { name: 'watch', match: [{ uri: { exact: '/devmesh.test.Echo/Watch' } }], route: [to('v1')] },
        { name: 'chat', match: [{ uri: { prefix: '/devmesh.test.Echo/Ch' } }], route: [to('v1', 0), to('v2', 100)] },
        { name: 'rest', route: [to('v2')] },
      ] })],
    };
    assert.deepEqual(await agrees(policies, { method: 'Watch' }), { code: grpc.status.OK, endpoints: ['ratings-v1'] });
    assert.deepEqual(await agrees(policies, { method: 'Chat' }), { code: grpc.status.OK, endpoints: ['ratings-v2'] });
    assert.deepEqual(await agrees(policies, { method: 'Collect' }), { code: grpc.status.OK, endpoints: ['ratings-v2'] });
  });

  test('a streaming call gets the fault abort and the authorization verdict as a unary one: UNAVAILABLE for Watch, PERMISSION_DENIED for Chat and Collect', async () => {
    const abort: Policies = {
      virtualServices: [vs('ratings', { hosts: ['ratings'], http: [{ name: 'abort', match: [{ uri: { exact: '/devmesh.test.Echo/Watch' } }], fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } }, route: [{ destination: { host: 'ratings' } }] }] })],
    };
    assert.deepEqual(await agrees(abort, { method: 'Watch' }), { code: grpc.status.UNAVAILABLE, endpoints: [] });
    const sayOnly: Policies = { authorizationPolicies: [ap('ratings-allow', { selector: { matchLabels: { app: 'ratings' } }, action: 'ALLOW', rules: [{ to: [{ operation: { paths: [SAY] } }] }] })] };
    assert.equal((await agrees(sayOnly, { method: 'Chat' })).code, grpc.status.PERMISSION_DENIED);
    assert.equal((await agrees(sayOnly, { method: 'Collect' })).code, grpc.status.PERMISSION_DENIED);
  });

  test('an AuthorizationPolicy allowing only another method denies Say: PERMISSION_DENIED, as predicted', async () => {
    const allow = (path: string): Policies => ({
      authorizationPolicies: [ap('ratings-allow', { selector: { matchLabels: { app: 'ratings' } }, action: 'ALLOW', rules: [{ to: [{ operation: { paths: [path] } }] }] })],
    });
    const denied = await agrees(allow('/devmesh.test.Echo/Watch'));
    assert.equal(denied.code, grpc.status.PERMISSION_DENIED);
    assert.equal((await agrees(allow(SAY))).code, grpc.status.OK);
  });
});
