/**
 * App: the last inbound step, HTTP/1.1 keep-alive to the application on
 * the local port of the container port the call is for (its first port when
 * the call names none), on the sidecar's own connections
 * (upstream/appClient.ts; `expect` and a few odd requests through
 * http.request). A refused connection (app down) is 503 UF. Istio's
 * inbound route retries a request the app never read — a refused
 * connection, or a kept-alive connection the app closed as the request went
 * out — twice (reset-before-request, the defaults table's inboundRetry), so
 * an app that is down answers 503 with flags UF,URX after three tries.
 */
import type { Agent } from 'node:http';
import { Readable } from 'node:stream';
import type { Handler } from '../context';
import type { ProxyError } from '../errors';
import { replayableBody } from '../resilience/bodyBuffer';
import { backoffMs, inboundRetryPolicy, retriable, type AttemptOutcome } from '../resilience/retryPolicy';
import type { Stats } from '../stats';
import { forwardToApp, type AppConnections } from '../upstream/appClient';
import { hasBody } from '../upstream/hopByHop';
import type { InboundPort } from '../tables';

/** The protocol of the service port a call is for (the port's own, else the service's). */
function protocolOf(p: InboundPort | undefined): string | undefined {
  return p?.service?.ports?.find((sp) => sp.port === p.servicePort)?.protocol ?? p?.service?.protocol;
}

export const app = (agent: Agent, deps: { random: () => number; stats?: Stats; connections: AppConnections }): Handler => (ctx) => {
  const self = ctx.tables.self!;
  const port = ctx.inbound?.localPort ?? self.appPort;
  const who = `app ${self.name} at 127.0.0.1:${port}`;
  const policy = inboundRetryPolicy(ctx.tables.defaults, protocolOf(ctx.inbound) === 'grpc');
  if (!policy) return forwardToApp(ctx, port, deps.connections, agent, who);
  const body = hasBody(ctx.downstream) ? replayableBody(ctx.downstream.body) : undefined;
  let attempt = 0;
  let gone = false;
  let backoff: NodeJS.Timeout | undefined;
  const run = () => {
    attempt++;
    const n = attempt;
    const fail = (err: ProxyError) => {
      // A local reply without a flag is an answer, not a failure to reach the app: never retried.
      const outcome: AttemptOutcome = err.flag === undefined ? { kind: 'response', status: err.status } : { kind: 'error', flag: err.flag, reason: err.reason };
      if (!gone && retriable(policy, outcome)) {
        if (n <= policy.retries && (!body || body.replayable)) {
          deps.stats?.inc('inbound.app_retry');
          backoff = setTimeout(run, backoffMs(policy, n, deps.random));
          ctx.onAbort(() => { gone = true; clearTimeout(backoff); });
          return;
        }
        if (!ctx.flags.includes('URX')) ctx.flags.push('URX');
      }
      ctx.fail(err);
    };
    const stream = !body ? undefined : n === 1 ? body.takeLive() : body.replay() ?? Readable.from([]);
    forwardToApp(ctx, port, deps.connections, agent, who, { body: stream, fail });
  };
  run();
};
