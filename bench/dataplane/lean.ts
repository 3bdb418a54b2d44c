/**
 * The lean baseline for the data plane (issue 8): the smallest honest Node
 * sidecar pair, in one process as devmesh's default layout runs its two
 * sidecars:
 *
 *   wrk -> HTTP/1.1 server -> one `http2.connect` mTLS session -> http2 secure
 *   server ('stream' core API) -> `http.request` keep-alive Agent -> service
 *
 * Certificates from devmesh's own CA (`createCa`), client certificate
 * required and verified. Bodies are written directly (`data` -> write, `end`
 * -> end, pause on a full buffer); hop-by-hop headers stripped both ways. No
 * filters, routing, telemetry, timeouts or retries: what the Node HTTP stack
 * costs when used plainly, so devmesh can be measured against it.
 *
 *   node out/bench/dataplane/lean.js <servicePort>  ->  prints {"port": N} on stdout
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import type { Writable, Readable } from 'node:stream';
import { createCa } from '../../simulator/control/ca';

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings']);

function copy(src: Readable, dst: Writable, onEnd: () => void): void {
  src.on('data', (chunk: Buffer) => { if (!dst.write(chunk)) { src.pause(); dst.once('drain', () => src.resume()); } });
  src.once('end', onEnd);
}

export interface LeanPair { port: number; close(): void }

export async function startLeanPair(servicePort: number): Promise<LeanPair> {
  const ca = createCa({ trustDomain: 'cluster.local' });
  const client = ca.issue('spiffe://cluster.local/ns/default/sa/lean-client');
  const server = ca.issue('spiffe://cluster.local/ns/default/sa/lean-server');

  // ---- callee side: mTLS HTTP/2 in, HTTP/1.1 keep-alive to the service ----
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256 });
  const inbound = http2.createSecureServer({
    key: server.keyPem, cert: server.certPem, ca: server.caPem, requestCert: true, rejectUnauthorized: true,
    settings: { initialWindowSize: 1 << 20 },
  });
  inbound.on('stream', (stream, h) => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const k in h) if (k[0] !== ':') headers[k] = h[k];
    headers.host = h[':authority'];
    const req = http.request({ host: '127.0.0.1', port: servicePort, method: h[':method'] as string, path: h[':path'] as string, headers, agent }, (res) => {
      const out: http2.OutgoingHttpHeaders = { ':status': res.statusCode ?? 502 };
      for (const k in res.headers) if (!HOP.has(k)) out[k] = res.headers[k];
      if (stream.destroyed) return res.destroy();
      stream.respond(out);
      copy(res, stream, () => stream.end());
    });
    req.on('error', () => { if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR); });
    stream.on('error', () => req.destroy());
    if (stream.endAfterHeaders) req.end();
    else copy(stream, req, () => req.end());
  });
  inbound.on('session', (s) => s.on('connect', () => s.setLocalWindowSize(16 << 20)));
  await new Promise<void>((r) => inbound.listen(0, '127.0.0.1', r));
  const inboundPort = (inbound.address() as AddressInfo).port;

  // ---- caller side: HTTP/1.1 in, one HTTP/2 mTLS session out ----
  let session: http2.ClientHttp2Session | undefined;
  const connect = () => {
    const s = http2.connect(`https://127.0.0.1:${inboundPort}`, {
      key: client.keyPem, cert: client.certPem, ca: client.caPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined,
      settings: { initialWindowSize: 1 << 20, enablePush: false },
      // Nagle off, as devmesh does (a lone request's frames would wait for the peer's delayed ACK).
      createConnection: (_url: URL, opts: http2.SessionOptions) => {
        const socket = tls.connect({ ...(opts as tls.ConnectionOptions), host: '127.0.0.1', port: inboundPort, servername: undefined });
        socket.setNoDelay(true);
        return socket;
      },
    });
    s.on('connect', () => s.setLocalWindowSize(16 << 20));
    s.on('error', (e) => process.stderr.write(`lean: session error ${e.message}\n`));
    s.on('close', () => { if (session === s) session = undefined; });
    s.on('goaway', () => { if (session === s) session = undefined; });
    return s;
  };
  const outbound = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
    session ??= connect();
    const headers: http2.OutgoingHttpHeaders = { ':method': req.method, ':path': req.url, ':authority': req.headers.host, ':scheme': 'https' };
    for (const k in req.headers) if (!HOP.has(k)) headers[k] = req.headers[k];
    const noBody = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
    const stream = session.request(headers, { endStream: noBody });
    stream.on('response', (h) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const k in h) if (k[0] !== ':') out[k] = h[k];
      res.writeHead(Number(h[':status']), out);
      copy(stream, res, () => res.end());
    });
    stream.on('error', () => { if (!res.headersSent) { res.writeHead(502); res.end(); } else res.destroy(); });
    res.on('close', () => { if (!res.writableFinished && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL); });
    if (!noBody) copy(req, stream, () => stream.end());
  });
  await new Promise<void>((r) => outbound.listen(0, '127.0.0.1', r));
  return {
    port: (outbound.address() as AddressInfo).port,
    close() { session?.close(); outbound.close(); inbound.close(); agent.destroy(); },
  };
}

if (require.main === module) {
  void startLeanPair(Number(process.argv[2])).then((p) => process.stdout.write(`${JSON.stringify({ port: p.port })}\n`));
  // The harness died without stopping us: do not linger on the CPU we were pinned to.
  const parent = process.ppid;
  // Exit normally on a signal, so `--cpu-prof` can write its profile.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(0));
  setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
}
