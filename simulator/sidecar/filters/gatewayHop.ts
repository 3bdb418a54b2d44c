/**
 * At the egress gateway, what arrived on a Gateway server port goes on to
 * the gateway's own listener, which routes it by the VirtualServices bound
 * to the Gateways that select it (route.ts, role `egress`). Envoy's gateway
 * listener knows its port; here the hop names it, so `match.port` and the
 * Gateway's server of that port decide as they do in Istio.
 */
import type { Filter } from '../context';
import { GATEWAY_PORT_HEADER } from './route';

export const gatewayHop = (): Filter => (next) => (ctx) => {
  const port = ctx.inbound?.servicePort;
  if (port === undefined) delete ctx.headers[GATEWAY_PORT_HEADER];
  else ctx.headers[GATEWAY_PORT_HEADER] = String(port);
  next(ctx);
};
