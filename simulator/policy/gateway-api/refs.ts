/**
 * References of the Gateway API, read as its CRDs default them: a parentRef
 * is a Gateway (group gateway.networking.k8s.io) unless it says otherwise, a
 * backendRef a Service (the core group ""), both in the referring resource's
 * namespace unless they name another — and a reference into another
 * namespace needs a ReferenceGrant there (for backends, listener
 * certificates; not for Service parents, where a route in another namespace
 * is a consumer route). Pure.
 */
import { GATEWAY_API_GROUP } from '../kinds';
import type { ReferenceGrantSpec, Resource } from '../model';
import { arr, obj, str } from '../plain';

export interface ParentRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface BackendRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  port?: number;
}

/** A parentRef with the CRD's defaults applied. */
export function parentRefOf(raw: unknown, routeNamespace: string): ParentRef {
  const r = obj(raw);
  return {
    group: str(r.group) ?? GATEWAY_API_GROUP,
    kind: str(r.kind) ?? 'Gateway',
    namespace: str(r.namespace) ?? routeNamespace,
    name: str(r.name) ?? '',
    ...(str(r.sectionName) !== undefined ? { sectionName: str(r.sectionName) } : {}),
    ...(typeof r.port === 'number' ? { port: r.port } : {}),
  };
}

/** A backendRef (or a mirror's, or a certificateRef) with the CRD's defaults applied. */
export function backendRefOf(raw: unknown, routeNamespace: string, defaultKind = 'Service'): BackendRef {
  const r = obj(raw);
  return {
    group: str(r.group) ?? '',
    kind: str(r.kind) ?? defaultKind,
    namespace: str(r.namespace) ?? routeNamespace,
    name: str(r.name) ?? '',
    ...(typeof r.port === 'number' ? { port: r.port } : {}),
  };
}

export const isServiceParent = (p: ParentRef): boolean => (p.group === '' || p.group === 'core') && p.kind === 'Service';
export const isGatewayParent = (p: ParentRef): boolean => p.group === GATEWAY_API_GROUP && p.kind === 'Gateway';
export const isServiceBackend = (b: BackendRef): boolean => (b.group === '' || b.group === 'core') && b.kind === 'Service';

/**
 * Whether a ReferenceGrant in the target's namespace lets `from` (a kind in
 * a namespace) refer to `to` there. Same-namespace references need none.
 */
export function referenceAllowed(
  grants: readonly Resource<'ReferenceGrant'>[],
  from: { group: string; kind: string; namespace: string },
  to: { group: string; kind: string; namespace: string; name: string },
): boolean {
  if (from.namespace === to.namespace) return true;
  return grants.some((g) => {
    if ((g.metadata.namespace ?? '') !== to.namespace) return false;
    const spec = obj(g.spec) as Partial<ReferenceGrantSpec>;
    const fromOk = arr(spec.from).some((f) => sameGroup(str(obj(f).group), from.group) && str(obj(f).kind) === from.kind && str(obj(f).namespace) === from.namespace);
    const toOk = arr(spec.to).some((t) => sameGroup(str(obj(t).group), to.group) && str(obj(t).kind) === to.kind && (str(obj(t).name) === undefined || str(obj(t).name) === to.name));
    return fromOk && toOk;
  });
}

function sameGroup(a: string | undefined, b: string): boolean {
  const norm = (g: string | undefined) => (g === undefined || g === 'core' ? '' : g);
  return norm(a) === norm(b);
}
