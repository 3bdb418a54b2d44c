/**
 * App over h2c: the last inbound step for a call to a gRPC or HTTP/2 port —
 * HTTP/2 with prior knowledge to the app's local port, trailers and resets
 * carried both ways (h2Exchange.ts). An app that is down is 503 UF (a gRPC
 * caller reads UNAVAILABLE). No inbound retry: Istio never configures one
 * for gRPC ports (pilot route.go BuildDefaultHTTPInboundRoute).
 */
import type { Handler } from '../context';
import { upstreamConnectFailure } from '../errors';
import { speaksHttp2 } from '../routing/servicePorts';
import { exchangeH2 } from '../upstream/h2Exchange';
import { H2cPool } from '../upstream/h2cPool';

/** Istio's connect timeout to an inbound cluster (the mesh default connectTimeout, 10s). */
const APP_CONNECT_TIMEOUT_MS = 10_000;

export const appH2c = (pool: () => H2cPool): Handler => (ctx) => {
  const self = ctx.tables.self!;
  const port = ctx.inbound?.localPort ?? self.appPort;
  const who = `app ${self.name} at 127.0.0.1:${port}`;
  let session;
  try {
    session = pool().session(port);
  } catch (err) {
    return ctx.fail(upstreamConnectFailure(`devmesh: cannot reach ${who}: ${(err as Error).message}\n`));
  }
  exchangeH2(ctx, session, { who, scheme: 'http', connected: () => H2cPool.connected(session), connectTimeoutMs: APP_CONNECT_TIMEOUT_MS });
};

/** The app step for the port a call is for: h2c for gRPC and HTTP/2 ports, else HTTP/1.1. */
export const appByProtocol = (apps: { h2c: Handler; http1: Handler }): Handler => (ctx) => (speaksHttp2(ctx.inbound?.protocol) ? apps.h2c(ctx) : apps.http1(ctx));
