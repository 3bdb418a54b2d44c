/**
 * A folder of Kubernetes YAML as objects: every document with a kind, `List`
 * items unpacked, each remembering its file. Istio documents are kept as
 * parsed YAML Documents so their copies keep comments and field order.
 */
import { Document, isMap, parseAllDocuments, type YAMLSeq } from 'yaml';
import { classify } from '../policy';
import type { ImportNote } from './notes';

export interface ManifestFile {
  /** Path relative to the manifests folder. */
  path: string;
  text: string;
}

export interface KubeManifest {
  file: string;
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string | undefined;
  value: Record<string, any>;
}

export interface IstioManifest {
  file: string;
  kind: string;
  name: string;
  document: Document;
}

export function readManifests(files: readonly ManifestFile[]): { objects: KubeManifest[]; istio: IstioManifest[]; notes: ImportNote[] } {
  const objects: KubeManifest[] = [];
  const istio: IstioManifest[] = [];
  const notes: ImportNote[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(f.text)) {
      if (doc.errors.length > 0) {
        notes.push({ severity: 'warning', code: 'unreadable', message: `${f.path}: a document is not valid YAML (${doc.errors[0].message.split('\n')[0]}); skipped` });
        continue;
      }
      if (!isMap(doc.contents)) continue;
      const value = doc.toJS() as Record<string, any>;
      const apiVersion = typeof value.apiVersion === 'string' ? value.apiVersion : '';
      const kind = typeof value.kind === 'string' ? value.kind : '';
      if (!kind) continue;
      const cls = classify(apiVersion, kind);
      if (cls.istioGroup && !apiVersion.startsWith('devmesh.dev/')) {
        istio.push({ file: f.path, kind, name: String(value.metadata?.name ?? ''), document: doc });
        continue;
      }
      const items = kind === 'List' && Array.isArray(value.items) ? value.items : [value];
      items.forEach((item: any, i: number) => {
        if (!item || typeof item !== 'object' || typeof item.kind !== 'string') return;
        if (classify(item.apiVersion, item.kind).istioGroup) {
          // An Istio resource inside a List is copied as a document of its own.
          const node = (doc.get('items', true) as YAMLSeq).items[i];
          const own = new Document();
          own.contents = node as Document['contents'];
          istio.push({ file: f.path, kind: item.kind, name: String(item.metadata?.name ?? ''), document: own });
          return;
        }
        objects.push({
          file: f.path,
          apiVersion: String(item.apiVersion ?? ''),
          kind: item.kind,
          name: String(item.metadata?.name ?? ''),
          namespace: typeof item.metadata?.namespace === 'string' ? item.metadata.namespace : undefined,
          value: item,
        });
      });
    }
  }
  return { objects, istio, notes };
}
