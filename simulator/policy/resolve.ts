/**
 * The validated workspace as plain resources, ready to become a snapshot:
 * namespaces defaulted to the Mesh's, only documents without schema errors.
 */
import { jwksSourceOf, resolveJwksFile } from './jwks';
import { MESH_DEFAULTS, type IstioKind, type MeshSpec, type Resource } from './model';
import type { Workspace } from './workspace';

export interface ResolvedPolicies {
  meshName: string;
  /** The file that holds the Mesh (relative paths in it resolve against its folder). */
  meshFile: string;
  mesh: MeshSpec;
  namespace: string;
  trustDomain: string;
  resources: { [K in IstioKind]: Resource<K>[] };
}

/** Undefined when the workspace has no valid Mesh. Call only when it has no errors. */
export function resolvePolicies(ws: Workspace): ResolvedPolicies | undefined {
  const index = ws.index;
  const mesh = index.mesh;
  if (!mesh) return undefined;
  const resources: ResolvedPolicies['resources'] = {
    VirtualService: [], DestinationRule: [], Gateway: [], PeerAuthentication: [], AuthorizationPolicy: [], RequestAuthentication: [],
    ServiceEntry: [], WorkloadEntry: [], Sidecar: [], Telemetry: [],
    HTTPRoute: [], GRPCRoute: [], TLSRoute: [], TCPRoute: [], KubernetesGateway: [], ReferenceGrant: [],
  };
  for (const doc of index.docs) {
    if (doc.kind === 'Mesh') continue;
    const value = structuredClone(doc.value) as Resource;
    value.metadata = { ...value.metadata, namespace: index.namespaceOf(doc) };
    if (doc.kind === 'RequestAuthentication') absoluteJwksFiles(value as Resource<'RequestAuthentication'>, doc.file);
    if (doc.kind === 'DestinationRule') absoluteTlsFiles(value as Resource<'DestinationRule'>, doc.file);
    (resources[doc.kind as IstioKind] as Resource[]).push(value);
  }
  const spec = structuredClone(mesh.doc.value.spec) as MeshSpec;
  return {
    meshName: mesh.name,
    meshFile: mesh.doc.file,
    mesh: spec,
    namespace: mesh.namespace,
    trustDomain: mesh.trustDomain ?? MESH_DEFAULTS.trustDomain,
    resources,
  };
}

/** A JWKS file is named relative to its policy file; the sidecars get it as an absolute file:// URL. */
function absoluteJwksFiles(ra: Resource<'RequestAuthentication'>, policyFile: string): void {
  for (const rule of ra.spec.jwtRules ?? []) {
    const source = jwksSourceOf(rule);
    if (source.kind !== 'file') continue;
    rule.jwksUri = resolveJwksFile(source.path, policyFile);
    delete rule.jwks_uri;
  }
}

/** TLS origination files (caCertificates, clientCertificate, privateKey) are named relative to their policy file; the sidecars get absolute file:// URLs. */
function absoluteTlsFiles(dr: Resource<'DestinationRule'>, policyFile: string): void {
  const policies = [dr.spec.trafficPolicy, ...(dr.spec.subsets ?? []).map((s) => s.trafficPolicy)];
  const settings = policies.flatMap((p) => [p?.tls, ...(p?.portLevelSettings ?? []).map((l) => l.tls)]);
  for (const tls of settings) {
    if (!tls) continue;
    for (const field of ['caCertificates', 'clientCertificate', 'privateKey'] as const) {
      const file = tls[field];
      if (file) tls[field] = resolveJwksFile(file, policyFile);
    }
  }
}
