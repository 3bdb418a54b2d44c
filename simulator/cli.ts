/**
 * The `devmesh` command line. Each subcommand lives in its own module and is
 * loaded lazily so that `devmesh validate` does not pay for the data plane.
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

  const validate = await import('./commands/validate');
  validate.register(program, setExit);
  (await import('./commands/lsp')).register(program);

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
