/**
 * CORS: the route's `corsPolicy`, answered at the caller's sidecar as Envoy's
 * cors filter does — a preflight from an allowed origin never reaches the
 * service; actual requests get the allow headers on their response.
 */
import type { Filter } from '../context';
import { corsDecision } from '../routing/cors';

export const cors = (): Filter => (next) => (ctx) => {
  const plan = ctx.plan;
  const policy = plan?.kind === 'forward' ? plan.rule?.corsPolicy : undefined;
  if (!policy) return next(ctx);
  const d = corsDecision(policy, ctx.method, ctx.downstream.headers);
  if (d.kind === 'preflight') return ctx.respond(200, { ...d.headers, 'content-length': '0' }, null);
  if (d.kind === 'actual') ctx.responseHeaderOps.push({ set: d.headers });
  next(ctx);
};
