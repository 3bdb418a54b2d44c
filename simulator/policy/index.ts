/**
 * The policy language: text in, typed model and diagnostics out. Pure: no
 * file system, network or editor APIs in here (see simulator/policy-files.ts
 * for reading files from disk).
 */
export * from './plain';
export * from './cluster-index';
export * from './diagnostics';
export * from './duration';
export * from './hosts';
export * from './jwks';
export * from './jwks-files';
export * from './kinds';
export * from './re2';
export * from './resolve';
export * from './source';
export * from './workspace';
export * from './workspace-index';
export type * from './model';
export { INGRESS_GATEWAY, MESH_DEFAULTS } from './model';
export { SCHEMAS, schemaAt, type Schema } from './schema';
export * from './mesh-inventory';
export * from './protocols';
