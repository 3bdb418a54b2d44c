/**
 * The benchmarked service: a plain Node HTTP server on 127.0.0.1 answering
 * `/` with ~100 bytes and `/big` with 64 KiB, keep-alive. Run as its own
 * process (pinned by the harness) so its CPU is counted apart from the proxies.
 *
 *   node out/bench/dataplane/service.js  ->  prints {"port": N} on stdout
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

const SMALL = Buffer.from(`${JSON.stringify({ service: 'bench', status: 'ok', items: [1, 2, 3], note: 'a hundred bytes or so of json body' })}\n`);
const BIG = Buffer.alloc(64 * 1024, 'x');

export function startService(port = 0): Promise<http.Server> {
  const server = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
    const body = req.url === '/big' ? BIG : SMALL;
    // Drain any request body before answering, as a real service would.
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (require.main === module) {
  void startService(Number(process.argv[2] ?? 0)).then((s) => {
    process.stdout.write(`${JSON.stringify({ port: (s.address() as AddressInfo).port, bytes: SMALL.length })}\n`);
  });
  // The harness died without stopping us (timeout, Ctrl-C): do not linger on the CPU we were pinned to.
  const parent = process.ppid;
  setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
}
