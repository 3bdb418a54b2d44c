/**
 * Normalize: the path as Envoy's connection manager normalizes it before
 * any filter runs (meshConfig.pathNormalization, Istio's BASE by default),
 * so routing, authorization and the upstream all see one path.
 */
import type { Filter } from '../context';
import { normalizePath } from '../security/pathNormalize';

export const normalize = (): Filter => (next) => (ctx) => {
  ctx.path = normalizePath(ctx.path, ctx.tables.defaults.pathNormalization);
  next(ctx);
};
