/**
 * TCP test helpers: Istio's tcp-echo app (each line comes back with a
 * prefix), a client that says one line and reads the answer as `nc` does in
 * Istio's tasks, and a raw client for what a peer sees of a closed
 * connection.
 */
import * as net from 'node:net';

/** tcp-echo: answers every line with `<prefix> <line>` (Istio's samples/tcp-echo). Tracks connections so tests can close it at once. */
export async function tcpEcho(prefix: string): Promise<{ server: net.Server & { destroyAll(): void }; port: number; connections: () => number }> {
  const sockets = new Set<net.Socket>();
  let total = 0;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    total++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        s.write(`${prefix} ${buf.slice(0, nl)}\n`);
        buf = buf.slice(nl + 1);
      }
    });
    s.on('end', () => {
      if (buf) s.write(`${prefix} ${buf}\n`);
      s.end();
    });
  }) as net.Server & { destroyAll(): void };
  server.destroyAll = () => { for (const s of sockets) s.destroy(); };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port, connections: () => total };
}

/**
 * `echo "<line>" | nc 127.0.0.1 <port>`: sends the line, half-closes, and
 * resolves with everything the other side sent before closing ('' when it
 * closed without a word: Istio's "connection rejected").
 */
export function say(port: number, line: string, opts: { timeoutMs?: number; halfClose?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no close from 127.0.0.1:${port} within ${opts.timeoutMs ?? 5000} ms`)); }, opts.timeoutMs ?? 5000);
    s.on('connect', () => {
      s.write(`${line}\n`);
      if (opts.halfClose !== false) s.end();
    });
    s.on('data', (d) => {
      chunks.push(d);
      if (opts.halfClose === false && d.includes(10)) s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString()); });
  });
}

/** `line` was answered by the echo: the reply's text, else 'connection rejected' as Istio's task prints it. */
export async function echoOutcome(port: number, line: string): Promise<string> {
  const reply = (await say(port, line)).trim();
  return reply.includes('hello') || reply.length > 0 ? reply : 'connection rejected';
}

/** `CONNECT <target>` on a listener: the socket once answered 200, or the status and reason header it was refused with. */
export function connectVia(port: number, target: string): Promise<{ status: number; reason?: string; socket: net.Socket; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      const head = buf.subarray(0, end).toString();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const reason = /x-devmesh-proxy-error: (\S+)/i.exec(head)?.[1];
      const rest = buf.subarray(end + 4);
      if (status === 200) {
        s.pause();
        if (rest.length) s.unshift(rest);
        return resolve({ status, reason, socket: s, body: '' });
      }
      let body = rest.toString();
      s.on('data', (more) => { body += more.toString(); });
      s.on('end', () => s.end());
      s.on('close', () => resolve({ status, reason, socket: s, body }));
    };
    s.on('data', onData);
    s.on('error', reject);
    s.on('connect', () => s.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`));
  });
}

/** One line out and one line back on an open socket (a conversation, not a one-shot). */
export function exchangeLine(s: net.Socket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) { s.off('data', onData); s.off('close', onClose); resolve(buf.trim()); }
    };
    const onClose = () => reject(new Error(`closed before answering "${line}" (got "${buf}")`));
    s.on('data', onData);
    s.once('close', onClose);
    s.resume();
    s.write(`${line}\n`);
  });
}

/** Resolves when `probe` returns a value (polled, bounded): for figures a sidecar reports in batches. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The value of one Prometheus series whose labels include `labels`, or undefined. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}
