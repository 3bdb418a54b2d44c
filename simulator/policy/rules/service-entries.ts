import type { Path } from '../source';
import { eachDocument } from './per-document';
import { arr, num, obj, str } from '../workspace-index';

/**
 * What Istio's validation refuses in a ServiceEntry (pkg/config/validation
 * ValidateServiceEntry): STATIC endpoints whose address is not an IP, an
 * endpoint naming a port the entry does not declare, endpoints with
 * resolution NONE, more than one with DNS_ROUND_ROBIN, a `*` host, an
 * address that is no IP or CIDR (and CIDRs beside DNS resolution), two
 * ports of one name or number, several hosts on a plain TCP port unless
 * resolution is NONE. And what it accepts
 * but cannot carry traffic: STATIC with neither endpoints nor a
 * workloadSelector (an error here, so a call never meets an empty cluster),
 * an entry without ports (noted: nothing is built for it).
 */
export const serviceEntries = eachDocument('ServiceEntry', ['service-entry-invalid'], (doc, report) => {
  const spec = obj(doc.value.spec);
  const resolution = str(spec.resolution) ?? 'NONE';
  const portNames = new Set(arr(spec.ports).map((p) => str(obj(p).name)).filter((n): n is string => !!n));
  if (arr(spec.ports).length === 0) {
    // Istio accepts it (validation has no such check), but builds no listener or cluster for a service without ports.
    report(doc, ['spec'], 'service-entry-invalid', 'this ServiceEntry has no ports, so no sidecar routes to it (Istio accepts it, and builds nothing for it): add the ports its hosts serve, e.g. `ports: [{ number: 443, name: https, protocol: TLS }]`', { part: 'key', severity: 'info' });
  }
  // Istio's ValidateServiceEntry errors on hosts, addresses and ports, with its words in quotes.
  arr(spec.hosts).forEach((h, i) => {
    if (h === '*') report(doc, ['spec', 'hosts', i], 'service-entry-invalid', 'a ServiceEntry host cannot be the full wildcard "*" ("invalid host *"): name the hosts, or a suffix wildcard such as "*.example.com"');
  });
  const addresses = arr(spec.addresses).map((a) => str(a) ?? '');
  addresses.forEach((a, i) => {
    const [ip, bits, extra] = a.split('/');
    const badBits = bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > (ip.includes(':') ? 128 : 32));
    if (!isIP(ip) || badBits || extra !== undefined) report(doc, ['spec', 'addresses', i], 'service-entry-invalid', `address "${a}" is not an IP address or a CIDR block (Istio refuses it); write e.g. 10.0.0.5 or 10.0.0.0/24`);
  });
  if (addresses.some((a) => a.includes('/')) && resolution !== 'NONE' && resolution !== 'STATIC') {
    report(doc, ['spec', 'resolution'], 'service-entry-invalid', `CIDR addresses are allowed only for NONE/STATIC resolution types (Istio refuses resolution ${resolution} with them): use resolution NONE to pass the addressed IP through, or list single addresses`);
  }
  const seenNames = new Set<string>();
  const seenNumbers = new Set<number>();
  arr(spec.ports).forEach((raw, i) => {
    const p = obj(raw);
    const name = str(p.name);
    const number = num(p.number);
    if (name !== undefined && seenNames.has(name)) report(doc, ['spec', 'ports', i, 'name'], 'service-entry-invalid', `service entry port name "${name}" already defined (Istio refuses two ports of one name): rename one of them`);
    if (number !== undefined && seenNumbers.has(number)) report(doc, ['spec', 'ports', i, 'number'], 'service-entry-invalid', `service entry port ${number} already defined (Istio refuses two ports of one number): remove the repeated port`);
    if (name !== undefined) seenNames.add(name);
    if (number !== undefined) seenNumbers.add(number);
  });
  const hostCount = arr(spec.hosts).length;
  const opaque = arr(spec.ports).findIndex((raw) => !/^(HTTP|HTTPS|HTTP2|GRPC|GRPC-WEB|TLS)$/i.test(str(obj(raw).protocol) ?? 'TCP'));
  if (resolution !== 'NONE' && hostCount > 1 && opaque >= 0) {
    report(doc, ['spec', 'ports', opaque], 'service-entry-invalid', 'multiple hosts provided with non-HTTP, non-TLS ports (Istio refuses it: plain TCP carries no Host or SNI to tell the hosts apart): one ServiceEntry per host, or resolution NONE');
  }
  const endpoints = arr(spec.endpoints);
  const selects = Object.keys(obj(obj(spec.workloadSelector).labels)).length > 0;
  if (resolution === 'STATIC' && endpoints.length === 0 && !selects) {
    report(doc, ['spec', 'resolution'], 'service-entry-invalid', 'resolution STATIC needs endpoints (their addresses are the hosts to call) or a workloadSelector; add `endpoints: [{ address: 127.0.0.1 }]`, or use resolution DNS to resolve the hosts themselves');
  }
  if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
    report(doc, ['spec', 'endpoints'], 'service-entry-invalid', 'resolution DNS_ROUND_ROBIN takes 0 or 1 endpoint ("there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN"): keep one, or use resolution DNS');
  }
  if (resolution === 'NONE' && endpoints.length > 0) {
    report(doc, ['spec', 'endpoints'], 'service-entry-invalid', 'resolution NONE takes no endpoints ("no endpoints should be provided for resolution type none"): the call goes where the caller sent it; use resolution STATIC or DNS to send to these endpoints');
  }
  endpoints.forEach((raw, i) => {
    const e = obj(raw);
    const at: Path = ['spec', 'endpoints', i];
    const address = str(e.address);
    if (resolution === 'STATIC' && address && !isIP(address) && !address.startsWith('unix://')) {
      report(doc, [...at, 'address'], 'service-entry-invalid', `endpoint address "${address}" is not an IP address; with resolution STATIC write an IP (127.0.0.1 for a local server), or use resolution DNS for a name`);
    }
    for (const [name, port] of Object.entries(obj(e.ports))) {
      if (!portNames.has(name)) report(doc, [...at, 'ports', name], 'service-entry-invalid', `endpoint port "${name}" is not a port of this ServiceEntry (${[...portNames].join(', ') || 'none'}); name one of them`, { part: 'key' });
      else if (num(port) === undefined) report(doc, [...at, 'ports', name], 'service-entry-invalid', `endpoint port "${name}" must be a port number`);
    }
  });
});

/** An IPv4 or IPv6 address (no name resolution: the policy core does no I/O). */
function isIP(a: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(a)) return a.split('.').every((o) => Number(o) <= 255);
  return a.includes(':') && /^[0-9a-fA-F:.]+$/.test(a) && (a.match(/::/g) ?? []).length <= 1;
}
