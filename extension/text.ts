/**
 * The extension's pure text helpers (no `vscode` import, so unit tests run
 * them in plain Node): is a file a Mesh.
 */
const MESH_KIND = /^kind:\s*["']?Mesh["']?\s*(#.*)?$/m;
const MESH_API = /^apiVersion:\s*["']?devmesh\.dev\//m;

/** A `kind: Mesh` document of devmesh's API group: the activation event matched the file name, this checks the content. */
export function isMeshText(text: string): boolean {
  return MESH_KIND.test(text) && MESH_API.test(text);
}
