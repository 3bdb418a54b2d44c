/**
 * HTTP/2 in cleartext with prior knowledge (h2c) to the apps behind a
 * sidecar's gRPC and HTTP/2 ports, as Istio's inbound cluster speaks to a
 * `grpc-*`/`http2-*` port: one multiplexed session per local port, opened on
 * first use and replaced when it closes or receives GOAWAY.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { STREAM_WINDOW } from './h2Pool';
import { SessionSet } from './sessionSet';

export class H2cPool extends SessionSet<number> {
  session(port: number): http2.ClientHttp2Session {
    const existing = this.live(port, 'app pool');
    if (existing) return existing;
    const session = http2.connect(`http://127.0.0.1:${port}`, {
      settings: { initialWindowSize: STREAM_WINDOW, enablePush: false },
      maxSessionMemory: 64,
      createConnection: () => net.connect({ host: '127.0.0.1', port, noDelay: true }),
    });
    return this.keep(port, session);
  }
}
