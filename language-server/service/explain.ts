/**
 * `devmesh explain` over the editor's workspace: the walk of
 * simulator/explain/walk.ts (the sidecars' own decision functions) over the
 * snapshot the open buffers and files would make — unsaved edits included —
 * printed as the CLI prints it. The extension's Explain Request command asks
 * for it (`devmesh/explain`); the files named in the text map back to URIs so
 * each rule and policy that decided is a link.
 */
import { policyPositionIn } from '../../simulator/control/load';
import { explainRequest, ExplainUsageError } from '../../simulator/explain/walk';
import { formatExplain } from '../../simulator/explain/format';
import type { ExplainRequest, ExplainResult } from '../../simulator/explain/result';
import { grpcCall, grpcHeaders } from '../../simulator/explain/grpcCall';
import { explainSnapshot } from '../../simulator/explain/snapshot';
import { offsetToPosition, resolvePolicies, type Diagnostic, type Workspace } from '../../simulator/policy';
import type { IstioKind, Resource } from '../../simulator/policy/model';

export interface ExplainParams {
  /** A workload of the Mesh, or `ingress`. */
  from: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  /** Assumed: what the app answers (status; for a gRPC call, its grpc-status). */
  appStatus?: number;
  appGrpcStatus?: number;
}

export type ExplainAnswer =
  | { ok: true; answered: boolean; text: string; result: ExplainResult; files: Record<string, string> }
  | { ok: false; message: string };

/** Who a request can leave from: the Mesh's workloads (with their service) and the ingress. */
export interface ExplainSource {
  name: string;
  description: string;
}

export function explainSources(ws: Workspace): ExplainSource[] {
  const mesh = ws.index.mesh;
  if (!mesh) return [];
  return [
    ...mesh.workloads.map((w) => ({ name: w.name, description: `${w.service} · ${w.namespace}` })),
    { name: 'ingress', description: 'a client outside the mesh, through the ingress gateway' },
  ];
}

/**
 * @param errors the workspace's error findings: a walk over policies that do not validate would not be what the sidecars run.
 * @param display how a file (URI) is named in the text: relative to the workspace folder, as the CLI names it relative to the cwd.
 */
export function explainInWorkspace(ws: Workspace, errors: Diagnostic[], p: ExplainParams, display: (uri: string) => string): ExplainAnswer {
  if (errors.length) {
    const first = errors[0];
    const source = ws.getSource(first.file);
    const at = source ? offsetToPosition(source.lineStarts, first.range.start) : undefined;
    return { ok: false, message: `the policies have ${errors.length} error${errors.length === 1 ? '' : 's'} (fix them first), e.g. ${display(first.file)}${at ? `:${at.line + 1}:${at.character + 1}` : ''}: ${first.message}` };
  }
  const resolved = resolvePolicies(ws);
  if (!resolved) return { ok: false, message: 'no kind: Mesh (apiVersion devmesh.dev/v1alpha1) document in the workspace: explain needs one to know the workloads' };
  const mesh: Resource<'Mesh'> = { apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: resolved.meshName }, spec: resolved.mesh };
  const snapshot = explainSnapshot(mesh, Object.values(resolved.resources).flat() as Resource<IstioKind>[]);
  const files: Record<string, string> = {};
  const locate = policyPositionIn(ws, (uri) => {
    const shown = display(uri);
    files[shown] = uri;
    return shown;
  });
  try {
    const result = explainRequest(snapshot, requestOf(p), { locate });
    return { ok: true, answered: result.answered, text: formatExplain(result), result, files };
  } catch (e) {
    if (e instanceof ExplainUsageError) return { ok: false, message: e.message };
    throw e;
  }
}

/**
 * The request the walk takes: as given, or for method GRPC (a gRPC call,
 * `host:port/package.Service/Method`) the POST it is on the wire, as the
 * CLI's `explain ... grpc` makes it; the app's gRPC status only for a call.
 */
function requestOf(p: ExplainParams): ExplainRequest {
  const assumed = p.appStatus !== undefined ? { appStatus: p.appStatus } : {};
  if (p.method.toUpperCase() !== 'GRPC') {
    if (p.appGrpcStatus !== undefined) throw new ExplainUsageError(`an app gRPC status (${p.appGrpcStatus}) is for a gRPC call: choose the method GRPC`);
    return { from: p.from, method: p.method.toUpperCase(), url: p.url, headers: p.headers, ...assumed };
  }
  const call = grpcCall(p.url);
  if ('error' in call) throw new ExplainUsageError(call.error);
  return { from: p.from, method: 'POST', url: call.url, headers: grpcHeaders(p.headers), ...assumed, ...(p.appGrpcStatus !== undefined ? { appGrpcStatus: p.appGrpcStatus } : {}) };
}
