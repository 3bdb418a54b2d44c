/**
 * `devmesh up [-f mesh.yaml]`: runs the mesh in the foreground until
 * Ctrl-C/SIGTERM. All the work is in control/runtime.ts; this module only
 * maps it onto a terminal: printing, signals, exit codes.
 */
import type { Command } from 'commander';

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('up')
    .description('start the mesh: sidecars with mTLS, the apps, the control API; applies policy and Mesh edits live')
    .option('-f, --file <mesh.yaml>', 'the Mesh file; policies are read from its folder tree', 'mesh.yaml')
    .option('--control-port <n>', 'port of the control API and dashboard on 127.0.0.1; overrides the Mesh\'s spec.controlPort (default 15000)')
    .option('--access-log', 'print every sidecar\'s access log (Envoy format)', false)
    .option('--log-format <format>', 'access-log format: text (Istio\'s Envoy format) or json', 'text')
    .option('--otlp-endpoint <url>', 'send spans over OTLP/HTTP to this collector (e.g. http://127.0.0.1:4318/v1/traces)')
    .option('--max-traces <n>', 'traces kept in memory for `devmesh traces` and the API', '1000')
    .action(async (opts: { file: string; controlPort?: string; accessLog: boolean; logFormat: string; otlpEndpoint?: string; maxTraces: string }) => {
      if (opts.logFormat !== 'text' && opts.logFormat !== 'json') {
        process.stderr.write(`devmesh up: --log-format must be text or json (got ${opts.logFormat})\n`);
        return setExit(2);
      }
      const maxTraces = Number(opts.maxTraces);
      if (!Number.isInteger(maxTraces) || maxTraces < 1) {
        process.stderr.write(`devmesh up: --max-traces must be a positive integer (got ${opts.maxTraces})\n`);
        return setExit(2);
      }
      const controlPort = opts.controlPort === undefined ? undefined : Number(opts.controlPort);
      if (controlPort !== undefined && !(/^\d+$/.test(opts.controlPort!) && controlPort >= 1 && controlPort <= 65535)) {
        process.stderr.write(`devmesh up: --control-port must be a port number from 1 to 65535 (got ${opts.controlPort})\n`);
        return setExit(2);
      }
      if (opts.otlpEndpoint && !/^https?:\/\//.test(opts.otlpEndpoint)) {
        process.stderr.write(`devmesh up: --otlp-endpoint must be an http:// or https:// URL (got ${opts.otlpEndpoint})\n`);
        return setExit(2);
      }
      setExit(await up(opts.file, { accessLog: opts.accessLog, logFormat: opts.logFormat, otlpEndpoint: opts.otlpEndpoint, maxTraces, controlPort }));
    });
}

export async function up(meshFile: string, opts: { accessLog?: boolean; logFormat?: 'text' | 'json'; otlpEndpoint?: string; maxTraces?: number; controlPort?: number } = {}): Promise<number> {
  const { MeshRuntime, UpError } = await import('../control/runtime');
  const runtime = new MeshRuntime({ meshFile, ...opts });
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
      // Everything devmesh started is stopped, but a process one of them left
      // behind (a daemon in its own group) can still hold a child's output pipe
      // open, which would keep Node alive: exit anyway, as after a clean stop.
      setTimeout(() => process.exit(1), 2_000).unref();
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
