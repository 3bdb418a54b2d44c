/**
 * `devmesh import` as a pure function: manifest files in; the Mesh as
 * commented YAML, the Istio resources to copy beside it and notes on what
 * could not be mapped out. Writing them is the command's job.
 */
import { Document, isMap, isScalar, type YAMLMap } from 'yaml';
import { API_VERSIONS, classify, type ExtensionProvider } from '../policy';
import { readManifests, type ManifestFile } from './manifests';
import type { ImportNote } from './notes';
import { isMeshConfig, meshConfigOf, tracingOf, type ImportedMeshConfig } from './mesh-config';
import { buildMesh, type ImportedMesh, type ImportedWorkload } from './to-mesh';

export * from './manifests';
export * from './notes';
export * from './to-mesh';

export interface ImportOptions {
  /** metadata.name of the Mesh. */
  name: string;
  /** Where the manifests came from, for the header comment. */
  source: string;
}

export interface ImportResult {
  mesh: ImportedMesh;
  meshText: string;
  /** Istio files, paths relative to the policies folder. */
  policies: { path: string; text: string; resources: number }[];
  notes: ImportNote[];
}

export function importManifests(files: readonly ManifestFile[], options: ImportOptions): ImportResult {
  const { objects, istio, notes } = readManifests(files);
  const meshConfig = meshConfigOf(objects, notes);
  const telemetry = tracingOf(meshConfig, istio, notes);
  if (telemetry) meshConfig.telemetry = telemetry;
  const mesh = buildMesh(objects.filter((o) => !isMeshConfig(o)), notes);
  for (const i of istio) {
    const cls = classify(String(i.document.get('apiVersion') ?? ''), i.kind);
    if (cls.kind === undefined) {
      notes.push({ severity: 'info', code: 'not-simulated', message: `${i.kind} ${i.name} (${i.file}) is copied as written; devmesh does not simulate ${i.kind} locally (validate still checks what it can)` });
    }
  }
  const policies: ImportResult['policies'] = [];
  const sourceFiles = [...new Set(istio.map((i) => i.file))];
  const names = flatNames(sourceFiles);
  for (const path of sourceFiles) {
    const docs = istio.filter((i) => i.file === path).map((i) => i.document);
    policies.push({
      path: names.get(path)!,
      text: docs.map((d, i) => {
        const text = d.toString({ lineWidth: 0 });
        return i === 0 || /^---(\s|$)/.test(text) ? text : `---\n${text}`;
      }).join(''),
      resources: docs.length,
    });
  }
  return { mesh, meshText: meshYaml(mesh, options, meshConfig), policies, notes };
}

/** One flat policies/ folder: each file keeps its name; a name two folders share gets its folder as a prefix. */
function flatNames(paths: readonly string[]): Map<string, string> {
  const base = (p: string) => p.split(/[\\/]/).pop()!;
  const count = new Map<string, number>();
  for (const p of paths) count.set(base(p), (count.get(base(p)) ?? 0) + 1);
  return new Map(paths.map((p) => [p, count.get(base(p))! > 1 ? p.split(/[\\/]/).join('-') : base(p)]));
}

/** The Mesh as YAML a person edits next: flow-style labels and selectors, a TODO where each command goes. */
export function meshYaml(mesh: ImportedMesh, options: ImportOptions, { extensionProviders, outboundTrafficPolicy, telemetry }: ImportedMeshConfig = { extensionProviders: [] }): string {
  const plain = ({ containerPort: _containerPort, containerPorts: _containerPorts, ...w }: ImportedWorkload) => w;
  // A service that only selects workloads another one holds has no list of its own.
  const services = mesh.services.map(({ workloads, ...s }) => ({ ...s, ...(workloads.length ? { workloads: workloads.map(plain) } : {}) }));
  const doc = new Document({
    apiVersion: API_VERSIONS.Mesh[0],
    kind: 'Mesh',
    metadata: { name: options.name },
    spec: { namespace: mesh.namespace, ...(telemetry ? { telemetry } : {}), ...(extensionProviders.length ? { extensionProviders } : {}), ...(outboundTrafficPolicy ? { outboundTrafficPolicy } : {}), services, ...(mesh.workloads.length ? { workloads: mesh.workloads.map(plain) } : {}) },
  });
  doc.commentBefore = [
    ` Imported by devmesh import from ${options.source}.`,
    ' Workloads without a command are processes you run yourself (devmesh fronts their port);',
    ' fill in each TODO to let devmesh start them. Check with: devmesh validate',
  ].join('\n');
  const todo = (node: YAMLMap, w: ImportedWorkload) => {
    for (const key of ['labels', 'env', 'ports']) {
      const value = node.get(key, true);
      if (isMap(value)) value.flow = true;
    }
    const pair = node.items.find((p) => isScalar(p.key) && (p.key.value === 'port' || p.key.value === 'ports'))
      ?? node.items.find((p) => isScalar(p.key) && p.key.value === 'serviceAccount');
    if (pair && isScalar(pair.key)) {
      const moved = w.port !== undefined && w.port !== w.containerPort ? ` (in the cluster it listens on ${w.containerPort}; PORT tells it ${w.port})` : '';
      pair.key.commentBefore = ` TODO: command to start ${w.name} locally, e.g. command: ["node", "server.js"]${moved}`;
    }
  };
  mesh.services.forEach((s, i) => {
    const selector = doc.getIn(['spec', 'services', i, 'selector'], true);
    if (isMap(selector)) selector.flow = true;
    s.workloads.forEach((w, j) => todo(doc.getIn(['spec', 'services', i, 'workloads', j]) as YAMLMap, w));
  });
  mesh.workloads.forEach((w, j) => todo(doc.getIn(['spec', 'workloads', j]) as YAMLMap, w));
  return doc.toString({ lineWidth: 0 });
}
