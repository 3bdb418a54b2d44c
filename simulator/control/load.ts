/**
 * Loads a Mesh file and every policy YAML under its folder into what
 * `devmesh up` needs: the Mesh, the Istio resources, the diagnostics (located
 * as `devmesh validate` prints them) and positions in the Mesh document for
 * errors the control plane finds itself (ports, commands). It is a thin edge
 * over the policy core: one code path validates for `validate`, `up`, hot
 * reload and the language server.
 */
import { withEgressGateway } from '../policy/egress-gateway';
import { tlsSecrets, type TlsSecret } from '../policy/gateway-api/secrets';
import { ingressTerminatedPorts, type TerminatedPort } from '../policy/gateway-tls';
import type { GatewayStatus, RouteStatus } from '../policy/gateway-api/status';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { collectPolicyFiles, diagnosticsWithFiles, loadMeshFolder, PathError } from '../policy-files';
import { displayPath as relativeToCwd, locate, locateAll, type LocatedDiagnostic } from '../diagnostics-format';
import { diagnostic, offsetToPosition, rangeOf, resolvePolicies, type DiagnosticCode, type Workspace } from '../policy';
import type { IstioKind, Resource } from '../policy/model';
import { resourceKind } from '../policy/kinds';

/** Where something was written: file relative to the cwd, 1-based line and column. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/** A diagnostic at the terminal edge: file relative to the cwd, 1-based line/column. */
export type Diagnostic = LocatedDiagnostic;

export interface MeshWorkspace {
  meshFile: string;
  /** Folder of the Mesh file: cwd of apps, root of the policy tree, home of `.devmesh/`. */
  rootDir: string;
  mesh: Resource<'Mesh'>;
  resources: Resource<IstioKind>[];
  /** Every YAML file that was read (the watch list for hot reload). */
  files: string[];
  /** Files that hold at least one mesh policy document (validate's "N files checked"). */
  policyFileCount: number;
  diagnostics: Diagnostic[];
  /**
   * A finding of the control plane (a port taken, a command not found) at a
   * field of the Mesh document, e.g. ['spec','services',0,'port']; without
   * one, at the Mesh file's start.
   */
  meshDiagnostic(fieldPath: (string | number)[] | undefined, code: DiagnosticCode, message: string): Diagnostic;
  /** Where a policy document (kind, namespace as resolved, name), or a field of it, was written; file relative to the cwd. */
  policyPosition(ref: { kind: string; namespace: string; name: string }, fieldPath?: readonly (string | number)[]): SourcePosition | undefined;
  /** The Gateway API as a controller would report it (status of every Gateway and route), and the workspace's TLS Secrets. */
  gatewayApi: GatewayApiView;
}

export interface GatewayApiView {
  gateways: GatewayStatus[];
  routes: RouteStatus[];
  secrets: Map<string, TlsSecret>;
  /** Istio Gateway server ports that terminate TLS at the ingress, with the folder of each Gateway's file (relative certificate paths). */
  istio: TerminatedPort[];
}

/** Folders that never hold policies; the watcher skips them (the core's walk skips dot-folders and node_modules). */
export const IGNORED_DIRS = new Set(['node_modules', '.git', '.devmesh']);

export function isPolicyFileName(name: string): boolean {
  return /\.ya?ml$/i.test(name);
}

const displayPath = (file: string) => relativeToCwd(file, process.cwd());

const EMPTY_MESH: Resource<'Mesh'> = { apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: 'invalid' }, spec: { services: [] } };

/**
 * Loads the Mesh and its policies for `up` (`load()`), then for hot reload
 * (`update()`): keeps the core's Workspace between edits and feeds it
 * only the files that changed, so an edit costs one file's parse and schema
 * check plus the cross-file rules, not the whole folder again (the budget for
 * save -> every sidecar serving is 100 ms at p99).
 */
export class IncrementalMeshLoader {
  private workspace: Workspace | undefined;
  constructor(private readonly meshFile: string) {}

  async load(): Promise<MeshWorkspace> {
    const abs = path.resolve(this.meshFile);
    try {
      this.workspace = (await loadMeshFolder(abs)).workspace;
      return viewOf(abs, this.workspace);
    } catch (err) {
      if (!(err instanceof PathError)) throw err;
      return unreadable(abs, err);
    }
  }

  /**
   * The files that differ on disk from what was read: edited, added or
   * removed since (the tree the core's walk finds now against the workspace).
   */
  async changedOnDisk(): Promise<string[]> {
    const ws = this.workspace;
    if (!ws) return [];
    const abs = path.resolve(this.meshFile);
    let now: string[];
    try {
      now = await collectPolicyFiles([path.dirname(abs)]);
    } catch {
      return [abs];
    }
    if (!now.includes(abs)) now.push(abs);
    const out = ws.fileNames().filter((f) => !now.includes(f));
    await Promise.all(now.map(async (f) => {
      const text = await fs.readFile(f, 'utf8').catch(() => undefined);
      if (text !== ws.getSource(f)?.text) out.push(f);
    }));
    return out.sort();
  }

