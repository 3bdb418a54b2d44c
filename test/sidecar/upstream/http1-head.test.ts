/**
 * The request head to the app, rendered from flat header lines
 * (upstream/http1.ts `headerLines`), says what Node's own rendering of the
 * same headers object says: compared on a real socket, line by line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { headerLines } from '../../../simulator/sidecar/upstream/http1';

/** The head lines a raw server receives for one request, lowercased and sorted (order and case carry no meaning). */
async function headOf(method: string, headers: http.OutgoingHttpHeaders | string[], body?: string): Promise<string[]> {
  let resolve!: (lines: string[]) => void;
  const got = new Promise<string[]>((r) => { resolve = r; });
  const server = net.createServer((socket) => {
    let buf = '';
    socket.on('data', (c) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      resolve(buf.slice(0, end).split('\r\n').map((l) => l.toLowerCase()).sort());
      socket.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const req = http.request({ host: '127.0.0.1', port, method, path: '/p?q=1', headers, agent: false });
  req.on('response', (res) => res.resume());
  req.on('error', () => undefined);
  if (body !== undefined) req.write(body);
  req.end();
  const lines = await got;
  server.close();
  return lines;
}

describe('the request head to the app', () => {
  for (const [name, method, headers, body] of [
    ['a GET', 'GET', { host: 'reviews:9080', 'user-agent': 'curl/8', 'x-request-id': 'rid-1' }, undefined],
    ['a POST without a body', 'POST', { host: 'reviews:9080', 'x-b3-sampled': '1' }, undefined],
    ['a DELETE without a body', 'DELETE', { host: 'reviews:9080' }, undefined],
    ['a PUT with a body of unknown length', 'PUT', { host: 'reviews:9080' }, 'abc'],
    ['a POST with its length', 'POST', { host: 'reviews:9080', 'content-length': '3' }, 'abc'],
    ['a header sent as two lines', 'GET', { host: 'reviews:9080', 'x-multi': ['a', 'b'] }, undefined],
  ] as Array<[string, string, http.OutgoingHttpHeaders, string | undefined]>) {
    test(`${name}: the same header lines as Node renders from the headers object`, async () => {
      const fromObject = await headOf(method, { ...headers }, body);
      const fromLines = await headOf(method, headerLines({ ...headers }, method, body !== undefined), body);
      assert.deepEqual(fromLines, fromObject);
    });
  }

  test('a header Node refuses is refused from the flat form too', () => {
    assert.throws(() => http.request({ host: '127.0.0.1', port: 1, headers: headerLines({ 'x-bad': 'a\r\nb' }, 'GET', false), agent: false }), /Invalid character/);
  });
});
