/**
 * The Bookinfo demo itself (examples/bookinfo, what `npm run demo` runs) on
 * free ports: productpage calls details over gRPC (grpc-js through
 * grpc_proxy), ratings keeps its stars in a real redis-server reached by its
 * local upstream port, and the topology draws those hops as a gRPC edge and
 * a TCP edge. Where redis-server or grpc-js cannot be found, the demo still
 * comes up and the page says what is missing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Topology, WorkloadEdge } from '../../simulator/control/api/contract';
import { redisCli } from '../sidecar/l4/fixtures';
import { bookinfoDemoCopy, REPO, removeDir, startUp, viaProxy, waitFor, waitReady, withOutput, type DemoCopy, type UpProcess } from './helpers';

const redisInstalled = !spawnSync('redis-server', ['--version']).error;
/** Where a clone's demo finds grpc-js; a temp copy needs it said. */
const NODE_PATH = path.join(REPO, 'node_modules');

async function edgeOf(up: UpProcess, source: string, destination: string, ready: (e: WorkloadEdge) => boolean): Promise<WorkloadEdge> {
  return waitFor(`the edge ${source} -> ${destination}`, async () => {
    const t = await (await up.api('/api/topology')).json() as Topology;
    const e = t.edges.find((x) => x.source === source && x.destination === destination);
    return e && ready(e) ? e : undefined;
  }, 8_000).catch(withOutput(up));
}

describe('the Bookinfo demo: a gRPC hop and a TCP hop', () => {
  let demo: DemoCopy;
  let up: UpProcess;
  before(async () => {
    demo = await bookinfoDemoCopy();
    up = startUp(demo.meshFile, { NODE_PATH });
    await waitReady(up, demo.meshFile);
  });
  after(async () => { await up?.stop(); if (demo) removeDir(demo.dir); });

  test('the page has the book details, fetched over gRPC, and jason sees reviews v2 with black stars', async () => {
    const page = await viaProxy(demo.ingressPort, 'http://productpage:9080/productpage', { cookie: 'user=jason' });
    assert.equal(page.status, 200);
    assert.match(page.body, /<h4>Book Details<\/h4>/, page.body);
    assert.match(page.body, /<dt>ISBN-10:<\/dt><dd>1234567890<\/dd>/);
    assert.match(page.body, /Reviews served by:<\/dt><dd><u>reviews-v2<\/u>/);
    assert.match(page.body, /<font color="black" class="stars stars-black">/);
  });

  test('the topology draws productpage-v1 -> details-v1 as gRPC and ratings-v1 -> redis-v1 as TCP (connections and bytes) over mTLS', async () => {
    await viaProxy(demo.ingressPort, 'http://productpage:9080/productpage', { cookie: 'user=jason' });
    const grpc = await edgeOf(up, 'productpage-v1', 'details-v1', (e) => e.requests > 0);
    assert.deepEqual(grpc.protocols, ['grpc']);
    assert.equal(grpc.mtlsShare, 1);
    assert.equal(grpc.errors, 0);
    const http = await edgeOf(up, 'reviews-v2', 'ratings-v1', (e) => e.requests > 0);
    assert.deepEqual(http.protocols, ['http']);
    const tcp = await edgeOf(up, 'ratings-v1', 'redis-v1', (e) => (e.tcp?.bytes ?? 0) > 0 && (e.tcp?.connections ?? 0) > 0);
    assert.deepEqual(tcp.protocols, ['tcp']);
    assert.equal(tcp.service, 'redis');
    assert.equal(tcp.mtlsShare, 1, 'the TCP hop is inside mTLS');
    assert.equal(tcp.requests, 0);
    assert.equal(tcp.tcp!.failed, 0);
  });

  test('Istio\'s tasks keep their outcomes on the demo: all-v1, then ratings aborted for jason, then 50/50 to v3', async () => {
    const task = (f: string) => readFileSync(path.join(REPO, 'examples', 'bookinfo-tasks', f), 'utf8');
    const apply = async (text: string) => {
      const before = (await (await up.api('/api/topology')).json() as Topology).version;
      writeFileSync(path.join(demo.dir, 'policies', 'routing.yaml'), text);
      await waitFor('every sidecar to apply the task', async () => {
        const t = await (await up.api('/api/topology')).json() as Topology;
        return t.version > before && t.workloads.every((w) => w.configVersion === t.version);
      }).catch(withOutput(up));
    };
    const page = (user?: string) => viaProxy(demo.ingressPort, 'http://productpage:9080/productpage', user ? { cookie: `user=${user}` } : {}).then((r) => r.body);
    await apply(task('virtual-service-all-v1.yaml'));
    assert.match(await page('jason'), /Reviews served by:<\/dt><dd><u>reviews-v1<\/u>/);
    await apply(task('virtual-service-ratings-test-abort.yaml'));
    const jason = await page('jason');
    assert.match(jason, /Ratings service is currently unavailable/);
    assert.match(jason, /<h4>Book Details<\/h4>/);
    await apply(task('virtual-service-reviews-50-v3.yaml'));
    const served = new Set<string>();
    for (let i = 0; i < 20; i++) served.add(/Reviews served by:<\/dt><dd><u>(reviews-v\d)<\/u>/.exec(await page())?.[1] ?? 'none');
    assert.deepEqual([...served].sort(), ['reviews-v1', 'reviews-v3']);
    await apply(readFileSync(path.join(REPO, 'examples', 'bookinfo', 'policies', 'routing.yaml'), 'utf8'));
  });

  test('ratings reads its stars from Redis: they are in redis-server, and an edit there shows on the page', { skip: redisInstalled ? false : 'redis-server not installed (apt-get install redis-server)' }, async () => {
    const local = demo.upstreamPorts['ratings-v1:redis'];
    await viaProxy(demo.ingressPort, 'http://productpage:9080/productpage', { cookie: 'user=jason' });
    // redis-cli on ratings-v1's local upstream port, as the README's demo section does.
    assert.deepEqual(await redisCli(local, 'HGET', 'ratings:0', 'Reviewer1'), { out: '5', code: 0 });
    assert.deepEqual(await redisCli(local, 'HSET', 'ratings:0', 'Reviewer1', '2'), { out: '0', code: 0 });
    const r = await viaProxy(demo.ingressPort, 'http://productpage:9080/api/v1/products/0/reviews', { cookie: 'user=jason' });
    assert.deepEqual((JSON.parse(r.body) as { reviews: Array<{ rating: unknown }> }).reviews[0].rating, { stars: 2, color: 'black' });
  });
});

