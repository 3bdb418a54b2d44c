/**
 * Loads a Mesh file and every policy YAML under its folder into one
 * workspace: the Mesh, the Istio resources, the files to watch and the
 * diagnostics. `devmesh up` and hot reload call only `loadMeshWorkspace`, so
 * swapping this interim loader for the policy core's loader is one edit here.
 *
 * INTERIM: until the policy core lands on main this does YAML parsing and the
 * few checks `up` cannot run without (a Mesh document, services, ports). It is
 * not the validator and does not try to be.
 */
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { LineCounter, parseAllDocuments, isMap, isSeq, type Document, type Node } from 'yaml';
import type { IstioKind, Resource } from '../policy/model';

export interface SourcePosition {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  column: number;
}

export interface Diagnostic extends SourcePosition {
  severity: 'error' | 'warning' | 'info';
  code: string;
  message: string;
}

export interface MeshWorkspace {
  meshFile: string;
  /** Folder of the Mesh file: cwd of apps, root of the policy tree, home of `.devmesh/`. */
  rootDir: string;
  mesh: Resource<'Mesh'>;
  resources: Resource<IstioKind>[];
  /** Every YAML file that was read (the watch list for hot reload). */
  files: string[];
  diagnostics: Diagnostic[];
  /** Where a field of the Mesh document was written, e.g. ['spec','services',0,'port']. */
  meshPosition(fieldPath: (string | number)[]): SourcePosition | undefined;
}

const ISTIO_API_VERSIONS: Record<string, readonly string[]> = {
  VirtualService: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  DestinationRule: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  Gateway: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  PeerAuthentication: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  AuthorizationPolicy: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
};

/** Folders that never hold policies; skipping them keeps the walk and the watcher cheap. */
export const IGNORED_DIRS = new Set(['node_modules', '.git', '.devmesh', 'out', 'dist']);

export function isPolicyFileName(name: string): boolean {
  return name.endsWith('.yaml') || name.endsWith('.yml');
}

export function loadMeshWorkspace(meshFile: string): MeshWorkspace {
  const abs = path.resolve(meshFile);
  const rootDir = path.dirname(abs);
  const diagnostics: Diagnostic[] = [];
  const files = [abs, ...listPolicyFiles(rootDir).filter((f) => f !== abs)];
  let mesh: Resource<'Mesh'> | undefined;
  let meshDoc: { doc: Document; lc: LineCounter } | undefined;
  const resources: Resource<IstioKind>[] = [];

  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      diagnostics.push({ file, line: 1, column: 1, severity: 'error', code: 'file-unreadable', message: `cannot read ${file}: ${(err as Error).message}` });
      continue;
    }
    const lc = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false });
    if (!Array.isArray(docs)) continue; // an empty stream
    for (const doc of docs) {
      for (const e of doc.errors) {
        const p = lc.linePos(e.pos[0]);
        diagnostics.push({ file, line: p.line, column: p.col, severity: 'error', code: 'yaml-syntax', message: e.message.split('\n')[0] });
      }
      if (doc.errors.length) continue;
      const value = doc.toJS() as { apiVersion?: unknown; kind?: unknown } | null;
      if (!value || typeof value !== 'object') continue;
      if (value.kind === 'Mesh' && value.apiVersion === 'devmesh.dev/v1alpha1') {
        if (file !== abs) continue; // another mesh's file in a subfolder: not ours
        if (mesh) {
          diagnostics.push({ file, ...posOf(doc, lc, []), severity: 'error', code: 'mesh-duplicate', message: 'a second Mesh document in the Mesh file; keep one' });
          continue;
        }
        mesh = value as Resource<'Mesh'>;
        meshDoc = { doc, lc };
      } else if (typeof value.kind === 'string' && ISTIO_API_VERSIONS[value.kind]?.includes(String(value.apiVersion))) {
        resources.push(value as Resource<IstioKind>);
      }
      // Anything else is not a mesh policy and is left alone (as the language server does).
    }
  }

  const meshPosition = (fieldPath: (string | number)[]): SourcePosition | undefined =>
    meshDoc ? { file: abs, ...posOf(meshDoc.doc, meshDoc.lc, fieldPath) } : undefined;

  if (!mesh) {
    diagnostics.push({ file: abs, line: 1, column: 1, severity: 'error', code: 'mesh-missing', message: `no \`kind: Mesh\` (apiVersion devmesh.dev/v1alpha1) document in ${path.basename(abs)}; devmesh up needs one to know what to run` });
    mesh = { apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: 'invalid' }, spec: { services: [] } };
  } else {
    diagnostics.push(...checkMeshShape(mesh, meshPosition, abs));
  }
  return { meshFile: abs, rootDir, mesh, resources, files, diagnostics, meshPosition };
}

/** The minimum `up` needs to build a snapshot; the policy core checks the rest. */
function checkMeshShape(mesh: Resource<'Mesh'>, at: MeshWorkspace['meshPosition'], file: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const err = (p: (string | number)[], code: string, message: string) =>
    out.push({ ...(at(p) ?? { file, line: 1, column: 1 }), severity: 'error', code, message });
  const services = mesh.spec?.services;
  if (!Array.isArray(services)) {
    err(['spec'], 'mesh-services', 'spec.services must be a list of services');
    return out;
  }
  services.forEach((s, i) => {
    if (!s || typeof s.name !== 'string') err(['spec', 'services', i], 'mesh-service-name', 'a service needs a name');
    if (!Number.isInteger(s?.port)) err(['spec', 'services', i], 'mesh-service-port', `service ${s?.name ?? i} needs an integer port`);
    if (!Array.isArray(s?.workloads)) { err(['spec', 'services', i], 'mesh-workloads', `service ${s?.name ?? i} needs a workloads list`); return; }
    s.workloads.forEach((w, j) => {
      if (!w || typeof w.name !== 'string') err(['spec', 'services', i, 'workloads', j], 'mesh-workload-name', 'a workload needs a name');
      if (!Number.isInteger(w?.port)) err(['spec', 'services', i, 'workloads', j], 'mesh-workload-port', `workload ${w?.name ?? j} needs an integer port (where the app listens)`);
      if (w?.command !== undefined && (!Array.isArray(w.command) || w.command.length === 0)) err(['spec', 'services', i, 'workloads', j, 'command'], 'mesh-command', 'command must be a non-empty list, e.g. ["node", "app.js"]');
    });
  });
  return out;
}

function posOf(doc: Document, lc: LineCounter, fieldPath: (string | number)[]): { line: number; column: number } {
  // Point at the value when it exists, else at the deepest ancestor that does.
  for (let n = fieldPath.length; n >= 0; n--) {
    const node = doc.getIn(fieldPath.slice(0, n), true) as Node | undefined;
    if (node && (isMap(node) || isSeq(node) || 'range' in node) && node.range) {
      const p = lc.linePos(node.range[0]);
      return { line: p.line, column: p.col };
    }
  }
  return { line: 1, column: 1 };
}

export function listPolicyFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries;
    try { entries = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) {
        if (!IGNORED_DIRS.has(e.name) && !e.name.startsWith('.')) walk(path.join(d, e.name));
      } else if (e.isFile() && isPolicyFileName(e.name)) {
        out.push(path.join(d, e.name));
      }
    }
  };
  walk(dir);
  return out;
}

export function hasErrors(diagnostics: Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** `file:line:col: severity code message`, as `devmesh validate` prints. */
export function formatDiagnostic(d: Diagnostic, cwd = process.cwd()): string {
  return `${path.relative(cwd, d.file) || d.file}:${d.line}:${d.column}: ${d.severity} ${d.code} ${d.message}`;
}
