/** The service for the connection-rate runs: answers each line with one line (Istio's tcp-echo, in Node). Prints {"port"} once listening. */
import * as net from 'node:net';

const server = net.createServer({ noDelay: true }, (s) => {
  s.on('error', () => s.destroy());
  s.on('data', (d) => { if (d.includes(10)) s.write('hello\n'); });
  s.on('end', () => s.end());
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port })}\n`));
