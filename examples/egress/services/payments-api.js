// A stand-in for an external payments API, on 127.0.0.1:9490 (PORT to change it).
// Start it yourself: devmesh does not run hosts outside the mesh.
const http = require('node:http');

const port = Number(process.env.PORT || 9490);
let charges = 0;
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    charges += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ charged: true, charge: charges, host: req.headers.host }));
  });
}).listen(port, '127.0.0.1', () => console.log(`payments API on http://127.0.0.1:${port}`));
