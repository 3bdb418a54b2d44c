/**
 * Istio resources as they go to the cluster: every Istio document of the
 * policy files, byte for byte as written (comments, order, kinds devmesh does
 * not simulate) except `metadata.namespace`.
 */
import { isMap, isScalar, parseAllDocuments, type Document } from 'yaml';
import { classify } from '../policy';
import type { ExportFinding } from './findings';
import { carryJwks, type ReadPolicyFile } from './jwks';

export interface PolicySource {
  /** Path relative to the Mesh folder; the copy keeps it under istio/. */
  path: string;
  text: string;
}

export interface IstioCopy {
  path: string;
  documents: Document[];
  /** The copied resources as plain JSON, for validation and round-trip checks. */
  resources: { apiVersion: string; kind: string; metadata: { name?: string; namespace?: string }; spec?: unknown }[];
}

/**
 * Copies the Istio documents of each file. Documents in the Mesh's namespace
 * (or with none) move to `namespace`; those that name another namespace
 * (e.g. istio-system for a mesh-wide policy) keep it.
 */
export function copyIstioResources(sources: readonly PolicySource[], meshNamespace: string, namespace: string, findings: ExportFinding[], readFile?: ReadPolicyFile): IstioCopy[] {
  const out: IstioCopy[] = [];
  for (const source of sources) {
    const copy: IstioCopy = { path: `istio/${source.path.split(/[\\/]/).join('/')}`, documents: [], resources: [] };
    for (const doc of parseAllDocuments(source.text)) {
      if (!isMap(doc.contents)) continue;
      const apiVersion = scalar(doc.get('apiVersion'));
      const kind = scalar(doc.get('kind'));
      const cls = classify(apiVersion, kind);
      if (!cls.istioGroup || kind === 'Mesh' || apiVersion?.startsWith('devmesh.dev/')) continue;
      const written = scalar(doc.getIn(['metadata', 'namespace']));
      const target = written === undefined || written === meshNamespace ? namespace : written;
      doc.setIn(['metadata', 'namespace'], target);
      const name = scalar(doc.getIn(['metadata', 'name'])) ?? '';
      if (cls.kind === undefined) {
        findings.push({ severity: 'info', code: 'not-simulated-kind', message: `${kind} ${name} (${source.path}) is copied to the cluster as written; devmesh does not simulate it locally, so it was not tested here` });
      }
      if (written !== undefined && written !== meshNamespace) {
        findings.push({ severity: 'info', code: 'other-namespace', message: `${kind} ${name} (${source.path}) stays in namespace "${written}"` });
      }
      if (kind === 'RequestAuthentication') carryJwks(doc, source.path, `${kind} ${name} (${source.path})`, readFile, findings);
      if (namespace !== meshNamespace) namespaceReferences(doc.toJS(), meshNamespace, `${kind} ${name} (${source.path})`, findings);
      copy.documents.push(doc);
      copy.resources.push(doc.toJS());
    }
    if (copy.documents.length > 0) out.push(copy);
  }
  return out;
}

/**
 * Moving policies to another namespace leaves references that name the old one
 * (principals `cluster.local/ns/<old>/sa/...`, hosts `x.<old>.svc.cluster.local`,
 * `namespaces: [<old>]`). They are copied unchanged, as the policy says; the
 * user is told where.
 */
function namespaceReferences(resource: unknown, old: string, where: string, findings: ExportFinding[]): void {
  const hits = new Set<string>();
  const host = new RegExp(`^[^./]+\\.${escape(old)}(\\.svc(\\.cluster\\.local)?)?$`);
  const walk = (v: unknown, key: string): void => {
    if (typeof v === 'string') {
      if (v.includes(`/ns/${old}/`) || host.test(v) || ((key === 'namespaces' || key === 'notNamespaces' || key === 'sourceNamespace') && v === old)) hits.add(v);
    } else if (Array.isArray(v)) {
      for (const x of v) walk(x, key);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) if (k !== 'metadata') walk(x, k);
    }
  };
  walk(resource, '');
  if (hits.size > 0) {
    findings.push({
      severity: 'warning',
      code: 'namespace-reference',
      message: `${where} still names namespace "${old}" (${[...hits].join(', ')}); on the cluster it refers to "${old}", not the exported namespace — edit the policy if that is not what you want`,
    });
  }
}

function scalar(node: unknown): string | undefined {
  if (isScalar(node)) return node.value === null || node.value === undefined ? undefined : String(node.value);
  return typeof node === 'string' ? node : undefined;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
