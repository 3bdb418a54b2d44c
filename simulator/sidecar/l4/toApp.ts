/**
 * The L4 inbound terminal: a plain TCP connection to the app on the local
 * port of the container port called, then the bytes flow. The caller's
 * sidecar learns the tunnel is up only now (200), or that the app cannot be
 * reached (503 UF): a connect failure its outlier detection counts.
 */
import * as net from 'node:net';
import type { L4Handler } from './context';

/** How long the app may take to accept (Envoy's inbound cluster: the mesh's 10s connect timeout). */
const APP_CONNECT_TIMEOUT_MS = 10_000;

export const toApp = (): L4Handler => (ctx) => {
  const port = ctx.inbound?.localPort ?? ctx.tables.self!.appPort;
  ctx.upstreamHost = `127.0.0.1:${port}`;
  const app = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  app.setNoDelay(true);
  const timer = setTimeout(() => {
    app.destroy();
    ctx.fail({ flag: 'UF', reason: 'connect-timeout', status: 503, message: `the app did not accept on 127.0.0.1:${port}` });
  }, APP_CONNECT_TIMEOUT_MS);
  timer.unref();
  app.once('connect', () => {
    clearTimeout(timer);
    app.removeListener('error', onError);
    ctx.relay(app);
  });
  const onError = (err: Error) => {
    clearTimeout(timer);
    app.destroy();
    ctx.fail({ flag: 'UF', reason: 'upstream-connect-failure', status: 503, message: `the app on 127.0.0.1:${port}: ${err.message}` });
  };
  app.once('error', onError);
  ctx.onClose(() => clearTimeout(timer));
};
