import { SIMULATED_PROTOCOLS } from '../protocols';
import type { WorkspaceRule } from './rule';
import { obj, valueAt } from '../workspace-index';

/**
 * The services of a Mesh as Kubernetes and Istio read them: each has a port;
 * with several, each is named (Kubernetes requires it) and listed once; the
 * protocol a port declares is one devmesh serves, or a warning says it is
 * carried but not simulated; a port that declares none is what Istio would
 * sniff (IST0118); and something must be behind the service.
 */
export const meshServices: WorkspaceRule = {
  codes: ['missing-field', 'duplicate-name', 'port-collision', 'not-simulated', 'undeclared-protocol', 'service-without-workloads'],
  reads: ['Mesh'],
  check(index, report) {
    const mesh = index.mesh;
    if (!mesh) return;
    const doc = mesh.doc;
    for (const s of mesh.services) {
      const raw = obj(valueAt(doc.value, s.path));
      if (raw.port === undefined && raw.ports === undefined) {
        report(doc, [...s.path, 'name'], 'missing-field', `service "${s.name}" has no port: add the port callers address, e.g. \`port: 9080\` (or \`ports:\` for several)`);
      }
      const names = new Set<string>();
      const numbers = new Set<number>();
      for (const p of s.ports) {
        const several = s.ports.length > 1;
        if (several && !p.name) report(doc, [...p.path, 'port'], 'missing-field', `port ${p.port} of service "${s.name}" needs a name when the service has several ports (as in Kubernetes), e.g. "http-${p.port}"; its prefix gives the protocol`, { part: 'key' });
        if (p.name && names.has(p.name)) report(doc, [...p.path, 'name'], 'duplicate-name', `port name "${p.name}" is used twice in service "${s.name}"; name each port once`);
        if (numbers.has(p.port)) report(doc, [...p.path, 'port'], 'port-collision', `port ${p.port} is listed twice in service "${s.name}"; list each service port once`);
        names.add(p.name);
        numbers.add(p.port);
        const declaredBy = ['protocol', 'appProtocol', 'name'].find((k) => obj(valueAt(doc.value, p.path))[k] !== undefined) ?? 'port';
        if (!SIMULATED_PROTOCOLS.has(p.protocol)) {
          report(doc, [...p.path, declaredBy], 'not-simulated',
            `port ${p.port} of service "${s.name}" is ${p.protocol}: devmesh carries it (validation, export, import) but does not simulate it yet — its sidecars speak HTTP/1.1 to it; it will work on a cluster`);
        } else if (!p.declared) {
          report(doc, [...p.path, declaredBy], 'undeclared-protocol',
            `port ${p.port} of service "${s.name}" does not say its protocol: name it after it (http, http-*, grpc-*, tcp-*, ...) or set appProtocol; Istio would sniff it, devmesh takes HTTP (IST0118)`);
        }
      }
      if (s.workloads.length === 0) {
        const why = s.selector
          ? `its selector ${JSON.stringify(s.selector)} matches no workload of namespace "${s.namespace}"`
          : 'it has no workloads and no selector';
        report(doc, [...s.path, s.selector ? 'selector' : 'name'], 'service-without-workloads', `service "${s.name}" has nothing behind it: ${why}; callers get 503 (no healthy upstream)`, s.selector ? { part: 'key' } : undefined);
      }
    }
  },
};
