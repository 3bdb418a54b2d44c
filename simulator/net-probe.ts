/**
 * A TCP connect to 127.0.0.1:port, as kubelet's tcpSocket probe does: the
 * control plane waits on it for listeners at start-up, a sidecar watches its
 * app with it (sidecar/status.ts).
 */
import * as net from 'node:net';

/** Whether something accepts TCP connections on 127.0.0.1:port within `timeoutMs`. */
export function accepts(port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
