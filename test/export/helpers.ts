import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { exportMesh, type ExportResult, type PolicySource } from '../../simulator/export';
import { resolvePolicies, type ResolvedPolicies } from '../../simulator/policy';
import { loadMeshFolder } from '../../simulator/policy-files';

/** The repository root (tests run from out/test/export/). */
export const ROOT = path.resolve(__dirname, '../../..');
export const BOOKINFO = path.join(ROOT, 'examples/bookinfo/mesh.yaml');
export const SHOP_FIXTURE = path.join(ROOT, 'test/export/fixtures/shop');

export async function loadResolved(meshFile: string): Promise<{ resolved: ResolvedPolicies; sources: PolicySource[] }> {
  const { workspace, root } = await loadMeshFolder(meshFile);
  const errors = workspace.diagnostics().filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`${meshFile} has errors: ${errors.map((e) => e.message).join('; ')}`);
  const resolved = resolvePolicies(workspace)!;
  const sources = workspace.fileNames().sort()
    .filter((f) => /(istio\.io|gateway\.networking\.k8s\.io)\//.test(workspace.getSource(f)!.text))
    .map((f) => ({ path: path.relative(root, f), text: workspace.getSource(f)!.text }));
  return { resolved, sources };
}

export async function exportBookinfo(options: Parameters<typeof exportMesh>[2] = {}): Promise<ExportResult> {
  const { resolved, sources } = await loadResolved(BOOKINFO);
  return exportMesh(resolved, sources, options);
}

export async function tempDir(t: { after(fn: () => Promise<void> | void): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'devmesh-export-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

export function devmesh(args: string[], cwd = ROOT): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/devmesh.js'), ...args], { cwd, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the bookinfo Mesh folder, for tests that edit it. */
export async function copyBookinfo(dir: string): Promise<string> {
  await fs.cp(path.dirname(BOOKINFO), dir, { recursive: true });
  return path.join(dir, 'mesh.yaml');
}
