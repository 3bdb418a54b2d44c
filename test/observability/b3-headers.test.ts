/**
 * The B3 headers a sidecar sends upstream, as Envoy's Zipkin tracer writes
 * them (Istio's zipkin provider, the default trace format), seen by a server
 * outside the mesh (a ServiceEntry host: no sidecar of its own rewrites
 * them). Envoy's tracer reads the sampling decision from `b3` or
 * `x-b3-sampled` only — "1" or "true" is sampled, any other value is not
 * (span_context_extractor.cc extractSampled) — and never reads `x-b3-flags`;
 * it injects x-b3-traceid, x-b3-spanid, x-b3-sampled, and x-b3-parentspanid
 * only when its span has a parent (ZipkinSpan::injectContext sets and never
 * removes): every other header the app sent goes on as it was.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { se, startMeshRetrying, type TestMesh } from '../sidecar/fixtures';
import { externalHttp, type ExternalServer } from '../sidecar/egress/fixtures';

const HOST = 'api.payments.example';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const STALE = 'a'.repeat(16);

describe('B3 headers a sidecar sends, as Envoy\'s Zipkin tracer injects them', { timeout: 60_000 }, () => {
  let mesh: TestMesh;
  let api: ExternalServer;

  before(async () => {
    api = await externalHttp('payments');
    mesh = await startMeshRetrying([{ name: 'frontend', workloads: [{ name: 'frontend-v1', labels: { app: 'frontend' } }] }], {
      serviceEntries: [se('payments', { hosts: [HOST], location: 'MESH_EXTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '127.0.0.1', ports: { http: api.port } }] })],
    });
  });
  after(async () => {
    await mesh?.close();
    await api?.close();
  });

  /** The headers the external server got for one call from frontend-v1 with `headers`. */
  async function sent(headers: Record<string, string>): Promise<Record<string, string | string[] | undefined>> {
    const before = api.seen.length;
    const r = await mesh.request('frontend-v1', { url: `http://${HOST}/charge`, headers });
    assert.equal(r.status, 200, r.text);
    assert.equal(api.seen.length, before + 1);
    return api.seen.at(-1)!.headers;
  }

  test('a root span (no context from the app) writes no x-b3-parentspanid and leaves one the app sent as it was', async () => {
    const h = await sent({ 'x-b3-parentspanid': STALE });
    assert.match(String(h['x-b3-traceid']), /^[0-9a-f]{32}$/);
    assert.match(String(h['x-b3-spanid']), /^[0-9a-f]{16}$/);
    assert.equal(h['x-b3-parentspanid'], STALE, 'Envoy sets x-b3-parentspanid only when its span has a parent, and removes none');
    const none = await sent({});
    assert.equal(none['x-b3-parentspanid'], undefined, 'a root span has no parent header of its own');
  });

  test('a child span writes the app\'s span as x-b3-parentspanid', async () => {
    const h = await sent({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-parentspanid': STALE, 'x-b3-sampled': '1' });
    assert.equal(h['x-b3-traceid'], TRACE);
    assert.equal(h['x-b3-parentspanid'], SPAN);
    assert.notEqual(h['x-b3-spanid'], SPAN);
  });

  test('x-b3-flags: 1 does not make a request sampled: x-b3-sampled decides, and x-b3-flags goes on as the app sent it', async () => {
    const h = await sent({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': '0', 'x-b3-flags': '1' });
    assert.equal(h['x-b3-sampled'], '0', 'Envoy\'s Zipkin tracer never reads x-b3-flags');
    assert.equal(h['x-b3-flags'], '1');
  });

  test('x-b3-sampled other than "1" or "true" (such as "d") is not sampled', async () => {
    assert.equal((await sent({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': 'd' }))['x-b3-sampled'], '0');
    assert.equal((await sent({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': 'true' }))['x-b3-sampled'], '1');
    // The single b3 header's "d" (debug) is sampled: Envoy reads it as 1.
    assert.equal((await sent({ b3: `${TRACE}-${SPAN}-d` }))['x-b3-sampled'], '1');
  });
});
