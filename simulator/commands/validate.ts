import type { Command } from 'commander';
import { formatText, locateAll } from '../diagnostics-format';
import { collectPolicyFiles, diagnosticsWithFiles, loadWorkspace, PathError } from '../policy-files';

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
      }
      setExit(diags.some((d) => d.severity === 'error') ? 1 : 0);
    });
}
