'use strict';
/**
 * A Redis client in a few lines, enough for the demo's ratings store: RESP2
 * commands over one connection (reopened when it closes), replies in order,
 * an error reply as a rejected promise. The connection goes to the address
 * devmesh gives as DEVMESH_UPSTREAM_REDIS_6379 — the local upstream port of
 * the app's own sidecar, which carries it to Redis over mTLS.
 */
const net = require('node:net');

class RedisError extends Error {}

function encode(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args) { const s = String(a); out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`; }
  return out;
}

/** One reply starting at buf[i]: [value, next offset], or undefined while incomplete. */
function parse(buf, i) {
  const nl = buf.indexOf('\r\n', i);
  if (nl < 0) return undefined;
  const line = buf.toString('utf8', i + 1, nl);
  switch (buf[i]) {
    case 0x2b: return [line, nl + 2]; // +simple
    case 0x2d: return [new RedisError(line), nl + 2]; // -error
    case 0x3a: return [Number(line), nl + 2]; // :integer
    case 0x24: { // $bulk
      const n = Number(line);
      if (n < 0) return [null, nl + 2];
      if (buf.length < nl + 4 + n) return undefined;
      return [buf.toString('utf8', nl + 2, nl + 2 + n), nl + 4 + n];
    }
    case 0x2a: { // *array
      const n = Number(line);
      const out = [];
      let at = nl + 2;
      for (let k = 0; k < n; k++) {
        const r = parse(buf, at);
        if (!r) return undefined;
        out.push(r[0]);
        at = r[1];
      }
      return [n < 0 ? null : out, at];
    }
    default: return [new RedisError(`not a Redis reply: ${JSON.stringify(buf.toString('latin1', i, Math.min(buf.length, i + 40)))}`), buf.length];
  }
}

class Redis {
  /** `address`: `host:port`. */
  constructor(address) {
    const at = address.lastIndexOf(':');
    this.host = address.slice(0, at) || '127.0.0.1';
    this.port = Number(address.slice(at + 1));
    this.socket = null;
    this.pending = [];
  }

  connection() {
    if (this.socket) return this.socket;
    const s = net.connect(this.port, this.host);
    s.setNoDelay(true);
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      let r;
      while (this.pending.length && (r = parse(buf, 0))) {
        buf = buf.subarray(r[1]);
        const p = this.pending.shift();
        clearTimeout(p.timer);
        if (r[0] instanceof Error) p.reject(r[0]); else p.resolve(r[0]);
      }
    });
    const fail = (e) => {
      if (this.socket === s) this.socket = null;
      for (const p of this.pending.splice(0)) { clearTimeout(p.timer); p.reject(e); }
    };
    s.on('error', fail);
    s.on('close', () => fail(new RedisError(`the connection to Redis at ${this.host}:${this.port} closed`)));
    this.socket = s;
    return s;
  }

  /** Sends one command; resolves with its reply, rejects on an error reply, a closed connection or `timeoutMs`. */
  command(args, timeoutMs = 1_000) {
    return new Promise((resolve, reject) => {
      const s = this.connection();
      const p = { resolve, reject, timer: undefined };
      p.timer = setTimeout(() => { reject(new RedisError(`Redis did not answer ${args[0]} within ${timeoutMs} ms`)); s.destroy(); }, timeoutMs);
      this.pending.push(p);
      s.write(encode(args));
    });
  }

  close() { this.socket?.destroy(); }
}

module.exports = { Redis, RedisError };