  /**
   * Applies changed/added/removed files; falls back to a full load when it has
   * no workspace yet. Which files belong to the mesh is decided by the core's
   * own walk (it skips, e.g., folders `devmesh export` wrote), so a watched file
   * the core would not read is never added here either.
   */
  async update(changed: readonly string[]): Promise<MeshWorkspace> {
    if (!this.workspace || changed.length === 0) return this.load();
    const ws = this.workspace;
    const abs = path.resolve(this.meshFile);
    let members: Set<string>;
    try {
      members = new Set(await collectPolicyFiles([path.dirname(abs)]));
    } catch {
      return this.load();
    }
    members.add(abs);
    await Promise.all(changed.map(async (file) => {
      if (!members.has(file)) { ws.removeFile(file); return; }
      try {
        ws.setFile(file, await fs.readFile(file, 'utf8'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') ws.removeFile(file);
        else throw err;
      }
    }));
    // A folder that just became an export folder drops out of the tree as a whole.
    for (const f of ws.fileNames()) if (!members.has(f)) ws.removeFile(f);
    return viewOf(abs, ws);
  }
}

function unreadable(abs: string, err: PathError): MeshWorkspace {
  const d = locate(diagnostic('file-unreadable', err.file, { start: 0, end: 0 }, err.message));
  return { meshFile: abs, rootDir: path.dirname(abs), mesh: EMPTY_MESH, resources: [], files: [], policyFileCount: 0, diagnostics: [d], meshDiagnostic: atFileStart(abs), policyPosition: () => undefined, gatewayApi: { gateways: [], routes: [], secrets: new Map(), istio: [] } };
}

/** What `up` needs from a validated workspace. */
function viewOf(abs: string, ws: Workspace): MeshWorkspace {
  const rootDir = path.dirname(abs);
  const diagnostics = locateAll(ws, diagnosticsWithFiles(ws));
  const meshDoc = ws.index.mesh?.doc;
  const atStart = atFileStart(abs);
  if (meshDoc && path.resolve(meshDoc.file) !== abs) {
    diagnostics.push(atStart(undefined, 'mesh-missing', `no kind: Mesh document in this file (the Mesh found is in ${displayPath(meshDoc.file)}); pass that file with -f`));
  }
  const resolved = diagnostics.some((d) => d.severity === 'error') ? undefined : resolvePolicies(ws);
  if (!resolved && !diagnostics.some((d) => d.severity === 'error')) {
    diagnostics.push(atStart(undefined, 'mesh-missing', `no kind: Mesh (apiVersion devmesh.dev/v1alpha1) document in ${path.basename(abs)}; devmesh up needs one to know what to run`));
  }
  // A Mesh without services is one validate checks policies against (devmesh import writes one for an input with nothing to run); up has nothing to start.
  if (resolved && resolved.mesh.services.length === 0 && (resolved.mesh.workloads ?? []).length === 0) {
    diagnostics.push(inMesh(ws, abs)(['spec', 'services'], 'nothing-to-run',
      'this Mesh has no services and no workloads, so devmesh up has nothing to run: add a service with its workloads (devmesh validate still checks policies against it)'));
  }
  const resources = resolved && !hasErrors(diagnostics) ? (Object.values(resolved.resources).flat() as Resource<IstioKind>[]) : [];
  // A Gateway selecting `istio: egressgateway` brings Istio's egress gateway workload with it (egress-gateway.ts).
  const mesh: Resource<'Mesh'> = resolved && !hasErrors(diagnostics)
    ? { apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: resolved.meshName }, spec: withEgressGateway(resolved.mesh, resources) }
    : EMPTY_MESH;
  const files = ws.fileNames();
  const policyFileCount = files.filter((f) => (ws.getSource(f)?.documents.length ?? 0) > 0 || diagnostics.some((d) => d.file === displayPath(f))).length;
  const g = ws.index.gatewayApi;
  const gatewayDirs = new Map(ws.index.byKind.Gateway.map((d) => [`${ws.index.namespaceOf(d)}/${d.name}`, path.dirname(d.file)]));
  const istio = ingressTerminatedPorts(resources.filter((r): r is Resource<'Gateway'> => resourceKind(r) === 'Gateway'), ws.index.defaultNamespace,
    (gw) => gatewayDirs.get(`${gw.metadata.namespace ?? ws.index.defaultNamespace}/${gw.metadata.name}`));
  const gatewayApi = { gateways: g.gateways, routes: [...g.routes.values()], secrets: tlsSecrets(ws.references(), ws.index.defaultNamespace), istio };
  return { meshFile: abs, rootDir, mesh, resources, files, policyFileCount, diagnostics, meshDiagnostic: inMesh(ws, abs), policyPosition: policyPositionIn(ws), gatewayApi };
}

/** Where a policy document (kind, resolved namespace, name) or a field of it is written, its file as `display` names it. */
export function policyPositionIn(ws: Workspace, display: (file: string) => string = displayPath): MeshWorkspace['policyPosition'] {
  return (ref, fieldPath = []) => {
    const index = ws.index;
    const doc = index.docs.find((d) => d.kind === ref.kind && d.name === ref.name && index.namespaceOf(d) === ref.namespace);
    const source = doc && ws.getSource(doc.file);
    if (!doc || !source) return undefined;
    const p = offsetToPosition(source.lineStarts, fieldPath.length ? rangeOf(doc, fieldPath).start : doc.range.start);
    return { file: display(doc.file), line: p.line + 1, column: p.character + 1 };
  };
}

function inMesh(ws: Workspace, abs: string): MeshWorkspace['meshDiagnostic'] {
  return (fieldPath, code, message) => {
    const doc = ws.index.mesh?.doc;
    const source = doc && ws.getSource(doc.file);
    if (!doc || !source || !fieldPath) return atFileStart(abs)(fieldPath, code, message);
    return locate(diagnostic(code, doc.file, rangeOf(doc, fieldPath), message), source.lineStarts);
  };
}

function atFileStart(file: string): MeshWorkspace['meshDiagnostic'] {
  return (_field, code, message) => locate(diagnostic(code, file, { start: 0, end: 0 }, message));
}

export function hasErrors(diagnostics: Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
