'use strict';
/**
 * The few lines a Node service needs to live in devmesh (no dependencies):
 * listen on $PORT, send calls to other services through the sidecar's
 * outbound listener, and forward the trace headers so the mesh can stitch
 * hops into one trace (Istio asks the same of every app).
 *
 * Node's http and fetch ignore HTTP_PROXY before Node 24, so calls go to
 * DEVMESH_OUTBOUND explicitly, in proxy form: `GET http://reviews:9080/...`.
 */
const http = require('node:http');

/** Headers an app must copy from the request it serves onto the calls it makes. */
const FORWARD_HEADERS = [
  'x-request-id', 'traceparent', 'tracestate',
  'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3',
  'x-ot-span-context', 'end-user', 'user-agent', 'cookie',
];

function forwardHeaders(req, extra = {}) {
  const out = {};
  for (const h of FORWARD_HEADERS) if (req.headers[h] !== undefined) out[h] = req.headers[h];
  return Object.assign(out, extra);
}

const proxy = process.env.DEVMESH_OUTBOUND || process.env.HTTP_PROXY || process.env.http_proxy || '';
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * GETs `http://<service>:<port><path>` through the mesh and resolves with
 * { status, body } (body parsed as JSON when it is JSON). Rejects on a network
 * error or when `timeoutMs` passes, like requests' `timeout=` in Bookinfo.
 */
function callService(url, headers, timeoutMs) {
  const target = new URL(url);
  const via = proxy ? new URL(proxy) : null;
  const options = via
    ? { host: via.hostname, port: via.port, path: target.href, headers: { ...headers, host: target.host } }
    : { host: target.hostname, port: target.port, path: target.pathname + target.search, headers };
  return new Promise((resolve, reject) => {
    const req = http.get({ ...options, agent }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => {
        clearTimeout(timer);
        let body = data;
        if (/json/.test(res.headers['content-type'] || '')) { try { body = JSON.parse(data); } catch { /* leave text */ } }
        resolve({ status: res.statusCode, headers: res.headers, body });
      });
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    const timer = setTimeout(() => req.destroy(new Error(`timeout after ${timeoutMs} ms calling ${url}`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Listens on 127.0.0.1:$PORT and exits cleanly on SIGTERM (what devmesh sends on Ctrl-C).
 * A workload with more container ports gets each as PORT_<targetPort>; every one
 * other than PORT serves a small admin endpoint (GET /health), as an app's
 * metrics or admin port would.
 */
function serve(name, handler) {
  const port = Number(process.env.PORT);
  if (!port) { console.error(`${name}: PORT is not set (devmesh sets it from the workload's port)`); process.exit(2); }
  const server = http.createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((err) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(err && err.message || err) });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => console.log(`${name} listening on 127.0.0.1:${port}`));
  const admins = adminPorts(port).map((admin) => {
    const s = http.createServer((req, res) => sendJson(res, req.url === '/health' ? 200 : 404, req.url === '/health' ? { status: `${name} is healthy`, workload: podName(), port: admin } : { error: 'admin port: GET /health' }));
    s.listen(admin, '127.0.0.1', () => console.log(`${name} admin listening on 127.0.0.1:${admin}`));
    return s;
  });
  const stop = () => { for (const a of admins) a.close(); server.close(() => process.exit(0)); server.closeIdleConnections(); setTimeout(() => process.exit(0), 1000).unref(); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return server;
}

/** The local ports devmesh gives as PORT_<targetPort> besides PORT. */
function adminPorts(port) {
  return [...new Set(Object.entries(process.env).filter(([k]) => /^PORT_./.test(k)).map(([, v]) => Number(v)))].filter((p) => p && p !== port);
}

/** The workload's name, shown like Bookinfo's pod name ("Reviews served by: reviews-v2"). */
const podName = () => process.env.DEVMESH_WORKLOAD || process.env.HOSTNAME || 'local';

module.exports = { FORWARD_HEADERS, forwardHeaders, callService, sendJson, serve, podName };
