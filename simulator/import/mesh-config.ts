/**
 * A cluster's mesh config, where it is part of the manifests: an
 * IstioOperator (`spec.meshConfig`, what `devmesh export` writes as
 * mesh-config.yaml) or the `istio` ConfigMap (its `mesh` key). Their
 * extensionProviders become the Mesh's, so CUSTOM policies keep their
 * authorizers; the rest of the mesh config is not devmesh's to map.
 */
import { load } from 'js-yaml';
import type { ExtensionProvider } from '../policy';
import type { KubeManifest } from './manifests';
import type { ImportNote } from './notes';

export function isMeshConfig(o: KubeManifest): boolean {
  return (o.kind === 'IstioOperator' && o.apiVersion.startsWith('install.istio.io/'))
    || (o.kind === 'ConfigMap' && o.apiVersion === 'v1' && /^istio(-[\w.-]+)?$/.test(o.name) && typeof o.value.data?.mesh === 'string');
}

export function extensionProvidersOf(objects: readonly KubeManifest[], notes: ImportNote[]): ExtensionProvider[] {
  const out: ExtensionProvider[] = [];
  for (const o of objects.filter(isMeshConfig)) {
    let meshConfig: unknown;
    if (o.kind === 'IstioOperator') {
      meshConfig = o.value.spec?.meshConfig;
    } else {
      try {
        meshConfig = load(o.value.data.mesh);
      } catch (err) {
        notes.push({ severity: 'warning', code: 'unreadable', message: `${o.file}: ConfigMap ${o.name}'s mesh is not valid YAML (${(err as Error).message.split('\n')[0]}); its extensionProviders are not imported` });
        continue;
      }
    }
    const providers = (meshConfig as { extensionProviders?: unknown } | undefined)?.extensionProviders;
    if (!Array.isArray(providers)) continue;
    for (const p of providers) {
      if (!p || typeof p !== 'object' || typeof (p as ExtensionProvider).name !== 'string') continue;
      if (out.some((q) => q.name === (p as ExtensionProvider).name)) continue;
      out.push(p as ExtensionProvider);
    }
    notes.push({ severity: 'info', code: 'mesh-config', message: `${o.file}: extensionProviders of ${o.kind} ${o.name} imported into the Mesh (${providers.length}); the rest of its mesh config is not mapped` });
  }
  return out;
}
