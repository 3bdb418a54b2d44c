import { closest } from '../suggest';
import { eachDocument } from './per-document';
import type { Rule } from './rule';
import { arr, obj, str } from '../workspace-index';

/** Envoy's retry conditions (HTTP and gRPC) that Istio passes through. */
export const RETRY_ON = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
] as const;

export const retryOn: Rule = eachDocument('VirtualService', ['bad-enum'], (vs, report) => {
  arr(obj(vs.value.spec).http).forEach((r, i) => {
    const text = str(obj(obj(r).retries).retryOn);
    if (!text) return;
    for (const token of text.split(',').map((t) => t.trim()).filter(Boolean)) {
      if (/^[1-5]\d\d$/.test(token) || (RETRY_ON as readonly string[]).includes(token)) continue;
      const guess = closest(token, RETRY_ON);
      report(vs, ['spec', 'http', i, 'retries', 'retryOn'], 'bad-enum',
        `"${token}" is not a retry condition: ${guess ? `did you mean "${guess}"?` : `use ${RETRY_ON.slice(0, 7).join(', ')}, ... or a status code such as 503`}`,
        guess ? { data: { token, suggestion: guess } } : undefined);
    }
  });
});
