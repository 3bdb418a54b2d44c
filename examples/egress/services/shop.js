// The shop: GET /checkout charges the payments API, which is outside the mesh.
// It calls through its sidecar's outbound listener as an HTTP proxy
// (HTTP_PROXY, set by devmesh), naming the external host as written.
const http = require('node:http');

const proxy = new URL(process.env.HTTP_PROXY || 'http://127.0.0.1:15001');
const port = Number(process.env.PORT || 9480);

http.createServer((req, res) => {
  if (!req.url.startsWith('/checkout')) {
    res.writeHead(404).end('try /checkout\n');
    return;
  }
  const target = req.url === '/checkout/elsewhere' ? 'http://api.elsewhere.example/charge' : 'http://api.payments.example/charge';
  const call = http.request({ host: proxy.hostname, port: proxy.port, path: target, method: 'POST', headers: { host: new URL(target).host } }, (up) => {
    let body = '';
    up.on('data', (d) => (body += d));
    up.on('end', () => res.writeHead(up.statusCode, { 'content-type': 'text/plain' }).end(`payments answered ${up.statusCode}: ${body}\n`));
  });
  call.on('error', (err) => res.writeHead(502).end(`payments unreachable: ${err.message}\n`));
  call.end();
}).listen(port, '127.0.0.1');
