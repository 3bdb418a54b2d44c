import * as path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { displayPath, formatText, locateAll } from '../diagnostics-format';
import { dnsLabel, findServices, parseServiceFlag, planInit, ServiceFlagError, type Found, type FoundService, type PlannedService } from '../init';
import { existingFiles, ignoreStateDir, projectOnDisk, writePlan } from '../init/disk';
import { loadMeshFolder } from '../policy-files';

interface InitOpts {
  service: string[];
  name?: string;
  force?: boolean;
  yes?: boolean;
}

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('init')
    .description('write a starter mesh.yaml and policies/ for this project, from its Compose file, Procfile or package.json workspaces')
    .argument('[dir]', 'the project folder', '.')
    .option('-s, --service <name=port:command>', 'a service to put in the Mesh (repeatable); with it, nothing else is looked for', (v: string, all: string[]) => [...all, v], [])
    .option('--name <name>', 'metadata.name of the Mesh (default: the folder\'s name)')
    .option('--force', 'overwrite mesh.yaml and the policy file if they exist')
    .option('-y, --yes', 'write without asking (the default when not on a terminal)')
    .addHelpText('after', `
Where services come from, when no --service is given: the Compose file (compose.yaml,
docker-compose.yml: each service with a port, its command, environment and image), the
Procfile (web and $PORT processes), and package.json workspaces whose package has a
start script (or the project itself). On a terminal it shows what it found and asks
before writing; it never overwrites a file without --force.

Exit status: 0 when the files were written and validate, 1 when nothing was written
(a file exists, or you said no) or they do not validate, 2 for a usage error.

Examples:
  devmesh init                                   find the services, ask, write mesh.yaml + policies/
  devmesh init --service api=3000:"node api.js" --service web=8080:"npm start"
  devmesh init && devmesh up`)
    .action(async (dir: string, opts: InitOpts) => {
      setExit(await runInit(dir, opts));
    });
}

async function runInit(dir: string, opts: InitOpts): Promise<number> {
  const fail = (code: number, message: string) => {
    process.stderr.write(`devmesh init: ${message}\n`);
    return code;
  };
  const root = path.resolve(dir);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) return fail(2, `${dir}: no such folder`);
  let found: Found;
  try {
    found = findServices(projectOnDisk(root), opts.service);
  } catch (err) {
    if (err instanceof ServiceFlagError) return fail(2, err.message);
    throw err;
  }
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true && !opts.yes;
  if (interactive) {
    const answer = await ask(found);
    if (!answer) return fail(1, 'nothing written');
    found = answer;
  }
  const plan = planInit(found, dnsLabel(opts.name ?? path.basename(root), 'mesh'));
  const existing = existingFiles(root, plan);
  if (existing.length && !opts.force) {
    return fail(1, `${existing.join(', ')} ${existing.length > 1 ? 'exist' : 'exists'} already; nothing was written (pass --force to overwrite)`);
  }

  if (!interactive) process.stdout.write(summary(found, plan.services));
  for (const n of plan.notes) process.stderr.write(`  ${n.severity === 'warning' ? 'warning' : 'note'}: ${n.message}\n`);
  const written = writePlan(root, plan);
  const ignored = ignoreStateDir(root);
  process.stdout.write(`wrote ${written.map((f) => displayPath(f, process.cwd())).join(', ')}${ignored ? '; added .devmesh/ to .gitignore' : ''}\n`);

  // Check the Mesh as devmesh up will load it: with every YAML under its folder.
  const { workspace } = await loadMeshFolder(written[0]);
  const diags = locateAll(workspace, workspace.diagnostics());
  if (diags.length) process.stderr.write(formatText(diags, workspace.fileNames().length));
  if (diags.some((d) => d.severity === 'error')) return fail(1, 'the Mesh was written but does not validate (above): fix it, then run devmesh validate');
  const up = path.relative(process.cwd(), written[0]) === 'mesh.yaml' ? 'devmesh up' : `devmesh up -f ${displayPath(written[0], process.cwd())}`;
  process.stdout.write(`devmesh validate: no errors. Next: ${up}   (Ctrl-C stops the mesh and everything it started)\n`);
  return 0;
}

/** What was found, one line per service. */
function summary(found: Found, services: readonly (FoundService | PlannedService)[]): string {
  if (!found.services.length) return 'no services found (Compose file, Procfile, package.json start scripts); mesh.yaml gets a placeholder service to edit\n';
  const origins = [...new Set(found.services.map((s) => s.origin))];
  const rows = services.map((s) => {
    const address = s.protocol === 'http' ? `http://${s.name}:${s.port}` : `${s.name}:${s.port} (${s.protocol})`;
    const at = 'workloadPort' in s ? s.workloadPort : s.listen.port;
    const runs = s.command ? `${s.command.join(' ')}${s.cwd ? `  (in ${s.cwd}/)` : ''}` : s.image ? `runs from image ${s.image}` : 'you run it';
    return [s.name, address, `127.0.0.1:${at}`, runs];
  });
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  return `found ${services.length} service${services.length === 1 ? '' : 's'} in ${origins.join(', ')}:\n`
    + rows.map((r) => `  ${r.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c)).join('  ')}\n`).join('');
}

/** On a terminal: confirm what was found, or ask for services when there is none. Undefined: write nothing. */
async function ask(found: Found): Promise<Found | undefined> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  // Lines typed ahead (or pasted) wait in the iterator for their question; Ctrl-D ends it (undefined).
  const lines = rl[Symbol.asyncIterator]();
  const question = async (prompt: string): Promise<string | undefined> => {
    rl.setPrompt(prompt);
    rl.prompt();
    const next = await lines.next();
    return next.done ? undefined : String(next.value).trim();
  };
  try {
    if (found.services.length) {
      process.stdout.write(summary(found, found.services));
      const yes = (await question('Write mesh.yaml and policies/ with these services? [Y/n] '))?.toLowerCase();
      return yes === '' || yes === 'y' || yes === 'yes' ? found : undefined;
    }
    process.stdout.write('No services found in a Compose file, a Procfile or package.json start scripts.\n'
      + 'Add each as name=port:command (the command is optional: without it you run the app yourself). Empty line to finish.\n');
    const services: FoundService[] = [];
    for (;;) {
      const line = await question(`service ${services.length + 1}: `);
      if (!line) break;
      try { services.push(parseServiceFlag(line)); } catch (err) { process.stdout.write(`  ${err instanceof Error ? err.message : String(err)}\n`); }
    }
    return { services, notes: found.notes };
  } finally {
    rl.close();
  }
}
