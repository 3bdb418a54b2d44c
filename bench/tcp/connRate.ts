/**
 * New TCP connections per second through a chain: `concurrency` loops, each
 * opening a connection, sending one line, reading the one-line answer and
 * closing, for `seconds` (after a one-second warm-up not counted). Runs as
 * its own process, pinned to the load CPU; prints one JSON line.
 *
 *   node connRate.js '{"port":1234,"seconds":4,"concurrency":16}'
 */
import * as net from 'node:net';

interface Args { port: number; seconds: number; concurrency: number; warmupSeconds?: number }
const a = JSON.parse(process.argv[2]) as Args;

let done = 0;
let errors = 0;
const latencies: number[] = [];
let counting = false;
let stop = false;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect({ host: '127.0.0.1', port: a.port });
    s.setNoDelay(true);
    let ok = false;
    s.on('connect', () => s.write('x\n'));
    s.on('data', () => { ok = true; s.end(); });
    s.on('error', () => undefined);
    s.on('close', () => {
      if (counting) {
        if (ok) { done++; latencies.push(performance.now() - t0); } else errors++;
      }
      resolve();
    });
  });
}

async function loop(): Promise<void> {
  while (!stop) await once();
}

async function main(): Promise<void> {
  const loops = Array.from({ length: a.concurrency }, () => loop());
  await new Promise((r) => setTimeout(r, (a.warmupSeconds ?? 1) * 1000));
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, a.seconds * 1000));
  counting = false;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(loops);
  latencies.sort((x, y) => x - y);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor((q / 100) * latencies.length))] ?? NaN;
  process.stdout.write(`${JSON.stringify({ perSecond: done / elapsed, connections: done, errors, p50Ms: p(50), p99Ms: p(99) })}\n`);
}

void main();
