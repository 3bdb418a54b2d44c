/**
 * Overhead of tracing + Istio metrics on the request path: the same load
 * through a sidecar pair (client -> productpage's outbound listener -> mTLS
 * HTTP/2 -> reviews' inbound listener -> echo app), with observability on
 * (100 % sampling, metrics, telemetry batches) and off (the trace and metrics
 * filters left out). Rounds alternate off/on so drift hits both alike; all of
 * it runs in this one process, so the figures are relative, not absolute.
 */
import * as http from 'node:http';
import { percentile, type BenchResult } from './stats';
import { startMesh } from '../test/sidecar/fixtures';

const CONCURRENCY = 32;
const ROUND_MS = Number(process.env.BENCH_ROUND_MS) || 3_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 3;

async function load(port: number, ms: number): Promise<{ rps: number; latencies: number[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  const end = Date.now() + ms;
  const one = () => new Promise<void>((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, path: 'http://reviews:9080/reviews/0', headers: { host: 'reviews:9080' }, agent }, (res) => {
      res.resume();
      res.on('end', () => { latencies.push(performance.now() - t0); resolve(); });
    });
    req.on('error', reject);
    req.end();
  });
  const worker = async () => { while (Date.now() < end) await one(); };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const secs = (performance.now() - t0) / 1000;
  agent.destroy();
  return { rps: latencies.length / secs, latencies };
}

async function measure(observability: boolean): Promise<{ rps: number; latencies: number[] }> {
  const batches = { n: 0 };
  const mesh = await startMesh([
    { name: 'productpage', workloads: [{ name: 'productpage-v1', labels: { app: 'productpage', version: 'v1' } }] },
    { name: 'reviews', workloads: [{ name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' } }] },
  ], {}, { ingress: false, observability, send: (m) => { if (m.type === 'telemetry') batches.n++; } });
  try {
    const port = mesh.sidecars.get('productpage-v1')!.ports.outbound!;
    await load(port, 500); // warm-up: sessions, JIT
    return await load(port, ROUND_MS);
  } finally {
    await mesh.close();
  }
}

export async function benchObservability(): Promise<BenchResult> {
  const off: Array<{ rps: number; latencies: number[] }> = [];
  const on: Array<{ rps: number; latencies: number[] }> = [];
  for (let i = 0; i < ROUNDS; i++) {
    off.push(await measure(false));
    on.push(await measure(true));
  }
  const rps = (xs: typeof off) => xs.reduce((a, b) => a + b.rps, 0) / xs.length;
  const lat = (xs: typeof off, p: number) => percentile(xs.flatMap((x) => x.latencies), p);
  const rOff = rps(off), rOn = rps(on);
  return {
    name: `observability overhead (sidecar pair, ${CONCURRENCY} concurrent, ${ROUNDS} x ${ROUND_MS / 1000} s per mode)`,
    rows: [
      { what: 'throughput, tracing + metrics off', value: `${rOff.toFixed(0)} req/s`, target: 'baseline', ratio: '1.00' },
      { what: 'throughput, tracing (100 %) + metrics on', value: `${rOn.toFixed(0)} req/s`, target: '>= 0.90 x baseline', ratio: (rOn / rOff).toFixed(2) },
      { what: 'p50 latency off / on', value: `${lat(off, 50).toFixed(2)} / ${lat(on, 50).toFixed(2)} ms`, target: '-', ratio: (lat(on, 50) / lat(off, 50)).toFixed(2) },
      { what: 'p99 latency off / on', value: `${lat(off, 99).toFixed(2)} / ${lat(on, 99).toFixed(2)} ms`, target: '-', ratio: (lat(on, 99) / lat(off, 99)).toFixed(2) },
    ],
    notes: ['Load generator, both sidecars and the echo app share one Node process; spans are batched but not sent anywhere (no control plane), so IPC cost is not included.'],
  };
}
