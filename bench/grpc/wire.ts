/**
 * What the gRPC benchmark's chain puts on the wire per call, by hop and
 * direction: HTTP/2 frames by type, and the chain's writes (one per
 * nghttp2 send: Node writes a session's pending frames in one writev), for
 * one load shape. For issue 15's question whether 4 x 4 makes the sidecars
 * do more per call than 1 x 16 (more sessions, fewer frames per write).
 *
 *   node out/bench/grpc/wire.js [connections] [streams] [calls] [--native]
 *
 * h2load -> (frame-counting relay) -> entry -> mTLS h2 -> inbound -> h2c ->
 * (frame-counting relay) -> grpc-js service. The two cleartext hops are
 * parsed by the relays (both directions); the mTLS hop is read from Node's
 * native HTTP/2 debug log (`--native`: `NODE_DEBUG_NATIVE=HTTP2SESSION`, every frame a
 * session receives, every send of pending data), which also gives each
 * chain session's writes. The log slows the chain down many times (and
 * loses some lines under load: read its figures as approximate), so its
 * batching of frames into writes is not what an undisturbed run does
 * (bench/grpc/profile.ts --syscalls counts those); the relays' counts
 * without `--native` are a run at nearly full speed.
 */
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { firstJsonLine } from '../dataplane/procs';
import { REQUEST_FRAME, SAY_PATH } from './service';

const TYPES = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION'];
type Counts = Map<string, number>;
const add = (m: Counts, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

/** HPACK integer with an `n`-bit prefix at `i`: its value and the offset after it (RFC 7541 5.1). */
function hpackInt(b: Buffer, i: number, n: number): [number, number] {
  const max = (1 << n) - 1;
  let v = b[i] & max;
  i++;
  if (v < max) return [v, i];
  for (let m = 0; ; m += 7) { const x = b[i++]; v += (x & 127) << m; if (!(x & 128)) return [v, i]; }
}

/**
 * Counts a header block's field representations (RFC 7541 6): `indexed`
 * (a table entry: one or two bytes), `literal+index` (a value sent and added
 * to the dynamic table), `literal` (not indexed), `never-indexed`
 * (sensitive), `size-update`; and the block's bytes.
 */
function countHpack(block: Buffer, add: (k: string, n?: number) => void): void {
  add('hpack bytes', block.length);
  let i = 0;
  while (i < block.length) {
    const x = block[i];
    if (x & 0x80) { add('indexed'); i = hpackInt(block, i, 7)[1]; continue; }
    if ((x & 0xe0) === 0x20) { add('size-update'); i = hpackInt(block, i, 5)[1]; continue; }
    const [kind, bits] = (x & 0xc0) === 0x40 ? ['literal+index', 6] : (x & 0xf0) === 0x10 ? ['never-indexed', 4] : ['literal', 4];
    add(kind as string);
    let [name, j] = hpackInt(block, i, bits as number);
    if (name === 0) { const [len, k] = hpackInt(block, j, 7); j = k + len; }
    const [len, k] = hpackInt(block, j, 7);
    i = k + len;
  }
}

/** Counts the HTTP/2 frames that cross a byte stream in one direction (the client's preface skipped) while `measuring()`. */
function frameCounter(counts: Counts, preface: boolean, measuring: () => boolean): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  let skip = preface ? 24 : 0;
  const add = (m: Counts, k: string, n = 1) => { if (measuring()) m.set(k, (m.get(k) ?? 0) + n); };
  return (chunk) => {
    add(counts, 'reads');
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    if (skip) { const n = Math.min(skip, buf.length); buf = buf.subarray(n); skip -= n; }
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const type = TYPES[buf[3]] ?? `type ${buf[3]}`;
      add(counts, buf[4] & 1 && (buf[3] === 0 || buf[3] === 1) ? `${type}+END_STREAM` : type);
      if (buf[3] === 1) {
        // HEADERS: skip the padding length and priority fields when their flags say they are there.
        const flags = buf[4];
        let start = 9, end = 9 + len;
        if (flags & 0x8) { end -= buf[start]; start += 1; }
        if (flags & 0x20) start += 5;
        countHpack(buf.subarray(start, end), (k, n) => add(counts, k, n));
      }
      buf = buf.subarray(9 + len);
    }
  };
}

/** A TCP relay to `port` that counts frames each way; counting starts at `measuring()`. */
async function relay(port: number, up: Counts, down: Counts, measuring: () => boolean): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const countUp = frameCounter(up, true, measuring), countDown = frameCounter(down, false, measuring);
    client.on('data', (d) => { countUp(d); upstream.write(d); });
    upstream.on('data', (d) => { countDown(d); client.write(d); });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, server };
}

