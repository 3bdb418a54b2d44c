'use strict';
/**
 * Bookinfo's details service: facts about the book, as JSON over HTTP, or
 * over gRPC (details.proto, with grpc-js) when DETAILS_PROTOCOL=grpc — the
 * demo's Mesh names its port `grpc`, so the sidecars carry HTTP/2 end to end.
 */
const http2 = require('node:http2');
const { serve, sendJson } = require('./lib/mesh');
const { detailsApi } = require('./lib/grpc');

function details(id) {
  return {
    id, author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200,
    publisher: 'PublisherA', language: 'English', 'ISBN-10': '1234567890', 'ISBN-13': '123-1234567890',
  };
}

function serveHttp() {
  serve('details', (req, res) => {
    const url = new URL(req.url, 'http://details');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'Details is healthy' });
    const m = /^\/details\/(\d+)$/.exec(url.pathname);
    if (m) return sendJson(res, 200, details(Number(m[1])));
    sendJson(res, 404, { error: 'please provide numeric product id' });
  });
}

function serveGrpc(port) {
  const api = detailsApi();
  if (api.error) return serveUnavailable(port, api.error);
  const server = new api.grpc.Server();
  server.addService(api.Details.service, {
    getDetails: (call, callback) => {
      const d = details(call.request.product_id);
      callback(null, { ...d, isbn_10: d['ISBN-10'], isbn_13: d['ISBN-13'] });
    },
  });
  server.bindAsync(`127.0.0.1:${port}`, api.grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) { console.error(`details: gRPC cannot listen on 127.0.0.1:${port}: ${err.message}`); process.exit(1); }
    console.log(`details (gRPC) listening on 127.0.0.1:${port}`);
  });
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Without grpc-js: still a gRPC server (h2c), whose every call fails UNAVAILABLE saying what to install. */
function serveUnavailable(port, reason) {
  console.error(`details: ${reason}; every gRPC call is answered UNAVAILABLE until then`);
  const server = http2.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': encodeURIComponent(`details: ${reason}`) });
    res.end();
  });
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}

const port = Number(process.env.PORT);
if (process.env.DETAILS_PROTOCOL === 'grpc' && port) serveGrpc(port);
else serveHttp();
