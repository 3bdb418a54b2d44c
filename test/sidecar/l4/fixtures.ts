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

/**
 * What an app with HTTPS_PROXY does: `CONNECT <target>` through a sidecar's
 * outbound listener, then its own TLS (SNI `servername`, trusting `caPem`) and
 * one GET inside; the external test server's JSON answer. Rejects when the
 * tunnel or the TLS inside it fails.
 */
export async function httpsViaConnect<T = { server: string; host: string; tls?: boolean }>(outbound: number, target: string, servername: string, caPem: string, urlPath = '/'): Promise<{ status: number; body: T }> {
  const c = await connectVia(outbound, target);
  if (c.status !== 200) throw new Error(`CONNECT ${target}: ${c.status} ${c.reason ?? ''} ${c.body}`);
  const [tls, https] = await Promise.all([import('node:tls'), import('node:https')]);
  const secure = tls.connect({ socket: c.socket, servername, ca: caPem });
  return new Promise((resolve, reject) => {
    const req = https.request({ host: servername, port: 443, path: urlPath, headers: { host: servername, connection: 'close' }, createConnection: () => secure }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => { secure.end(); resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T }); });
    });
    req.on('error', reject);
    req.end();
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

/** A TLS server app that greets every client with its name and the server name the client asked for (TLS passthrough tests). */
export async function tlsGreeter(name: string, certs: { certPem: string; keyPem: string }): Promise<{ server: net.Server & { destroyAll(): void }; port: number }> {
  const tls = await import('node:tls');
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: certs.certPem, key: certs.keyPem }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.end(`${name} ${(s as unknown as { servername?: string }).servername ?? '-'}\n`);
  }) as unknown as net.Server & { destroyAll(): void };
  server.destroyAll = () => { for (const s of sockets) s.destroy(); };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/**
 * A TLS client to `port` asking for `servername` (undefined: a ClientHello
 * without SNI): what the server said, or '' when the connection closed
 * first. With `ca` the server's chain must verify against it (any name).
 */
export async function tlsHello(port: number, servername: string | undefined, ca?: string): Promise<string> {
  const tls = await import('node:tls');
  const trust = ca ? { ca, checkServerIdentity: () => undefined } : { rejectUnauthorized: false };
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), ...trust });
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(got.trim()));
  });
}

/** Debian's redis-server on a free port (no persistence), or undefined when it is not installed; close() stops the process. */
export async function redisServer(port: number): Promise<{ server: net.Server; port: number } | undefined> {
  const { spawn, spawnSync } = await import('node:child_process');
  if (spawnSync('redis-server', ['--version']).error) return undefined;
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // The mesh fixtures close apps as servers: closing this one stops the process.
  const server = Object.assign(new net.Server(), {
    close(cb?: (err?: Error) => void) { child.kill('SIGTERM'); void exited.then(() => cb?.()); return server; },
  }) as net.Server;
  await eventually(() => new Promise<true | undefined>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.end('PING\r\n'));
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('error', () => resolve(undefined));
    s.on('close', () => resolve(got.startsWith('+PONG') ? true : undefined));
  }), `redis-server on 127.0.0.1:${port}`);
  return { server, port };
}

/** `redis-cli -p <port> <args...>`: what it printed (stdout and stderr) and its exit code. */
export async function redisCli(port: number, ...args: string[]): Promise<{ out: string; code: number }> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 }, (err, stdout, stderr) => {
      resolve({ out: `${stdout}${stderr}`.trim(), code: err ? Number((err as { code?: number }).code ?? 1) : 0 });
    });
  });
}

/** One command in Redis' wire protocol (RESP) on an open socket: its reply (a status, an error, an integer or a bulk string; null for a nil). */
export function redisCommand(s: net.Socket, ...args: string[]): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (v: string | null) => { s.off('data', onData); s.off('close', onClose); resolve(v); };
    const onData = (d: Buffer) => {
      buf += d.toString();
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      if (buf[0] !== '$') return done(buf.slice(0, eol));
      const len = Number(buf.slice(1, eol));
      if (len < 0) return done(null);
      if (buf.length >= eol + 2 + len + 2) done(buf.slice(eol + 2, eol + 2 + len));
    };
    const onClose = () => reject(new Error(`closed before answering ${args[0]} (got "${buf}")`));
    s.on('data', onData);
    s.once('close', onClose);
    s.resume();
    s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}