function h2load(port: number, c: number, m: number, n: number, dataFile: string): Promise<string> {
  const args = ['-t1', `-c${c}`, `-m${m}`, `-n${n}`, '-d', dataFile, '-H', ':authority: bench:9090', '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://127.0.0.1:${port}${SAY_PATH}`];
  return new Promise((resolve, reject) => {
    const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

interface Session { role: string; frames: Counts; writes: number; bytes: number; firstLine: number }

/** Per native session id: what it received and how often it wrote, from the debug log's lines after `from`. */
function parseLog(file: string, from: number): Map<string, Session> {
  const sessions = new Map<string, Session>();
  const text = readFileSync(file, 'latin1').slice(from);
  let line = 0;
  const pending = new Set<Session>();
  for (const l of text.split('\n')) {
    line++;
    const m = /^Http2Session (server|client) \((\d+)\) (.*)$/.exec(l);
    if (!m) continue;
    const s = sessions.get(m[2]) ?? sessions.set(m[2], { role: m[1], frames: new Map(), writes: 0, bytes: 0, firstLine: line }).get(m[2])!;
    const what = m[3];
    const frame = /^complete frame received: type: (\d+)/.exec(what);
    if (frame) add(s.frames, TYPES[Number(frame[1])] ?? frame[1]);
    else if (what === 'sending pending data') pending.add(s);
    else {
      // A send of pending data that has bytes is one write (Node gathers them into one writev).
      const bytes = /^nghttp2 has (\d+) bytes to send/.exec(what) ?? /^sending (\d+) bytes for data frame/.exec(what);
      if (bytes && !/directly$/.test(what)) {
        s.bytes += Number(bytes[1]);
        if (pending.delete(s)) s.writes++;
      }
    }
  }
  return sessions;
}

const per = (m: Counts, calls: number) => [...m].sort().map(([k, v]) => `${k} ${(v / calls).toFixed(2)}`).join(', ');

async function main() {
  const [c, m, n] = process.argv.slice(2).filter((a) => !a.startsWith('--')).map(Number);
  const native = process.argv.includes('--native');
  const clients = c || 1, streams = m || 16, calls = n || 4000;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'devmesh-grpc-wire-'));
  const dataFile = path.join(tmp, 'say.bin');
  writeFileSync(dataFile, REQUEST_FRAME);
  const logFile = path.join(tmp, 'native.log');
  const here = path.join(__dirname, '..');
  let measuring = false;
  const counts = { toEntry: new Map(), fromEntry: new Map(), toApp: new Map(), fromApp: new Map() } as Record<string, Counts>;
  const children: ReturnType<typeof spawn>[] = [];
  const servers: net.Server[] = [];
  try {
    const start = async (script: string, arg?: string, env?: NodeJS.ProcessEnv) => {
      const child = spawn(process.execPath, [path.join(here, script), ...(arg ? [arg] : [])], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
      children.push(child);
      return { child, json: await firstJsonLine<Record<string, number>>(child, 20_000) };
    };
    const svc = await start('grpc/service.js');
    const http1 = await start('dataplane/service.js');
    const appRelay = await relay(svc.json.port, counts.toApp, counts.fromApp, () => measuring);
    servers.push(appRelay.server);
    const chain = spawn(process.execPath, [path.join(here, 'grpc/chain.js'), JSON.stringify({ httpPort: http1.json.port, grpcPort: appRelay.port })], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(native ? { NODE_DEBUG_NATIVE: 'HTTP2SESSION' } : {}) } });
    children.push(chain);
    const log = createWriteStream(logFile);
    chain.stderr!.pipe(log);
    const ports = await firstJsonLine<{ upstream: number }>(chain, 20_000);
    const entryRelay = await relay(ports.upstream, counts.toEntry, counts.fromEntry, () => measuring);
    servers.push(entryRelay.server);
    await h2load(entryRelay.port, clients, streams, 500, dataFile); // sessions up, code warm
    await new Promise((r) => setTimeout(r, 300));
    const from = readFileSync(logFile, 'latin1').length;
    const all = parseLog(logFile, 0);
    measuring = true;
    const out = await h2load(entryRelay.port, clients, streams, calls, dataFile);
    measuring = false;
    await new Promise((r) => setTimeout(r, 2000)); // the log's last lines
    const done = Number(/(\d+) succeeded/.exec(out)?.[1] ?? NaN);
    process.stdout.write(`${clients} x ${streams}: ${done} calls succeeded of ${calls}\n`);
    const sessions = parseLog(logFile, from);
    // Client sessions in the order they were opened (native ids grow): the peer hop's first, then the h2c one to the app.
    const clients0 = [...all].filter(([, x]) => x.role === 'client').map(([k]) => k).sort((a, b) => Number(a) - Number(b));
    const kind = (id: string, s: Session) => !all.has(id) ? 'entry (server, from h2load)'
      : s.role === 'server' ? 'inbound (server, from the client sidecar)'
        : id === clients0[0] ? 'peer (client, to the inbound sidecar)' : 'h2c to the app (client)';
    const byKind = new Map<string, { n: number; frames: Counts; writes: number; bytes: number }>();
    for (const [id, s] of sessions) {
      if (s.frames.size === 0 && s.writes === 0) continue;
      const k = kind(id, s);
      const agg = byKind.get(k) ?? byKind.set(k, { n: 0, frames: new Map(), writes: 0, bytes: 0 }).get(k)!;
      agg.n++; agg.writes += s.writes; agg.bytes += s.bytes;
      for (const [t, v] of s.frames) add(agg.frames, t, v);
    }
    if (native) process.stdout.write(`\nper call, chain sessions (native log): frames received; writes and bytes sent\n`);
    if (native) for (const [k, a] of byKind) process.stdout.write(`  ${k} x${a.n}: received ${per(a.frames, done)}; writes ${(a.writes / done).toFixed(2)}, bytes sent ${(a.bytes / done).toFixed(0)}\n`);
    process.stdout.write(`\nper call, cleartext hops (relays; reads = TCP reads at the relay)\n`);
    process.stdout.write(`  h2load -> entry: ${per(counts.toEntry, done)}\n  entry -> h2load: ${per(counts.fromEntry, done)}\n`);
    process.stdout.write(`  inbound -> app: ${per(counts.toApp, done)}\n  app -> inbound: ${per(counts.fromApp, done)}\n`);
  } finally {
    for (const s of servers) s.close();
    for (const ch of children) ch.kill();
    if (!process.env.KEEP) rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) void main();
