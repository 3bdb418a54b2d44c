'use strict';
/**
 * shop: an HTTPS server on $PORT with its own certificate ($CERT, $KEY,
 * relative to the Mesh file's folder), so a client of the Gateway's TLS
 * Passthrough listener sees it end to end: the ingress routes by the server
 * name and never decrypts.
 */
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');

const port = Number(process.env.PORT);
if (!port) { console.error('shop: PORT is not set (devmesh sets it from the workload\'s port)'); process.exit(2); }
const file = (name) => fs.readFileSync(path.resolve(process.cwd(), process.env[name] || ''), 'utf8');
const server = https.createServer({ cert: file('CERT'), key: file('KEY') }, (req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(`shop-v1: TLS terminated by the shop itself (server name ${req.socket.servername || '-'}), ${req.method} ${req.url}\n`);
});
server.listen(port, '127.0.0.1', () => console.log(`shop: https on 127.0.0.1:${port}`));
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => server.close(() => process.exit(0)));
