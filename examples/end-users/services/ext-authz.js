'use strict';
// An external authorizer that behaves like Istio's samples/extauthz (HTTP
// API): a check request with the header `x-ext-authz: allow` is allowed
// (200), any other is denied (403) with the sample's body. Both answers say
// what was decided in `x-ext-authz-check-result` and what was received in
// `x-ext-authz-check-received`, and echo `x-ext-authz-additional-header-override`.
// Run it as a Mesh workload, or on its own: PORT=9300 node ext-authz.js
const http = require('node:http');

const port = Number(process.env.PORT);
if (!port) { console.error('ext-authz: PORT is not set (devmesh sets it from the workload\'s port)'); process.exit(2); }

const CHECK_HEADER = 'x-ext-authz';
const ALLOWED_VALUE = 'allow';
const DENY_BODY = `denied by ext_authz for not found header \`${CHECK_HEADER}: ${ALLOWED_VALUE}\` in the request`;

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const received = `${req.method} ${req.headers.host}${req.url}, headers: ${JSON.stringify(req.headers)}`;
    const allowed = req.headers[CHECK_HEADER] === ALLOWED_VALUE;
    console.log(`[HTTP][${allowed ? 'allowed' : 'denied'}]: ${received}`);
    res.setHeader('x-ext-authz-check-result', allowed ? 'allowed' : 'denied');
    res.setHeader('x-ext-authz-additional-header-override', req.headers['x-ext-authz-additional-header-override'] ?? '');
    res.setHeader('x-ext-authz-check-received', received.replace(/[^\x20-\x7e]/g, '?'));
    if (allowed) {
      res.writeHead(200);
      res.end();
    } else {
      res.writeHead(403);
      res.end(DENY_BODY);
    }
  });
});
server.listen(port, '127.0.0.1', () => console.log(`Starting HTTP server at 127.0.0.1:${port}`));
const stop = () => { server.close(() => process.exit(0)); server.closeIdleConnections(); setTimeout(() => process.exit(0), 1000).unref(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
