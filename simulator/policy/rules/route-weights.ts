import { eachDocument } from './per-document';
import type { Rule } from './rule';
import { arr, num, obj } from '../workspace-index';

/**
 * Weights are relative in current Istio (a destination gets weight / sum), so
 * they need not add up to 100 — but a negative weight is invalid and a rule
 * whose weights are all zero sends traffic nowhere.
 */
export const routeWeights: Rule = eachDocument('VirtualService', ['bad-weights'], (vs, report) => {
  const spec = obj(vs.value.spec);
  for (const proto of ['http', 'tcp', 'tls'] as const) {
    arr(spec[proto]).forEach((r, i) => {
      const routes = arr(obj(r).route);
      const weights = routes.map((rd) => num(obj(rd).weight));
      weights.forEach((w, j) => {
        if (w !== undefined && w < 0) {
          report(vs, ['spec', proto, i, 'route', j, 'weight'], 'bad-weights', `weight ${w} is negative: weights are relative shares, use 0 or more`);
        }
      });
      if (routes.length > 0 && weights.every((w) => w === 0)) {
        report(vs, ['spec', proto, i, 'route'], 'bad-weights',
          'every destination has weight 0, so this rule sends traffic nowhere: give at least one destination a positive weight', { part: 'key' });
      }
    });
  }
});
