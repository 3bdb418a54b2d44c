/**
 * The `devmesh` command line. Each subcommand lives in its own module under
 * commands/, which registers its options and loads what it needs (the data
 * plane, the exporters) only inside its action, so `devmesh validate` and
 * `--help` stay quick. Adding a command is one line in the list below.
 */
import { Command, CommanderError } from 'commander';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('devmesh')
    .description('A service mesh for one developer\'s machine: real sidecars, mTLS and Istio policies, locally.')
    .version(require('../../package.json').version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  let exitCode = 0;
  const setExit = (code: number) => { exitCode = code; };

  const commands = [
    import('./commands/init'),
    import('./commands/validate'),
    import('./commands/up'),
    import('./commands/export'),
    import('./commands/import'),
    import('./commands/traces'),
    import('./commands/logs'),
    import('./commands/fault'),
    import('./commands/jwt'),
    import('./commands/describe'),
    import('./commands/proxyConfig'),
    import('./commands/explain'),
    import('./commands/lsp'),
  ];
  for (const command of await Promise.all(commands)) command.register(program, setExit);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; everything else is a usage error.
      return err.exitCode === 0 ? 0 : 2;
    }
    throw err;
  }
  return exitCode;
}
