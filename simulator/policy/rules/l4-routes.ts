import { protocolClass, type ProtocolClass } from '../protocols';
import type { PolicyDocument } from '../source';
import type { DocumentRule } from './rule';
import { gatewaysOf } from './destinations';
import { arr, num, obj, str, type ServiceView } from '../workspace-index';

/**
 * tcp[] and tls[] rules apply only where Istio applies them (VirtualService
 * proto: "TCP routes will be applied to any port that is not a HTTP or TLS
 * port"; "TLS routes will be applied to platform service ports named
 * 'https-*', 'tls-*'"). A rule whose match.port is a port of another kind, or
 * that names no port on hosts with no port of its kind, is never used: an
 * error, since the traffic it means to route goes elsewhere. Sidecar-bound
 * VirtualServices only: at a Gateway, match.port is the Gateway's port.
 */
export const l4Routes: DocumentRule<'VirtualService'> = {
  codes: ['protocol-mismatch'],
  kinds: ['VirtualService'],
  facts: (index) => index.meshFacts,
  check(vs, index, report) {
    if (!index.mesh || !gatewaysOf(vs).includes('mesh')) return;
    const spec = obj(vs.value.spec);
    const services = arr(spec.hosts).map((h) => str(h)).filter((h): h is string => !!h).map((h) => index.service(h, vs)).filter((s): s is ServiceView => !!s);
    if (services.length === 0) return;
    for (const kind of ['tcp', 'tls'] as const) {
      arr(spec[kind]).forEach((r, i) => checkRule(vs, kind, i, obj(r), services, report));
    }
  },
};

const NEEDS: Record<'tcp' | 'tls', ProtocolClass> = { tcp: 'tcp', tls: 'tls' };
const INSTEAD: Record<ProtocolClass, string> = { http: 'http[] rules', tls: 'tls[] rules (by SNI)', tcp: 'tcp[] rules', udp: 'nothing (UDP is not proxied)' };

function checkRule(vs: PolicyDocument<'VirtualService'>, kind: 'tcp' | 'tls', i: number, rule: Record<string, unknown>, services: ServiceView[], report: Parameters<typeof l4Routes.check>[2]): void {
  const want = NEEDS[kind];
  const ports = services.flatMap((s) => s.ports.map((p) => ({ s, p, cls: protocolClass(p.protocol) })));
  const describe = (list: typeof ports) => list.map(({ s, p }) => `${s.name}:${p.port} ${p.protocol}`).join(', ');
  let portless = arr(rule.match).length === 0;
  arr(rule.match).forEach((m, j) => {
    const port = num(obj(m).port);
    if (port === undefined) { portless = true; return; }
    const at = ports.filter((x) => x.p.port === port);
    // A port no host has is policy-ports' finding (unknown-port).
    if (at.length === 0 || at.some((x) => x.cls === want)) return;
    report(vs, ['spec', kind, i, 'match', j, 'port'], 'protocol-mismatch',
      `${kind}[] never applies on port ${port}: it is ${describe(at)}, which Istio routes by ${INSTEAD[at[0].cls]}; ${kind === 'tcp' ? 'name the port tcp-* (or set appProtocol: tcp) for opaque TCP' : 'name the port tls-* or https-* for TLS passthrough'}, or route it with ${INSTEAD[at[0].cls]}`);
  });
  if (portless && !ports.some((x) => x.cls === want)) {
    report(vs, ['spec', kind, i], 'protocol-mismatch',
      `${kind}[] never applies: the hosts of this VirtualService have no ${want === 'tcp' ? 'TCP' : 'TLS'} port (they have ${describe(ports)}); ${kind === 'tcp' ? 'TCP routes apply to ports that are neither HTTP nor TLS' : 'TLS routes apply to tls-* and https-* ports'}`, { part: 'key' });
  }
}
