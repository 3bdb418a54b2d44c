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
