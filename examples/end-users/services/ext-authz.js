'use strict';
// An external authorizer that behaves like Istio's samples/extauthz (HTTP
// API): a check request with the header `x-ext-authz: allow` is allowed
// (200), any other is denied (403) with the sample's body. Both answers say
// what was decided in `x-ext-authz-check-result` and what was received in
// `x-ext-authz-check-received`, and echo `x-ext-authz-additional-header-override`.
// Like the sample it also serves the gRPC API (envoy.service.auth.v3
// Authorization/Check) on a second port, PORT_9000 (devmesh sets it from the
// workload's container port 9000): the same header decides, and a check
// without it is allowed when the source principal's service account is
// ALLOW_SERVICE_ACCOUNT (default "a"), as the sample's -allow_service_account.
// Run it as a Mesh workload, or on its own: PORT=9300 [PORT_9000=9301] node ext-authz.js
const http = require('node:http');
const http2 = require('node:http2');

const port = Number(process.env.PORT);
if (!port) { console.error('ext-authz: PORT is not set (devmesh sets it from the workload\'s port)'); process.exit(2); }
const grpcPort = Number(process.env.PORT_9000);
const allowServiceAccount = process.env.ALLOW_SERVICE_ACCOUNT || 'a';

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

// --- gRPC: a few lines of protobuf instead of a dependency (only the fields the sample reads and writes).

/** The fields of one protobuf message: number -> values (varints as numbers, length-delimited as Buffers). */
function fields(buf) {
  const out = new Map();
  let i = 0;
  const varint = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[i++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    let value;
    switch (key & 7) {
      case 0: value = varint(); break;
      case 1: value = buf.subarray(i, i + 8); i += 8; break;
      case 2: { const n = varint(); value = buf.subarray(i, i + n); i += n; break; }
      case 5: value = buf.subarray(i, i + 4); i += 4; break;
      default: throw new Error(`unsupported wire type ${key & 7}`);
    }
    if (!out.has(no)) out.set(no, []);
    out.get(no).push(value);
  }
  return out;
}
const one = (f, no) => (f.get(no) ?? [])[0];
const text = (f, no) => (one(f, no) ?? Buffer.alloc(0)).toString('utf8');

const varintBytes = (v) => { const b = []; do { let x = v % 128; v = Math.floor(v / 128); if (v) x |= 0x80; b.push(x); } while (v); return Buffer.from(b); };
const tag = (no, type) => varintBytes(no * 8 + type);
const int = (no, v) => (v ? Buffer.concat([tag(no, 0), varintBytes(v)]) : Buffer.alloc(0));
const bytes = (no, v) => { const b = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8'); return Buffer.concat([tag(no, 2), varintBytes(b.length), b]); };
// HeaderValueOption { header: HeaderValue { key, value } }
const header = (key, value) => bytes(1, Buffer.concat([bytes(1, key), bytes(2, value)]));

/** CheckRequest.attributes: the source principal and the request's method, host, path and headers. */
function readCheck(message) {
  const attrs = fields(one(fields(message), 1) ?? Buffer.alloc(0));
  const source = fields(one(attrs, 1) ?? Buffer.alloc(0));
  const httpReq = fields(one(fields(one(attrs, 4) ?? Buffer.alloc(0)), 2) ?? Buffer.alloc(0));
  const headers = {};
  for (const entry of httpReq.get(3) ?? []) { const e = fields(entry); headers[text(e, 1)] = text(e, 2); }
  return { principal: text(source, 4), method: text(httpReq, 2), path: text(httpReq, 4), host: text(httpReq, 5), headers };
}

/** The sample's CheckResponse: OK with ok_response headers, or PERMISSION_DENIED with a 403 denied_response. */
function checkResponse(allowed, received) {
  const headers = Buffer.concat([
    bytes(2, header('x-ext-authz-check-result', allowed ? 'allowed' : 'denied')),
    bytes(2, header('x-ext-authz-check-received', received)),
    bytes(2, header('x-ext-authz-additional-header-override', 'grpc-additional-header-override-value')),
  ]);
  const status = bytes(1, int(1, allowed ? 0 : 7));
  if (allowed) return Buffer.concat([status, bytes(3, headers)]);
  return Buffer.concat([status, bytes(2, Buffer.concat([bytes(1, int(1, 403)), headers, bytes(3, DENY_BODY)]))]);
}

const grpcServer = http2.createServer();
grpcServer.on('stream', (stream, h) => {
  if (h[':path'] !== '/envoy.service.auth.v3.Authorization/Check') {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': `unknown method ${h[':path']}` }, { endStream: true });
    return;
  }
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => {
    const framed = Buffer.concat(chunks);
    const check = readCheck(framed.subarray(5, 5 + framed.readUInt32BE(1)));
    const value = check.headers[CHECK_HEADER];
    const allowed = value !== undefined ? value === ALLOWED_VALUE : check.principal.endsWith(`/sa/${allowServiceAccount}`);
    const received = `${check.method} ${check.host}${check.path}, principal: ${check.principal}, headers: ${JSON.stringify(check.headers)}`;
    console.log(`[gRPCv3][${allowed ? 'allowed' : 'denied'}]: ${received}`);
    const answer = checkResponse(allowed, received.replace(/[^\x20-\x7e]/g, '?'));
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(answer.length, 1);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(Buffer.concat([frame, answer]));
  });
});
if (grpcPort) grpcServer.listen(grpcPort, '127.0.0.1', () => console.log(`Starting gRPC server at 127.0.0.1:${grpcPort}`));

const stop = () => {
  if (grpcServer.listening) grpcServer.close();
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