describe('the Bookinfo demo without redis-server and without grpc-js', () => {
  let demo: DemoCopy;
  let up: UpProcess;
  before(async () => {
    demo = await bookinfoDemoCopy('devmesh-demo-bare-');
    // A temp copy finds no node_modules (no NODE_PATH), and REDIS_SERVER names no program.
    up = startUp(demo.meshFile, { REDIS_SERVER: path.join(demo.dir, 'no-such-redis-server'), NODE_PATH: '' });
    await waitReady(up, demo.meshFile);
  });
  after(async () => { await up?.stop(); if (demo) removeDir(demo.dir); });

  test('comes up; the page renders reviews with the built-in stars and says details are unavailable, and each hop says what to install', async () => {
    const page = await viaProxy(demo.ingressPort, 'http://productpage:9080/productpage', { cookie: 'user=jason' });
    assert.equal(page.status, 200);
    assert.match(page.body, /Sorry, product details are currently unavailable/);
    assert.match(page.body, /<font color="black" class="stars stars-black">/, 'ratings still answers, from its built-in stars');
    const ratings = await fetch(`http://127.0.0.1:${demo.appPorts['ratings-v1']}/ratings/0`).then((r) => r.json()) as { store: string; storeError?: string };
    assert.equal(ratings.store, 'built-in');
    assert.match(ratings.storeError ?? '', /redis-server is not installed here .*apt-get install redis-server/);
    await waitFor('productpage and details to say grpc-js is missing', () => /details: @grpc\/grpc-js and @grpc\/proto-loader cannot be loaded/.test(up.output()) && /productpage: cannot call details over gRPC/.test(up.output())).catch(withOutput(up));
  });
});
