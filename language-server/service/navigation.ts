/**
 * Go to definition and find references across files: a host leads to its
 * Mesh service entry, a subset to its DestinationRule entry, a gateway name
 * to its Gateway, a principal to the workloads that run as its service
 * account, a CUSTOM policy's provider to the Mesh's extensionProviders entry
 * — and back.
 */
import type { Location } from 'vscode-languageserver';
import { arr, obj, rangeOf, schemaAt, serviceFqdn, str, type PolicyDocument, type Range, type Workspace } from '../../simulator/policy';
import { ROUTE_KINDS } from '../../simulator/policy/gateway-api/status';
import { destinationsOf } from '../../simulator/policy/rules/destinations';
import { fqdnIn, parsePrincipal, serviceByFqdn, subsetsOf } from './mesh-facts';
import { toLspRange } from './positions';
import { targetAt, type Target } from './hover';
import { valueAt } from './values';

type Symbol =
  | { type: 'service'; fqdn: string }
  | { type: 'subset'; fqdn: string; subset: string }
  | { type: 'serviceAccount'; namespace: string; serviceAccount: string }
  /** `namespace/name`, as VirtualServices name gateways (a bare name is in the rule's namespace). */
  | { type: 'gateway'; key: string }
  /** An extension provider of the Mesh, as AuthorizationPolicy CUSTOM names it. */
  | { type: 'provider'; name: string }
  /** A Gateway API Gateway, `namespace/name`, as route parentRefs name it. */
  | { type: 'kubernetesGateway'; key: string };

export function definition(ws: Workspace, file: string, offset: number): Location[] {
  const sym = symbolAt(ws, file, offset);
  return sym ? declarations(ws, sym) : [];
}

export function references(ws: Workspace, file: string, offset: number, includeDeclaration: boolean): Location[] {
  const sym = symbolAt(ws, file, offset);
  if (!sym) return [];
  return [...(includeDeclaration ? declarations(ws, sym) : []), ...uses(ws, sym)];
}

