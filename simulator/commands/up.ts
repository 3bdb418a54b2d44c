/**
 * `devmesh up [-f mesh.yaml]`: runs the mesh in the foreground until
 * Ctrl-C/SIGTERM. All the work is in control/runtime.ts; this module only
 * maps it onto a terminal: printing, signals, exit codes.
 */
import type { Command } from 'commander';

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('up')
    .description('start the mesh: sidecars with mTLS, the apps, the control API; hot-reloads policy edits')
    .option('-f, --file <mesh.yaml>', 'the Mesh file; policies are read from its folder tree', 'mesh.yaml')
    .option('--access-log', 'print every sidecar\'s access log (Envoy format)', false)
    .action(async (opts: { file: string; accessLog: boolean }) => { setExit(await up(opts.file, { accessLog: opts.accessLog })); });
}

export async function up(meshFile: string, opts: { accessLog?: boolean } = {}): Promise<number> {
  const { MeshRuntime, UpError } = await import('../control/runtime');
  const runtime = new MeshRuntime({ meshFile, accessLog: opts.accessLog });
  let signals = 0;
  let stopped: () => void = () => undefined;
  const whenStopped = new Promise<void>((r) => { stopped = r; });
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      // A second Ctrl-C means "now": kill everything without waiting.
      process.stderr.write(`devmesh: ${sig} again, killing everything\n`);
      runtime.killAll();
      process.exit(130);
    }
    process.stderr.write(`devmesh: ${sig}, stopping the mesh...\n`);
    runtime.stop().then(stopped, stopped);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // If devmesh dies of a bug, it must not leave sidecars and apps behind.
  process.on('exit', () => runtime.killAll());

  try {
    await runtime.start();
  } catch (e) {
    if (e instanceof UpError) {
      for (const line of e.lines) process.stderr.write(line + '\n');
      return 1;
    }
    await runtime.stop().catch(() => undefined);
    throw e;
  }
  await whenStopped;
  process.stdout.write('devmesh: mesh stopped\n');
  // Everything is closed, so Node exits by itself; should a stray handle remain,
  // this unref'd timer still ends the process instead of hanging the terminal.
  setTimeout(() => process.exit(0), 2_000).unref();
  return 0;
}
