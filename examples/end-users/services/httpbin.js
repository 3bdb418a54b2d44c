'use strict';
// A few of httpbin's endpoints, enough for Istio's security tasks: /headers
// echoes the request headers (what the app sees after the sidecar), /ip the
// caller's address, /user-agent, /status/<code>. No dependencies.
const http = require('node:http');

const port = Number(process.env.PORT);
if (!port) { console.error('httpbin: PORT is not set (devmesh sets it from the workload\'s port)'); process.exit(2); }

function send(res, status, value) {
  const body = JSON.stringify(value, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Header names as httpbin (Go's canonical form) prints them: X-Ext-Authz. */
const canonical = (name) => name.replace(/(^|-)([a-z])/g, (_m, dash, c) => dash + c.toUpperCase());

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://httpbin');
  if (url.pathname === '/headers') {
    const headers = {};
    for (const [name, value] of Object.entries(req.headers)) headers[canonical(name)] = Array.isArray(value) ? value.join(',') : value;
    return send(res, 200, { headers });
  }
  if (url.pathname === '/ip') return send(res, 200, { origin: req.socket.remoteAddress });
  if (url.pathname === '/user-agent') return send(res, 200, { 'user-agent': req.headers['user-agent'] });
  const status = /^\/status\/(\d{3})$/.exec(url.pathname);
  if (status) { res.writeHead(Number(status[1])); return res.end(); }
  send(res, 404, { error: `no such endpoint ${url.pathname}` });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log(`httpbin listening on 127.0.0.1:${port}`));
const stop = () => { server.close(() => process.exit(0)); server.closeIdleConnections(); setTimeout(() => process.exit(0), 1000).unref(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
