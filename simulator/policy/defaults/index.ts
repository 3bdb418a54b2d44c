/**
 * Every default devmesh applies, in one place, per flavor and release.
 * Filters never hold their own fallbacks: they read the resolved table from
 * the snapshot (`MeshTables.defaults`). A new flavor (Linkerd, Consul) adds
 * its own FlavorTable here, named by its profile (policy/flavors), rather
 * than `if (flavor)` across filters.
 */
export * from './types';
export { ISTIO } from './istio';
export { changesAfter, describeVersion, olderThan, resolveDefaults, type DefaultsInput } from './resolve';
