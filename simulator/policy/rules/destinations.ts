/**
 * Every place a VirtualService names a destination, with its path: routes of
 * http, tcp and tls rules, `mirror` and `mirrors`. Several rules walk these.
 */
import type { Path, PolicyDocument } from '../source';
import { arr, num, obj, str } from '../workspace-index';

export interface DestinationRef {
  host: string;
  subset?: string;
  /** `port.number`, when written. */
  port?: number;
  /** Path of the `destination` object. */
  path: Path;
}

// A document's destinations depend on its text alone: documents of unchanged files are
// the same objects from one check to the next, so the language server re-reads only the edited file.
const cache = new WeakMap<PolicyDocument, readonly DestinationRef[]>();

export function destinationsOf(vs: PolicyDocument<'VirtualService'>): readonly DestinationRef[] {
  const cached = cache.get(vs);
  if (cached) return cached;
  const out: DestinationRef[] = [];
  const push = (d: unknown, path: Path) => {
    const dest = obj(d);
    const host = str(dest.host);
    if (host) out.push({ host, subset: str(dest.subset), port: num(obj(dest.port).number), path });
  };
  const spec = obj(vs.value.spec);
  arr(spec.http).forEach((r, i) => {
    const rule = obj(r);
    arr(rule.route).forEach((rd, j) => push(obj(rd).destination, ['spec', 'http', i, 'route', j, 'destination']));
    if (rule.mirror) push(rule.mirror, ['spec', 'http', i, 'mirror']);
    arr(rule.mirrors).forEach((m, j) => push(obj(m).destination, ['spec', 'http', i, 'mirrors', j, 'destination']));
  });
  for (const proto of ['tcp', 'tls'] as const) {
    arr(spec[proto]).forEach((r, i) => {
      arr(obj(r).route).forEach((rd, j) => push(obj(rd).destination, ['spec', proto, i, 'route', j, 'destination']));
    });
  }
  cache.set(vs, out);
  return out;
}

/** The gateways a VirtualService applies to; no `gateways` means the sidecars (`mesh`). */
export function gatewaysOf(vs: PolicyDocument<'VirtualService'>): string[] {
  const g = arr(obj(vs.value.spec).gateways).filter((x): x is string => typeof x === 'string');
  return g.length === 0 ? ['mesh'] : g;
}
