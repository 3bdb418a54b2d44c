/**
 * A cluster's mesh config, where it is part of the manifests: an
 * IstioOperator (`spec.meshConfig`, what `devmesh export` writes as
 * mesh-config.yaml) or the `istio` ConfigMap (its `mesh` key). Their
 * extensionProviders become the Mesh's, so CUSTOM policies keep their
 * authorizers, and so does outboundTrafficPolicy; the rest of the mesh config is not devmesh's to map.
 */
import { load } from 'js-yaml';
import type { ExtensionProvider, OutboundTrafficPolicy } from '../policy';
import type { KubeManifest } from './manifests';
import type { ImportNote } from './notes';

export function isMeshConfig(o: KubeManifest): boolean {
  return (o.kind === 'IstioOperator' && o.apiVersion.startsWith('install.istio.io/'))
    || (o.kind === 'ConfigMap' && o.apiVersion === 'v1' && /^istio(-[\w.-]+)?$/.test(o.name) && typeof o.value.data?.mesh === 'string');
}

/** The mesh config each IstioOperator or istio ConfigMap holds (an unreadable one is noted and skipped). */
function meshConfigs(objects: readonly KubeManifest[], notes: ImportNote[]): Array<{ o: KubeManifest; meshConfig: Record<string, unknown> | undefined }> {
  return objects.filter(isMeshConfig).flatMap((o) => {
    if (o.kind === 'IstioOperator') return [{ o, meshConfig: o.value.spec?.meshConfig }];
    try {
      return [{ o, meshConfig: load(o.value.data.mesh) as Record<string, unknown> | undefined }];
    } catch (err) {
      notes.push({ severity: 'warning', code: 'unreadable', message: `${o.file}: ConfigMap ${o.name}'s mesh is not valid YAML (${(err as Error).message.split('\n')[0]}); its extensionProviders and outboundTrafficPolicy are not imported` });
      return [];
    }
  });
}

export interface ImportedMeshConfig {
  extensionProviders: ExtensionProvider[];
  outboundTrafficPolicy?: OutboundTrafficPolicy;
}

export function meshConfigOf(objects: readonly KubeManifest[], notes: ImportNote[]): ImportedMeshConfig {
  const out: ImportedMeshConfig = { extensionProviders: [] };
  for (const { o, meshConfig } of meshConfigs(objects, notes)) {
    const mode = (meshConfig?.outboundTrafficPolicy as OutboundTrafficPolicy | undefined)?.mode;
    if (mode === 'ALLOW_ANY' || mode === 'REGISTRY_ONLY') {
      out.outboundTrafficPolicy ??= { mode };
      notes.push({ severity: 'info', code: 'mesh-config', message: `${o.file}: outboundTrafficPolicy ${mode} of ${o.kind} ${o.name} imported into the Mesh` });
    }
    const providers = meshConfig?.extensionProviders;
    if (!Array.isArray(providers)) continue;
    for (const p of providers) {
      if (!p || typeof p !== 'object' || typeof (p as ExtensionProvider).name !== 'string') continue;
      if (out.extensionProviders.some((q) => q.name === (p as ExtensionProvider).name)) continue;
      out.extensionProviders.push(p as ExtensionProvider);
    }
    notes.push({ severity: 'info', code: 'mesh-config', message: `${o.file}: extensionProviders of ${o.kind} ${o.name} imported into the Mesh (${providers.length}); the rest of its mesh config is not mapped` });
  }
  return out;
}
