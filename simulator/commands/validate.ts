import type { Command } from 'commander';
import { formatText, locateAll } from '../diagnostics-format';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { collectPolicyFiles, diagnosticsWithFiles, loadWorkspace, PathError } from '../policy-files';
import type { Workspace } from '../policy';

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('validate')
    .description('check Mesh and Istio policy files (YAML syntax, schema, cross-file references)')
    .argument('[paths...]', 'files or folders, searched recursively for *.yaml and *.yml (default: current folder)')
    .option('--format <format>', 'text or json', 'text')
    .addHelpText('after', `
Exit status: 0 when there is no error (warnings do not fail), 1 when there is an error, 2 for a usage error.

Examples:
  devmesh validate                      check every policy under the current folder
  devmesh validate examples/bookinfo    check one folder
  devmesh validate --format json vs.yaml | jq .
  devmesh validate k8s/ local/mesh.yaml  check a cluster's manifests as istioctl analyze would, with the Mesh
                                        devmesh import made from them (Secrets, Namespaces and gateway pods
                                        beside the policies are read for the gateway and authorization checks)`)
    .action(async (paths: string[], opts: { format: string }) => {
      if (opts.format !== 'text' && opts.format !== 'json') {
        process.stderr.write(`devmesh validate: unknown --format "${opts.format}" (use text or json)\n`);
        setExit(2);
        return;
      }
      let files: string[];
      try {
        files = await collectPolicyFiles(paths.length ? paths : ['.']);
      } catch (err) {
        if (!(err instanceof PathError)) throw err;
        process.stderr.write(`devmesh validate: ${err.message}\n`);
        setExit(2);
        return;
      }
      const ws = await loadWorkspace(files);
      const diags = locateAll(ws, diagnosticsWithFiles(ws));
      const policyFiles = ws.fileNames().filter((f) => (ws.getSource(f)?.documents.length ?? 0) > 0 || diags.some((d) => d.file === f)).length;
      if (opts.format === 'json') {
        process.stdout.write(JSON.stringify(diags, null, 2) + '\n');
      } else {
        process.stdout.write(formatText(diags, policyFiles, process.stdout.isTTY === true && !process.env.NO_COLOR));
        for (const note of await meshFolderNotes(ws, files, paths)) process.stderr.write(note + '\n');
      }
      setExit(diags.some((d) => d.severity === 'error') ? 1 : 0);
    });
}

/**
 * A Mesh file named on its own is checked alone, but `devmesh up -f` runs it
 * with every policy in its folder tree: say which of those were left out and
 * how to check them together, so a clean result is not mistaken for the
 * mesh's.
 */
async function meshFolderNotes(ws: Workspace, checked: readonly string[], paths: readonly string[]): Promise<string[]> {
  const notes: string[] = [];
  const seen = new Set(checked.map((f) => path.resolve(f)));
  for (const p of paths) {
    const stat = await fs.stat(p).catch(() => undefined);
    if (!stat?.isFile() || !ws.getSource(path.normalize(p))?.documents.some((d) => d.kind === 'Mesh')) continue;
    const dir = path.dirname(p);
    const beside = (await collectPolicyFiles([dir]).catch(() => [])).filter((f) => !seen.has(path.resolve(f)));
    if (beside.length === 0) continue;
    const others = await loadWorkspace(beside).catch(() => undefined);
    const policies = beside.filter((f) => (others?.getSource(f)?.documents.length ?? 0) > 0).length;
    if (policies === 0) continue;
    notes.push(`note: ${p} is a Mesh, and \`devmesh up -f ${p}\` also runs the ${policies} policy file${policies === 1 ? '' : 's'} under ${dir} that were not checked here: \`devmesh validate ${dir}\` checks them with it`);
  }
  return notes;
}
