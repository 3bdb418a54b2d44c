import { hostMatches, exportedTo } from '../hosts';
import type { PolicyDocument } from '../source';
import type { DocumentRule } from './rule';
import { destinationsOf, gatewaysOf } from './destinations';
import { arr, obj, str, type MeshView, type WorkspaceIndex } from '../workspace-index';

/**
 * Destinations must name a service of the Mesh or a host of a ServiceEntry
 * visible to the VirtualService (IST0101); on a ServiceEntry, a port it has,
 * and a port when it has several (IST0112) — a Mesh service's ports are
 * policy-ports' to check. A service whose Kubernetes Service in the
 * workspace is exported (`networking.istio.io/exportTo`) to none of the
 * namespaces the VirtualService applies in is not found there (IST0101), as
 * Istio's analyzer decides it. A DestinationRule for a host that is neither
 * applies to nothing (IST0174). A host the sidecars route that is no service
 * is only noted: Istio applies such routes to calls to that name on port 80.
 */
export const unknownHost: DocumentRule<'VirtualService' | 'DestinationRule'> = {
  codes: ['unknown-host'],
  kinds: ['VirtualService', 'DestinationRule'],
  // Every host is looked up among the Mesh's services and the ServiceEntries, and the hint lists the services.
  facts: (index) => `${index.meshFacts}\n${index.serviceEntryFacts}\n${index.serviceExportFacts}`,
  check(doc, index, report) {
    const mesh = index.mesh;
    if (!mesh) return;
    const namespace = index.namespaceOf(doc);
    if (doc.kind === 'DestinationRule') {
      const host = str(obj(doc.value.spec).host);
      if (host && !host.includes('*') && !index.destination(host, doc)) {
        report(doc, ['spec', 'host'], 'unknown-host', `this DestinationRule applies to no service (IST0174): ${hint(mesh, host, namespace)}`, { severity: 'warning', data: { host } });
      }
      return;
    }
    const vs = doc as PolicyDocument<'VirtualService'>;
    for (const d of destinationsOf(vs)) {
      const target = index.destination(d.host, vs);
      if (!target) {
        report(vs, [...d.path, 'host'], 'unknown-host', `referenced host not found (IST0101): ${hint(mesh, d.host, namespace)}`, { data: { host: d.host } });
      } else if (target.kind !== 'ServiceEntry') {
        const hidden = hiddenService(d.host, vs, index);
        if (hidden) report(vs, [...d.path, 'host'], 'unknown-host', `referenced host not found (IST0101): ${hidden}`, { data: { host: d.host } });
      } else if (d.port !== undefined && target.ports.length > 0 && !target.ports.includes(d.port)) {
        report(vs, [...d.path, 'port', 'number'], 'unknown-host',
          `referenced host:port not found (IST0101): ServiceEntry ${target.name} has no port ${d.port}; use ${target.ports.join(', ')}`, { data: { host: d.host } });
      } else if (d.port === undefined && target.ports.length > 1) {
        report(vs, [...d.path, 'host'], 'unknown-host',
          `ServiceEntry ${target.name} has several ports (${target.ports.join(', ')}): name the one to send to with port.number (IST0112)`, { data: { host: d.host } });
      }
    }
    // Hosts of sidecar-bound VirtualServices that are not services: the routes apply only to calls to that name.
    if (gatewaysOf(vs).includes('mesh')) {
      arr(obj(vs.value.spec).hosts).forEach((h, i) => {
        const host = str(h);
        if (!host || routable(host, vs, index, mesh)) return;
        report(vs, ['spec', 'hosts', i], 'unknown-host',
          `no service or ServiceEntry has host "${host}", so the sidecars apply these routes only to calls to that name (Istio: on port 80); ${hint(mesh, host, namespace)}`,
          { severity: 'info', data: { host } });
      });
    }
  },
};

/**
 * Why a Mesh service is out of a VirtualService's sight on a cluster: its
 * Kubernetes Service is exported to none of the namespaces the VirtualService
 * is exported to (its own without exportTo). Undefined: it is visible, or the
 * workspace holds no such Service.
 */
function hiddenService(host: string, vs: PolicyDocument<'VirtualService'>, index: WorkspaceIndex): string | undefined {
  const service = index.service(host, vs);
  const k8s = service && index.cluster.services.find((s) => s.name === service.name && s.namespace === service.namespace);
  if (!k8s || k8s.exportTo.includes('*')) return undefined;
  const namespace = index.namespaceOf(vs);
  const exportTo = arr(obj(vs.value.spec).exportTo).map(str).filter((e): e is string => !!e);
  const applies = exportTo.length === 0 ? [namespace] : exportTo.map((e) => (e === '.' ? namespace : e));
  if (applies.some((ns) => exportedTo(k8s.exportTo, k8s.namespace, ns))) return undefined;
  return `Service ${k8s.namespace}/${k8s.name} is exported (networking.istio.io/exportTo) only to ${k8s.exportTo.join(', ')}, and this VirtualService applies in ${applies.join(', ')}; add ${applies.length > 1 ? 'one of them' : applies[0]} to the Service's annotation, or export the VirtualService where the Service is seen`;
}

/** Whether a VirtualService host names (or, as a wildcard, covers) a service or a ServiceEntry host. */
function routable(host: string, vs: PolicyDocument<'VirtualService'>, index: WorkspaceIndex, mesh: MeshView): boolean {
  const fqdn = index.fqdn(host, vs);
  return mesh.services.some((s) => hostMatches(fqdn, s.fqdn)) || index.destination(host, vs) !== undefined
    || index.cluster.serviceEntries.some((se) => se.hosts.some((h) => hostMatches(fqdn, h)));
}

/** How to name a service from a policy in `namespace`: short in its own namespace, else the FQDN. */
function policyName(s: { name: string; namespace: string; fqdn: string }, namespace: string): string {
  return s.namespace === namespace ? s.name : s.fqdn;
}

function hint(mesh: MeshView, host: string, namespace: string): string {
  const dotted = host.split('.');
  // `reviews.default` is a DNS name for callers, but Istio takes policy hosts literally.
  const meant = (dotted.length === 2 || (dotted.length === 3 && dotted[2] === 'svc')) && mesh.services.find((s) => s.name === dotted[0] && s.namespace === dotted[1]);
  if (meant) {
    return `Istio reads "${host}" literally and finds no such host: write "${policyName(meant, namespace)}"${meant.namespace === namespace ? ` or "${meant.fqdn}"` : ''}`;
  }
  const elsewhere = dotted.length === 1 && mesh.services.filter((s) => s.name === host && s.namespace !== namespace);
  if (elsewhere && elsewhere.length) {
    return `a short host names a service of this resource's namespace "${namespace}", which has no "${host}": write ${elsewhere.map((s) => `"${s.fqdn}"`).join(' or ')}`;
  }
  const names = mesh.services.map((s) => policyName(s, namespace));
  return `"${host}" is not a service of the Mesh${names.length ? `: use one of ${names.join(', ')}, or add it to ${mesh.doc.file}` : ` (it has none yet): add it to ${mesh.doc.file}`} or define it with a ServiceEntry`;
}
