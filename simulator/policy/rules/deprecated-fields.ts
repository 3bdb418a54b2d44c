import { eachDocument } from './per-document';
import type { Rule } from './rule';
import { arr, obj } from '../workspace-index';

/** VirtualService fields Istio has deprecated and still honours (IST0002). */
export const deprecatedFields: Rule = eachDocument('VirtualService', ['deprecated'], (vs, report) => {
  arr(obj(vs.value.spec).http).forEach((r, i) => {
    const delay = obj(obj(obj(r).fault).delay);
    if (delay.percent !== undefined) {
      const value = typeof delay.percent === 'number' ? delay.percent : 'N';
      report(vs, ['spec', 'http', i, 'fault', 'delay', 'percent'], 'deprecated',
        `HTTPRoute.fault.delay.percent is deprecated (IST0002); Istio still honours it when percentage is absent: write "percentage: { value: ${value} }" instead`, { part: 'key' });
    }
  });
});
