import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { displayPath, formatText, locateAll } from '../diagnostics-format';
import { importManifests, type ImportNote } from '../import';
import { collectPolicyFiles, loadMeshFolder, PathError } from '../policy-files';

interface ImportOpts {
  out: string;
  name?: string;
  force?: boolean;
}

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('import')
    .description('write a Mesh (and copy the Istio resources) from a folder of Kubernetes manifests')
    .argument('<dir>', 'folder of Kubernetes YAML (Deployments, StatefulSets, Services, ServiceAccounts, Istio and Gateway API resources), searched recursively')
    .option('-o, --out <mesh.yaml>', 'the Mesh file to write; Istio and Gateway API resources go to policies/ beside it', 'mesh.yaml')
    .option('--name <name>', 'metadata.name of the Mesh (default: the folder\'s name)')
    .option('--force', 'overwrite an existing Mesh file')
    .addHelpText('after', `
Exit status: 0 when the Mesh was written and validates, 1 when it was written but devmesh validate
finds errors (or the Mesh file exists without --force), 2 for a usage error.

Example:
  devmesh import k8s/ --out local/mesh.yaml && devmesh up -f local/mesh.yaml`)
    .action(async (dir: string, opts: ImportOpts) => {
      setExit(await runImport(dir, opts));
    });
}

async function runImport(dir: string, opts: ImportOpts): Promise<number> {
  const fail = (code: number, message: string) => {
    process.stderr.write(`devmesh import: ${message}\n`);
    return code;
  };
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) return fail(2, `${dir}: no such folder`);
  const outFile = path.resolve(opts.out);
  const outDir = path.dirname(outFile);
  const policiesDir = path.join(outDir, 'policies');
  if (!opts.force && await fs.access(outFile).then(() => true, () => false)) {
    return fail(1, `${opts.out} exists; pass --force to overwrite it`);
  }

  let files: string[];
  try {
    files = await collectPolicyFiles([dir]);
  } catch (err) {
    if (err instanceof PathError) return fail(2, err.message);
    throw err;
  }
  const manifests = await Promise.all(files.map(async (f) => ({ path: path.relative(dir, f), text: await fs.readFile(f, 'utf8') })));
  const name = sanitizeName(opts.name ?? path.basename(path.resolve(dir)));
  const result = importManifests(manifests, { name, source: displayPath(path.resolve(dir), outDir) });

  await fs.mkdir(outDir, { recursive: true });
  await fs.writeFile(outFile, result.meshText);
  for (const p of result.policies) {
    const target = path.join(policiesDir, ...p.path.split('/'));
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, p.text);
  }
  printNotes(result.notes);
  const istio = result.policies.reduce((n, p) => n + p.resources, 0);
  const workloads = result.mesh.services.reduce((n, s) => n + s.workloads.length, result.mesh.workloads.length);
  const namespaces = new Set([result.mesh.namespace, ...result.mesh.services.map((s) => s.namespace ?? result.mesh.namespace), ...result.mesh.workloads.map((w) => w.namespace ?? result.mesh.namespace)]);
  process.stdout.write(`wrote ${displayPath(outFile, process.cwd())}: ${namespaces.size > 1 ? `${namespaces.size} namespaces (default ${result.mesh.namespace})` : `namespace ${result.mesh.namespace}`}, ${result.mesh.services.length} services, ${workloads} workloads`
    + (istio ? `; copied ${istio} Istio and Gateway API resources to ${displayPath(policiesDir, process.cwd())}` : '') + '\n');

  // Check the Mesh as devmesh will load it: with every YAML under its folder.
  const { workspace } = await loadMeshFolder(outFile);
  const diags = locateAll(workspace, workspace.diagnostics());
  const errors = diags.filter((d) => d.severity === 'error');
  if (diags.length) process.stderr.write(formatText(diags, workspace.fileNames().length));
  if (errors.length) {
    const source = path.resolve(dir);
    const hint = isInside(source, outDir) ? ` — the manifests folder is inside ${displayPath(outDir, process.cwd())}, so its Istio files are read twice; write the Mesh to another folder` : '';
    return fail(1, `the imported Mesh does not validate yet (above)${hint}`);
  }
  process.stdout.write(workloads === 0
    ? 'devmesh validate: no errors. The input has nothing to run, so the Mesh has no workloads; devmesh validate checks the policies against its services.\n'
    : 'devmesh validate: no errors. Fill in the TODO commands (or run the apps yourself), then: devmesh up -f ' + displayPath(outFile, process.cwd()) + '\n');
  return 0;
}

function printNotes(notes: readonly ImportNote[]): void {
  if (notes.length) process.stderr.write(`not mapped or changed (${notes.length}):\n`);
  for (const n of notes) process.stderr.write(`  ${n.severity === 'warning' ? 'warning' : 'note'} ${n.code}: ${n.message}\n`);
}

function sanitizeName(s: string): string {
  const name = s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return name || 'imported';
}

function isInside(dir: string, parent: string): boolean {
  const rel = path.relative(parent, dir);
  return !rel.startsWith('..') && !path.isAbsolute(rel);
}
