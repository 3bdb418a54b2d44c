/**
 * A plain TCP connection to a host outside the mesh, then the bytes flow:
 * a CONNECT to a host the registry does not name under Istio's default
 * outbound traffic policy (ALLOW_ANY: the PassthroughCluster, no mesh policy
 * on it), and the last hop to a ServiceEntry host's endpoint (`toPeer`).
 * No TLS of the proxy's unless a DestinationRule asks for it (toPeer):
 * an app that speaks TLS does it end to end.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { L4Context } from './context';

const CONNECT_TIMEOUT_MS = 10_000;

export function passthrough(ctx: L4Context, host: string, port: number): void {
  ctx.passthrough = `${host}:${port}`;
  connectDirect(ctx, host, port, CONNECT_TIMEOUT_MS);
}

/**
 * Opens `host:port` within `timeoutMs` and relays the connection to it; a failure closes it (UF). With `origination`
 * (a DestinationRule's SIMPLE or MUTUAL TLS, tlsOrigination.ts), the connection is TLS and relays once its handshake is done.
 */
export function connectDirect(ctx: L4Context, host: string, port: number, timeoutMs: number, origination?: tls.ConnectionOptions): void {
  ctx.upstreamHost = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const up = origination ? tls.connect({ ...origination, host, port }) : net.connect({ host, port, allowHalfOpen: true });
  const timer = setTimeout(() => {
    up.destroy();
    ctx.fail({ flag: 'UF', reason: 'connect-timeout', status: 504, message: `${host}:${port} did not accept within ${timeoutMs} ms` });
  }, timeoutMs);
  timer.unref();
  up.once(origination ? 'secureConnect' : 'connect', () => {
    clearTimeout(timer);
    up.removeListener('error', onError);
    ctx.relay(up);
  });
  const onError = (err: Error) => {
    clearTimeout(timer);
    ctx.fail({ flag: 'UF', reason: origination ? 'upstream-tls-failure' : 'upstream-connect-failure', status: 502, message: `${host}:${port}: ${err.message}` });
  };
  up.once('error', onError);
  ctx.onClose(() => clearTimeout(timer));
}
