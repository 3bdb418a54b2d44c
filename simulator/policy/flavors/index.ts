/**
 * The mesh flavors devmesh follows, one profile each (types.ts): the Mesh's
 * `spec.flavor` names one. `Flavor` is the names of the built-in profiles,
 * the ones the schema offers; a test may register another one to prove
 * that nothing outside a profile assumes Istio (test/sidecar/flavor-seam.test.ts).
 */
import { ISTIO_PROFILE } from './istio';
import type { FlavorProfile } from './types';

export type { FlavorProfile, IdentityFormat, KindSupport } from './types';
export { ISTIO_IDENTITY, ISTIO_PROFILE } from './istio';

export const BUILT_IN_FLAVORS = { istio: ISTIO_PROFILE } as const satisfies Record<string, FlavorProfile>;

export type Flavor = keyof typeof BUILT_IN_FLAVORS;

export const DEFAULT_FLAVOR: Flavor = 'istio';

const registry = new Map<string, FlavorProfile>(Object.entries(BUILT_IN_FLAVORS));

/** The profile of a flavor name; Istio's for none. An unknown name is the schema's finding, so it falls back too. */
export function flavorProfile(name: string | undefined): FlavorProfile {
  return registry.get(name ?? DEFAULT_FLAVOR) ?? ISTIO_PROFILE;
}

/**
 * Adds a profile beside the built-in ones, in this process only. For tests:
 * the schema still accepts the built-in names only, so no user reaches it.
 * Returns the undo.
 */
export function registerFlavor(profile: FlavorProfile): () => void {
  if (profile.name in BUILT_IN_FLAVORS) throw new Error(`flavor "${profile.name}" is built in`);
  registry.set(profile.name, profile);
  return () => void registry.delete(profile.name);
}
