/**
 * L4 route: which tcp[]/tls[] rule, and which destination (host, subset,
 * port) the connection goes to. On a TLS port it first reads the
 * ClientHello's server name without consuming it (Envoy's tls_inspector),
 * so the bytes reach the destination untouched (an app's CONNECT is
 * answered first: its client sends nothing before).
 */
import { protocolClass } from '../../policy/protocols';
import { planL4, type L4PlanError } from '../routing/l4Plan';
import { routeKey } from '../tables';
import { peekClientHello } from '../listeners/sniff';
import type { L4Context, L4Filter } from './context';

/** How long a TLS client may take to send its ClientHello. */
const CLIENT_HELLO_TIMEOUT_MS = 10_000;

export interface L4RouteSettings {
  random: () => number;
}

export const l4Route = (s: L4RouteSettings): L4Filter => (next) => (ctx) => {
  const dest = ctx.destination!;
  const route = () => {
    const t = ctx.tables;
    const table = t.routes.get(routeKey(dest.service.fqdn, dest.port.port));
    if (!table) return ctx.fail({ flag: 'NR', reason: 'unknown-port', message: `no route table for ${dest.authority}` });
    const plan = planL4(t, table, { port: dest.port.port, sourceLabels: t.identity.labels, sourceNamespace: t.identity.namespace, gateway: 'mesh', sni: ctx.sni }, s.random);
    if (plan.kind === 'error') return noRoute(ctx, plan);
    ctx.plan = plan;
    next(ctx);
  };
  if (protocolClass(dest.port.protocol) !== 'tls') return route();
  // A CONNECT client (HTTPS_PROXY) sends its ClientHello only once told the tunnel is up: answer 200 first, as
  // Envoy's CONNECT termination does; a connection no tls[] rule takes is then closed, not refused with a status.
  ctx.accept?.();
  peekServerName(ctx, (sni) => {
    ctx.sni = sni;
    route();
  });
};

/** Reads until the ClientHello is complete (or is not one), then pushes every byte back; a client that sends none in time is routed without a server name. */
export function peekServerName(ctx: L4Context, done: (sni: string | undefined) => void): void {
  ctx.onClose(peekClientHello(ctx.downstream, CLIENT_HELLO_TIMEOUT_MS, done, 'no-sni'));
}

/** No tcp[]/tls[] rule or destination for the connection: closed with the plan's flag, the plan error noted for its route record. */
export function noRoute(ctx: L4Context, plan: L4PlanError): void {
  ctx.planError = plan;
  ctx.fail({ flag: plan.flag, reason: plan.reason, message: plan.message });
}
