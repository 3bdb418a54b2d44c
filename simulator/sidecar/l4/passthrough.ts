/**
 * A CONNECT to a host outside the mesh: Istio's default outbound traffic
 * policy (ALLOW_ANY) sends it to the PassthroughCluster, a plain TCP
 * connection to where the app asked. Observed and logged like every other
 * connection, with no mesh policy on it.
 */
import * as net from 'node:net';
import type { L4Context } from './context';

const CONNECT_TIMEOUT_MS = 10_000;

export function passthrough(ctx: L4Context, host: string, port: number): void {
  ctx.passthrough = `${host}:${port}`;
  ctx.upstreamHost = ctx.passthrough;
  const up = net.connect({ host, port, allowHalfOpen: true });
  const timer = setTimeout(() => {
    up.destroy();
    ctx.fail({ flag: 'UF', reason: 'connect-timeout', status: 504, message: `${host}:${port} did not accept within ${CONNECT_TIMEOUT_MS} ms` });
  }, CONNECT_TIMEOUT_MS);
  timer.unref();
  up.once('connect', () => {
    clearTimeout(timer);
    up.removeListener('error', onError);
    ctx.relay(up);
  });
  const onError = (err: Error) => {
    clearTimeout(timer);
    ctx.fail({ flag: 'UF', reason: 'upstream-connect-failure', status: 502, message: `${host}:${port}: ${err.message}` });
  };
  up.once('error', onError);
  ctx.onClose(() => clearTimeout(timer));
}
