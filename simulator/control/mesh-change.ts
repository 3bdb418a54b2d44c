/**
 * What an edit of the Mesh file means for a running mesh, worked out before
 * anything is touched. Pure: the Mesh as running and as edited in, a plan
 * out, so every case is unit-tested without processes.
 *
 * Like `kubectl apply` of a Deployment, a workload that appears is started,
 * one that disappears is stopped, and one whose pod template changed (its
 * command, env, cwd, port) has its app restarted; labels and services only
 * change what the sidecars route on, so a new snapshot is enough. A new
 * service account is a new identity: its sidecar restarts with a certificate
 * for it, as a pod would. The defaults (flavor, compatibilityVersion,
 * meshConfig) and the extension providers (external authorizers) are
 * configuration, as istiod pushes a MeshConfig change: a new snapshot is
 * enough. Settings of the whole mesh (control port, ingress
 * port, trust domain, namespace, telemetry) are the installation itself:
 * those still take a new `devmesh up`, and the plan says which they are.
 */
import { meshInventory } from '../policy/mesh-inventory';
import type { MeshSpec, Resource, WorkloadSpec } from '../policy/model';

export interface PlacedWorkload {
  /** The service it is named after (the one it is nested under, else the first that selects it). */
  service: string;
  spec: WorkloadSpec;
  /** Where it is written: `['spec', 'services', i, 'workloads', j]` or `['spec', 'workloads', j]`. */
  field: (string | number)[];
  /** `ns/serviceAccount`: its SPIFFE identity without the trust domain. */
  identity: string;
  /** The local ports its app is given (PORT first), in a stable order. */
  localPorts: number[];
}

export interface MeshChangePlan {
  /** Mesh-wide settings that changed; they take effect on the next `devmesh up` only. */
  needsRestart: string[];
  added: PlacedWorkload[];
  removed: string[];
  /** Workloads whose app must restart (command, env, cwd or port changed). */
  restartApp: string[];
  /** Workloads whose sidecar must restart (service account or pinned sidecar ports changed). */
  restartSidecar: string[];
  /** Anything at all a sidecar would see (services, ports, labels, extension providers...), i.e. a new snapshot is due. */
  changed: boolean;
  /** flavor, compatibilityVersion or meshConfig changed: the sidecars' defaults change with the next snapshot. */
  defaultsChanged: boolean;
  /** The extension providers (external authorizers) changed. */
  extensionProviders?: boolean;
}

/** The Mesh fields the defaults table resolves from (policy/defaults). */
export function defaultsOf(spec: MeshSpec): Pick<MeshSpec, 'flavor' | 'compatibilityVersion' | 'meshConfig'> {
  return { flavor: spec.flavor, compatibilityVersion: spec.compatibilityVersion, meshConfig: spec.meshConfig };
}

const MESH_SETTINGS: Array<[string, (s: MeshSpec, name: string) => unknown]> = [
  ['metadata.name', (_s, name) => name],
  ['spec.controlPort', (s) => s.controlPort],
  ['spec.ingress', (s) => s.ingress],
  ['spec.trustDomain', (s) => s.trustDomain],
  ['spec.namespace', (s) => s.namespace],
  ['spec.telemetry', (s) => s.telemetry],
];

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export function placedWorkloads(spec: MeshSpec): Map<string, PlacedWorkload> {
  const out = new Map<string, PlacedWorkload>();
  for (const w of meshInventory(spec).workloads) {
    const [, list, i, , j] = w.path;
    const written = list === 'workloads' ? spec.workloads![i as number] : spec.services[i as number].workloads![j as number];
    const others = [...new Set(Object.values(w.containerPorts))].filter((p) => p !== w.appPort).sort((a, b) => a - b);
    out.set(w.name, { service: w.service, spec: written, field: [...w.path], identity: `${w.namespace}/${w.serviceAccount}`, localPorts: w.appPort === undefined ? others : [w.appPort, ...others] });
  }
  return out;
}

export function planMeshChange(running: Resource<'Mesh'>, edited: Resource<'Mesh'>): MeshChangePlan {
  const needsRestart = MESH_SETTINGS
    .filter(([, get]) => !same(get(running.spec, running.metadata.name), get(edited.spec, edited.metadata.name)))
    .map(([field]) => field);
  const before = placedWorkloads(running.spec);
  const after = placedWorkloads(edited.spec);
  const added = [...after.values()].filter((w) => !before.has(w.spec.name));
  const removed = [...before.keys()].filter((name) => !after.has(name));
  const restartApp: string[] = [];
  const restartSidecar: string[] = [];
  for (const [name, now] of after) {
    const was = before.get(name);
    if (!was) continue;
    // The service account defaults to the service name, so moving a workload between services (or namespaces) can change it.
    if (was.identity !== now.identity || !same(was.spec.sidecar, now.spec.sidecar)) restartSidecar.push(name);
    // A command removed stops the app: the developer runs it from now on. Its env holds its local ports.
    if ((was.spec.command || now.spec.command) && (!same(was.spec.command, now.spec.command) || !same(was.spec.env, now.spec.env) || was.spec.cwd !== now.spec.cwd || !same(was.localPorts, now.localPorts)
      // Its HTTP_PROXY is the outbound port.
      || was.spec.sidecar?.outboundPort !== now.spec.sidecar?.outboundPort)) restartApp.push(name);
  }
  // extensionProviders are meshConfig istiod applies without a restart: a new snapshot is enough.
  const extensionProviders = !same(running.spec.extensionProviders, edited.spec.extensionProviders);
  return {
    needsRestart, added, removed, restartApp, restartSidecar,
    changed: !same(running.spec.services, edited.spec.services) || !same(running.spec.workloads, edited.spec.workloads)
      || running.spec.rootNamespace !== edited.spec.rootNamespace || extensionProviders,
    defaultsChanged: !same(defaultsOf(running.spec), defaultsOf(edited.spec)),
    ...(extensionProviders ? { extensionProviders } : {}),
  };
}

/** One line for the log: what the edit does, e.g. "started ratings-v2; stopped reviews-v3; restarted the app of details-v1". */
export function describePlan(plan: MeshChangePlan): string {
  const parts: string[] = [];
  if (plan.added.length) parts.push(`started ${plan.added.map((w) => w.spec.name).join(', ')}`);
  if (plan.removed.length) parts.push(`stopped ${plan.removed.join(', ')}`);
  if (plan.restartSidecar.length) parts.push(`restarted the sidecar of ${plan.restartSidecar.join(', ')}`);
  const appsOnly = plan.restartApp.filter((n) => !plan.restartSidecar.includes(n));
  if (appsOnly.length) parts.push(`restarted the app of ${appsOnly.join(', ')}`);
  if (plan.extensionProviders) parts.push('extension providers updated');
  return parts.join('; ') || 'services updated';
}
