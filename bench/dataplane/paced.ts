/**
 * An open-loop client at a fixed rate (what wrk2's -R does; wrk2 is not in
 * Debian). Request i is due at start + i/rate; its latency is measured from
 * that due time, not from when it was actually sent, so a stall in the
 * system under test shows up in every request it delayed (no coordinated
 * omission). The schedule is kept by a setImmediate loop that checks the
 * monotonic clock, so sends are late by at most one loop turn (tens of µs);
 * the loop spins one core, which the harness pins apart from the proxies.
 *
 *   node out/bench/dataplane/paced.js '{"port":N,"host":"svc","rate":1000,"seconds":10,"connections":32}'
 *   -> {"sent":..,"ok":..,"errors":..,"latenciesMs":[...]}   (one JSON line)
 */
import * as http from 'node:http';

export interface PacedOptions {
  port: number;
  host?: string;
  path?: string;
  rate: number;
  seconds: number;
  connections: number;
  warmupSeconds?: number;
  /** Also return each measured request's due time (epoch ms), to line slow requests up with a process's timeline (tail.ts). */
  timeline?: boolean;
}

export interface PacedResult {
  sent: number;
  ok: number;
  errors: number;
  /** Latency from due time, in ms, warm-up excluded. */
  latenciesMs: number[];
  /** How late sends were behind schedule, p99 (ms): the client's own accuracy. */
  sendLagP99Ms: number;
  /** With `timeline`: due time of each entry of `latenciesMs`, in epoch ms (performance.timeOrigin + now). */
  dueMs?: number[];
}

export function runPaced(o: PacedOptions): Promise<PacedResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections, maxFreeSockets: o.connections });
  const interval = 1000 / o.rate;
  const warm = (o.warmupSeconds ?? 1) * o.rate;
  const total = warm + o.seconds * o.rate;
  const latencies: number[] = [];
  const lags: number[] = [];
  const dues: number[] | undefined = o.timeline ? [] : undefined;
  let sent = 0;
  let done = 0;
  let ok = 0;
  let errors = 0;
  const headers = o.host ? { host: o.host } : {};
  return new Promise((resolve) => {
    const start = performance.now() + 50;
    const finish = () => {
      agent.destroy();
      lags.sort((a, b) => a - b);
      resolve({ sent, ok, errors, latenciesMs: latencies, sendLagP99Ms: lags[Math.floor(lags.length * 0.99)] ?? 0, ...(dues ? { dueMs: dues } : {}) });
    };
    const send = (i: number, due: number) => {
      const req = http.request({ host: '127.0.0.1', port: o.port, path: o.path ?? '/', headers, agent }, (res) => {
        res.on('data', () => {});
        res.on('end', () => {
          const ms = performance.now() - due;
          if (res.statusCode === 200) ok++;
          else errors++;
          if (i >= warm) {
            latencies.push(ms);
            dues?.push(performance.timeOrigin + due);
          }
          if (++done === total) finish();
        });
      });
      req.on('error', () => {
        errors++;
        if (++done === total) finish();
      });
      req.end();
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total) {
        const due = start + sent * interval;
        if (due > now) break;
        if (sent >= warm) lags.push(now - due);
        send(sent, due);
        sent++;
      }
      if (sent < total) setImmediate(tick);
    };
    setImmediate(tick);
  });
}

if (require.main === module) {
  const o = JSON.parse(process.argv[2]) as PacedOptions;
  void runPaced(o).then((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
}
