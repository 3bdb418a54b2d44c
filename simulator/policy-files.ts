/**
 * The disk side of the policy language: finding policy files under folders
 * and loading them into a Workspace. Kept out of simulator/policy/ so the
 * core stays pure.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Workspace } from './policy';

const YAML_FILE = /\.ya?ml$/i;
const SKIP_DIR = (name: string) => name === 'node_modules' || name.startsWith('.');

export class PathError extends Error {
  constructor(readonly file: string, message: string) {
    super(message);
  }
}

/** Every *.yaml / *.yml under the given files and folders, skipping node_modules and dot-folders. */
export async function collectPolicyFiles(paths: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const p of paths) {
    let stat;
    try {
      stat = await fs.stat(p);
    } catch {
      throw new PathError(p, `${p}: no such file or folder`);
    }
    if (stat.isDirectory()) await walk(p, out);
    else out.add(path.normalize(p));
  }
  return [...out].sort();
}

async function walk(dir: string, out: Set<string>): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  await Promise.all(entries.map(async (e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIR(e.name)) await walk(full, out);
    } else if (e.isFile() && YAML_FILE.test(e.name)) {
      out.add(full);
    }
  }));
}

/** Reads files into a new Workspace. Unreadable files are reported as PathError. */
export async function loadWorkspace(files: readonly string[]): Promise<Workspace> {
  const ws = new Workspace();
  const texts = await Promise.all(files.map(async (f) => {
    try {
      return [f, await fs.readFile(f, 'utf8')] as const;
    } catch (err) {
      throw new PathError(f, `${f}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }));
  for (const [f, text] of texts) ws.setFile(f, text);
  return ws;
}

/**
 * The workspace of a Mesh file: the Mesh and every policy YAML in its folder
 * tree (what `devmesh up` runs).
 */
export async function loadMeshWorkspace(meshFile: string): Promise<{ workspace: Workspace; files: string[]; root: string }> {
  try {
    await fs.access(meshFile);
  } catch {
    throw new PathError(meshFile, `${meshFile}: Mesh file not found (pass -f path/to/mesh.yaml)`);
  }
  const root = path.dirname(meshFile);
  const files = await collectPolicyFiles([root]);
  if (!files.includes(path.normalize(meshFile))) files.push(path.normalize(meshFile));
  return { workspace: await loadWorkspace(files), files, root };
}
