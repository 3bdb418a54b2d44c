/**
 * Traffic mirroring decisions, pure. `mirror` + `mirrorPercentage` (absent =
 * 100 %) or `mirrors[]`, each with its own `percentage` (absent = 100 %).
 * Up to Istio 1.27 the copy's authority gets `-shadow` appended to the host,
 * as Envoy does unless told not to (policy/defaults mirrorShadowHostSuffix).
 */
import type { Destination, HTTPRoute } from '../../policy/model';
import { chosen, percentOf } from '../resilience/percent';

/** The destinations this request is copied to. */
export function mirrorTargets(rule: HTTPRoute | undefined, random: () => number): Destination[] {
  if (!rule) return [];
  const out: Destination[] = [];
  if (rule.mirror && chosen(percentOf(rule.mirrorPercentage, 100), random)) out.push(rule.mirror);
  for (const m of rule.mirrors ?? []) if (m.destination && chosen(percentOf(m.percentage, 100), random)) out.push(m.destination);
  return out;
}

/** `reviews:9080` -> `reviews-shadow:9080`; `reviews` -> `reviews-shadow`. */
export function shadowAuthority(authority: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(:\d+)?$/.exec(authority);
  if (!m) return `${authority}-shadow`;
  return `${m[1]}-shadow${m[2] ?? ''}`;
}