/** The name under the cursor, as a symbol of the workspace. */
function symbolAt(ws: Workspace, file: string, offset: number): Symbol | undefined {
  const source = ws.getSource(file);
  if (!source) return undefined;
  const t = targetAt(source, offset);
  if (!t || t.onKey || t.value === undefined) return undefined;
  const index = ws.index;
  const ref = schemaAt(t.kind, t.path)?.['x-ref'];
  if (t.kind === 'Mesh') return meshSymbol(t);
  if (ref === 'host') return { type: 'service', fqdn: fqdnIn(index, t.value, t.namespace) };
  if (ref === 'subset' && t.doc) {
    const host = valueAt(t.doc.value, [...t.path.slice(0, -1), 'host']);
    return typeof host === 'string' ? { type: 'subset', fqdn: fqdnIn(index, host, t.namespace), subset: t.value } : undefined;
  }
  if (t.kind === 'DestinationRule' && t.doc && t.path[1] === 'subsets' && t.path[3] === 'name' && t.path.length === 4) {
    const host = str(obj(t.doc.value.spec).host);
    return host ? { type: 'subset', fqdn: fqdnIn(index, host, t.namespace), subset: t.value } : undefined;
  }
  if (ref === 'gateway' && t.doc && t.value !== 'mesh') return { type: 'gateway', key: gatewayKey(index, t.value, t.doc) };
  if (ref === 'extensionProvider') return { type: 'provider', name: t.value };
  if (t.kind === 'Gateway' && t.doc && t.path.length === 2 && t.path[0] === 'metadata' && t.path[1] === 'name') {
    return { type: 'gateway', key: `${index.namespaceOf(t.doc)}/${t.value}` };
  }
  if ((ref === 'parentRef' || ref === 'backendRef') && t.doc) {
    const r = obj(valueAt(t.doc.value, t.path.slice(0, -1)));
    const ns = str(r.namespace) ?? t.namespace ?? index.defaultNamespace;
    if (ref === 'parentRef' && (str(r.kind) ?? 'Gateway') === 'Gateway') return { type: 'kubernetesGateway', key: `${ns}/${t.value}` };
    return { type: 'service', fqdn: serviceFqdn(t.value, ns) };
  }
  if (t.kind === 'KubernetesGateway' && t.doc && t.path.length === 2 && t.path[0] === 'metadata' && t.path[1] === 'name') {
    return { type: 'kubernetesGateway', key: `${index.namespaceOf(t.doc)}/${t.value}` };
  }
  if (ref === 'principal') {
    const p = parsePrincipal(t.value);
    return p ? { type: 'serviceAccount', namespace: p.namespace, serviceAccount: p.serviceAccount } : undefined;
  }
  return undefined;

  function meshSymbol(target: Target): Symbol | undefined {
    const mesh = index.mesh;
    if (!mesh || !target.doc || target.doc !== mesh.doc) return undefined;
    const p = target.path;
    if (p[1] === 'services' && p.length === 4 && p[3] === 'name') {
      const svc = mesh.services.find((s) => s.path[2] === p[2]);
      return svc ? { type: 'service', fqdn: svc.fqdn } : undefined;
    }
    const account = (p[1] === 'services' && p[3] === 'workloads' && p[5] === 'serviceAccount') || (p[1] === 'workloads' && p[3] === 'serviceAccount');
    if (account) {
      const w = mesh.workloads.find((x) => x.path.length === p.length - 1 && x.path.every((seg, i) => seg === p[i]));
      return { type: 'serviceAccount', namespace: w?.namespace ?? mesh.namespace, serviceAccount: target.value! };
    }
    if (p[1] === 'extensionProviders' && p.length === 4 && p[3] === 'name') return { type: 'provider', name: target.value! };
    if (p[1] === 'extensionProviders' && p[4] === 'service') return { type: 'service', fqdn: target.value!.replace(/^[^/]*\//, '').toLowerCase() };
    return undefined;
  }
}

function gatewayKey(index: Workspace['index'], name: string, doc: PolicyDocument): string {
  return name.includes('/') ? name : `${index.namespaceOf(doc)}/${name}`;
}

function location(ws: Workspace, doc: PolicyDocument, range: Range): Location {
  return { uri: doc.file, range: toLspRange(ws.getSource(doc.file)!, range) };
}

function declarations(ws: Workspace, sym: Symbol): Location[] {
  const index = ws.index;
  const mesh = index.mesh;
  switch (sym.type) {
    case 'service': {
      const svc = serviceByFqdn(index, sym.fqdn);
      return svc && mesh ? [location(ws, mesh.doc, rangeOf(mesh.doc, [...svc.path, 'name']))] : [];
    }
    case 'subset':
      return subsetsOf(index, sym.fqdn).filter((s) => s.name === sym.subset).map((s) => location(ws, s.rule, rangeOf(s.rule, [...s.path, 'name'])));
    case 'gateway': {
      const gw = index.gateways.get(sym.key);
      return gw ? [location(ws, gw.doc, rangeOf(gw.doc, ['metadata', 'name']))] : [];
    }
    case 'provider': {
      const provider = mesh?.extensionProviders.find((p) => p.name === sym.name);
      return provider && mesh ? [location(ws, mesh.doc, rangeOf(mesh.doc, [...provider.path, 'name']))] : [];
    }
    case 'kubernetesGateway': {
      const doc = index.byKind.KubernetesGateway.find((d) => `${index.namespaceOf(d)}/${d.name}` === sym.key);
      return doc ? [location(ws, doc, rangeOf(doc, ['metadata', 'name']))] : [];
    }
    case 'serviceAccount':
      if (!mesh) return [];
      return mesh.workloads.filter((w) => w.serviceAccount === sym.serviceAccount && w.namespace === sym.namespace).map((w) => {
        const explicit = valueAt(mesh.doc.value, [...w.path, 'serviceAccount']) !== undefined;
        return location(ws, mesh.doc, rangeOf(mesh.doc, [...w.path, explicit ? 'serviceAccount' : 'name']));
      });
  }
}

function uses(ws: Workspace, sym: Symbol): Location[] {
  const index = ws.index;
  const out: Location[] = [];
  const at = (doc: PolicyDocument, path: (string | number)[]) => out.push(location(ws, doc, rangeOf(doc, path)));
  if (sym.type === 'service' || sym.type === 'kubernetesGateway') {
    for (const route of ROUTE_KINDS.flatMap((k): PolicyDocument[] => index.byKind[k])) {
      const ns = index.namespaceOf(route);
      const spec = obj(route.value.spec);
      arr(spec.parentRefs).forEach((raw, i) => {
        const p = obj(raw);
        const kind = str(p.kind) ?? 'Gateway';
        const pns = str(p.namespace) ?? ns;
        const hit = sym.type === 'service' ? kind === 'Service' && serviceFqdn(str(p.name) ?? '', pns) === sym.fqdn : kind === 'Gateway' && `${pns}/${str(p.name)}` === sym.key;
        if (hit) at(route, ['spec', 'parentRefs', i, 'name']);
      });
      if (sym.type !== 'service') continue;
      arr(spec.rules).forEach((rule, r) => arr(obj(rule).backendRefs).forEach((raw, i) => {
        const b = obj(raw);
        if ((str(b.kind) ?? 'Service') === 'Service' && serviceFqdn(str(b.name) ?? '', str(b.namespace) ?? ns) === sym.fqdn) at(route, ['spec', 'rules', r, 'backendRefs', i, 'name']);
      }));
    }
  }
  if (sym.type === 'provider') {
    for (const ap of index.byKind.AuthorizationPolicy) {
      if (str(obj(obj(ap.value.spec).provider).name) === sym.name) at(ap, ['spec', 'provider', 'name']);
    }
  } else if (sym.type === 'gateway') {
    for (const vs of index.byKind.VirtualService) {
      const spec = obj(vs.value.spec);
      const named = (list: unknown, path: (string | number)[]) => arr(list).forEach((g, i) => {
        if (typeof g === 'string' && g !== 'mesh' && gatewayKey(index, g, vs) === sym.key) at(vs, [...path, i]);
      });
      named(spec.gateways, ['spec', 'gateways']);
      arr(spec.http).forEach((r, i) => arr(obj(r).match).forEach((m, j) => named(obj(m).gateways, ['spec', 'http', i, 'match', j, 'gateways'])));
    }
  } else if (sym.type === 'service' || sym.type === 'subset') {
    for (const vs of index.byKind.VirtualService) {
      for (const d of destinationsOf(vs)) {
        if (index.fqdn(d.host, vs) !== sym.fqdn) continue;
        if (sym.type === 'service') at(vs, [...d.path, 'host']);
        else if (d.subset === sym.subset) at(vs, [...d.path, 'subset']);
      }
      if (sym.type === 'service') {
        arr(obj(vs.value.spec).hosts).forEach((h, i) => { if (typeof h === 'string' && index.fqdn(h, vs) === sym.fqdn) at(vs, ['spec', 'hosts', i]); });
      }
    }
    if (sym.type === 'service') {
      for (const dr of index.byKind.DestinationRule) {
        const host = str(obj(dr.value.spec).host);
        if (host && index.fqdn(host, dr) === sym.fqdn) at(dr, ['spec', 'host']);
      }
    }
  } else if (sym.type === 'serviceAccount') {
    for (const ap of index.byKind.AuthorizationPolicy) {
      arr(obj(ap.value.spec).rules).forEach((rule, i) => arr(obj(rule).from).forEach((from, j) => {
        const source = obj(obj(from).source);
        for (const field of ['principals', 'notPrincipals']) {
          arr(source[field]).forEach((p, k) => {
            const parsed = typeof p === 'string' ? parsePrincipal(p) : undefined;
            if (parsed && parsed.serviceAccount === sym.serviceAccount && parsed.namespace === sym.namespace) {
              at(ap, ['spec', 'rules', i, 'from', j, 'source', field, k]);
            }
          });
        }
      }));
    }
  }
  return out;
}
