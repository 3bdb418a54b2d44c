/**
 * examples/gateway-api-l4 as `devmesh up` runs it (on free ports, in a temp
 * copy): an HTTPS client with SNI shop.example.com reaches shop through the
 * Gateway's TLS Passthrough listener and verifies shop's own certificate
 * with the example's CA; Redis answers through the TCP listener (PONG where
 * redis-server is installed, the stand-in's error otherwise), and through
 * the TLS Terminate listener with the certificate devmesh minted; `up` prints
 * where both listen and /api/config holds their status.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts, REPO, startUp, waitFor, waitReady, type UpProcess } from './helpers';

const EXAMPLE = path.join(REPO, 'examples', 'gateway-api-l4');

async function exampleOnFreePorts(): Promise<{ dir: string; meshFile: string; tls: number; redis: number; redisTls: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-gwl4-'));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !src.includes('.devmesh') });
  const fixed = [15400, 15480, 9443, 9479, 8443, 6380, 6381];
  const free = await freePorts(fixed.length);
  for (const file of ['mesh.yaml', path.join('policies', 'gateway.yaml')]) {
    let text = readFileSync(path.join(dir, file), 'utf8');
    fixed.forEach((p, i) => { text = text.replace(new RegExp(`\\b${p}\\b`, 'g'), String(free[i])); });
    text = text.replace('../bookinfo/services/redis.js', path.join(REPO, 'examples', 'bookinfo', 'services', 'redis.js'));
    writeFileSync(path.join(dir, file), text);
  }
  return { dir, meshFile: path.join(dir, 'mesh.yaml'), tls: free[4], redis: free[5], redisTls: free[6] };
}

/** One RESP command on a fresh connection (TLS to `servername` trusting `ca`, when given): the first line of the reply. */
function redisPing(port: number, over?: { servername: string; ca: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const ping = () => s.write('*1\r\n$4\r\nPING\r\n');
    const s = over ? tls.connect({ host: '127.0.0.1', port, servername: over.servername, ca: over.ca }, ping) : net.connect(port, '127.0.0.1', ping);
    let got = '';
    s.on('data', (d) => { got += d; if (got.includes('\r\n')) s.end(); });
    s.on('error', reject);
    s.on('close', () => resolve(got.split('\r\n')[0]));
  });
}

describe('examples/gateway-api-l4: TLSRoute and TCPRoute through devmesh up', () => {
  let fx: Awaited<ReturnType<typeof exampleOnFreePorts>>;
  let up: UpProcess;

  before(async () => {
    fx = await exampleOnFreePorts();
    up = startUp(fx.meshFile);
    await waitReady(up, fx.meshFile);
  });
  after(async () => { await up?.stop(); if (fx) rmSync(fx.dir, { recursive: true, force: true }); });

  test('curl --resolve shop.example.com:<port>:127.0.0.1 --cacert certs/ca.crt: shop answers with its own certificate, verified', async () => {
    const ca = readFileSync(path.join(EXAMPLE, 'certs', 'ca.crt'), 'utf8');
    const r = await waitFor('shop through the TLS listener', () => new Promise<{ status: number; body: string; subject: string } | undefined>((resolve) => {
      const req = https.get({ host: '127.0.0.1', port: fx.tls, servername: 'shop.example.com', path: '/hello', ca, agent: false, headers: { host: 'shop.example.com' } }, (res) => {
        let body = '';
        const subject = (res.socket as unknown as { getPeerCertificate(): { subject: { CN: string } } }).getPeerCertificate().subject.CN;
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body, subject }));
      });
      req.on('error', () => resolve(undefined));
    }), 15_000);
    assert.equal(r.status, 200);
    assert.equal(r.subject, 'shop.example.com');
    assert.match(r.body, /^shop-v1: TLS terminated by the shop itself \(server name shop\.example\.com\), GET \/hello/);
  });

  test('Redis answers through the TCP listener (PONG, or the stand-in\'s error where redis-server is not installed)', async () => {
    const reply = await waitFor('redis through the TCP listener', async () => (await redisPing(fx.redis).catch(() => '')) || undefined, 15_000);
    assert.match(reply, /^\+PONG$|^-ERR redis-server is not installed/);
  });

  test('redis-cli --tls --sni redis.example.com --cacert .devmesh/ca.pem: the TLS Terminate listener serves a certificate devmesh minted and carries the stream to Redis', async () => {
    const ca = readFileSync(path.join(fx.dir, '.devmesh', 'ca.pem'), 'utf8');
    const reply = await waitFor('redis through the TLS Terminate listener', async () => (await redisPing(fx.redisTls, { servername: 'redis.example.com', ca }).catch(() => '')) || undefined, 15_000);
    assert.match(reply, /^\+PONG$|^-ERR redis-server is not installed/);
  });

  test('up prints where both listeners listen, and /api/config has the routes Accepted', async () => {
    assert.match(up.output(), new RegExp(`Gateway default/edge listener tls: tls://127\\.0\\.0\\.1:${fx.tls} `));
    assert.match(up.output(), new RegExp(`Gateway default/edge listener redis: tcp://127\\.0\\.0\\.1:${fx.redis} `));
    const config = await (await up.api('/api/config')).json() as { gatewayApi: { routes: { kind: string; name: string; status: { parents: { conditions: { type: string; status: string }[] }[] } }[]; gateways: { local?: { protocol: string; port: number }[] }[] } };
    const accepted = config.gatewayApi.routes.map((r) => `${r.kind}/${r.name} ${r.status.parents[0].conditions.find((c) => c.type === 'Accepted')?.status}`);
    assert.deepEqual(accepted.sort(), ['TCPRoute/redis True', 'TLSRoute/shop True']);
    assert.deepEqual(config.gatewayApi.gateways[0].local?.map((l) => `${l.protocol} ${l.port}`), [`TLS ${fx.tls}`, `TCP ${fx.redis}`, `TLS ${fx.redisTls}`]);
  });
});
