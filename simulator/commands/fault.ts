/**
 * `devmesh fault add|list|clear`: runtime chaos on a running mesh, without
 * editing policy files. Finds the mesh through `.devmesh/session.json`
 * beside the Mesh file (`-f`, default ./mesh.yaml) and calls /api/faults.
 */
import type { Command } from 'commander';
import type { FaultRequest } from '../control/api/contract';
import { MeshClientError, onMesh } from './meshClient';

interface Common { file: string }

const HELP = `
Faults are temporary: each lasts --for (default 10m; --for 0 keeps it until cleared).
HTTP faults on a service or subset act at the caller's sidecar before retries, like a
VirtualService fault; on one --workload they act after the endpoint pick, so retries and
outlier detection react as if that instance misbehaved. TCP toxics (Toxiproxy-style)
act on the connections callers' sidecars open to the target's workloads.

Examples:
  devmesh fault add reviews --abort 503 --percent 50 --for 2m
  devmesh fault add ratings --delay 2s --percent 100 --subset v1
  devmesh fault add reviews --workload reviews-v2 --abort 500
  devmesh fault add details.default --abort 503                 a service of another namespace
  devmesh fault add ratings --abort 503 --source reviews-v3     only calls from reviews-v3
  devmesh fault add reviews --toxic latency --latency 200ms --jitter 50ms
  devmesh fault add reviews --toxic bandwidth --rate 16         16 KB/s
  devmesh fault add details --toxic reset_peer --timeout 100ms  reset connections after 100 ms
  devmesh fault add details --toxic timeout                     hold connections silently
  devmesh fault add details --toxic slow_close --delay 1s
  devmesh fault list
  devmesh fault clear f-1a2b3c
  devmesh fault clear --all`;

export function register(program: Command, setExit: (code: number) => void): void {
  const fault = program.command('fault').description('inject temporary faults into a running mesh (HTTP delay/abort, TCP toxics)').addHelpText('after', HELP);

  fault.command('add')
    .description('add a fault on a service (optionally a subset, workload or caller edge)')
    .argument('<service>', 'target service: its name (e.g. reviews), name.namespace when several namespaces have one, or the FQDN')
    .option('-f, --file <mesh.yaml>', 'the Mesh file of the running mesh', 'mesh.yaml')
    .option('--abort <status>', 'answer with this HTTP status')
    .option('--delay <duration>', 'HTTP: hold requests this long (e.g. 2s); with --toxic slow_close: delay the close')
    .option('--percent <0-100>', 'share of requests (TCP: of connections) affected', '100')
    .option('--subset <name>', 'only the DestinationRule subset')
    .option('--workload <name>', 'only this workload of the service')
    .option('--source <caller>', 'only calls from this workload or service (an edge)')
    .option('--toxic <type>', 'TCP toxic: latency, bandwidth, reset_peer, timeout, slow_close')
    .option('--latency <duration>', 'latency toxic: added per chunk')
    .option('--jitter <duration>', 'latency toxic: ± random jitter')
    .option('--rate <KB/s>', 'bandwidth toxic: kilobytes per second')
    .option('--timeout <duration>', 'reset_peer: reset after; timeout: close after (default: hold)')
    .option('--for <duration>', 'how long the fault lasts (0 = until cleared)', '10m')
    .addHelpText('after', HELP)
    .action(async (service: string, o: Record<string, string> & Common) => {
      const percentage = Number(o.percent);
      const req: FaultRequest = { service, subset: o.subset, workload: o.workload, source: o.source, for: o.for };
      if (o.toxic) {
        req.tcp = { type: o.toxic, latency: o.latency, jitter: o.jitter, rate: o.rate === undefined ? undefined : Number(o.rate), timeout: o.timeout, delay: o.delay, percentage };
      } else {
        if (o.abort !== undefined) req.abort = { httpStatus: Number(o.abort), percentage };
        if (o.delay !== undefined) req.delay = { fixedDelay: o.delay, percentage };
      }
      const added = await call(setExit, o.file, (c) => c.addFault(req));
      if (added) process.stdout.write(`${added.fault.id}  ${added.fault.description}\n`);
    });

  fault.command('list')
    .description('list the faults in force')
    .option('-f, --file <mesh.yaml>', 'the Mesh file of the running mesh', 'mesh.yaml')
    .option('--json', 'print JSON')
    .action(async (o: Common & { json?: boolean }) => {
      const listed = await call(setExit, o.file, (c) => c.faults());
      if (!listed) return;
      const faults = listed.faults;
      if (o.json) return void process.stdout.write(JSON.stringify(faults, null, 2) + '\n');
      if (faults.length === 0) return void process.stdout.write('no faults\n');
      for (const f of faults) process.stdout.write(`${f.id}  ${f.description}\n`);
    });

  fault.command('clear')
    .description('clear one fault by id, or all of them')
    .argument('[id]', 'fault id from `devmesh fault list`')
    .option('-f, --file <mesh.yaml>', 'the Mesh file of the running mesh', 'mesh.yaml')
    .option('--all', 'clear every fault')
    .action(async (id: string | undefined, o: Common & { all?: boolean }) => {
      if (!id && !o.all) {
        process.stderr.write('devmesh fault clear: give a fault id or --all\n');
        return setExit(2);
      }
      const r = await call(setExit, o.file, (c) => c.clearFaults(id));
      if (!r) return;
      const cleared = r.cleared;
      process.stdout.write(cleared.length ? `cleared ${cleared.join(', ')}\n` : 'no faults to clear\n');
    });
}

/** Calls the running mesh; prints why and sets exit 1 when there is none or it refuses. */
async function call<T>(setExit: (c: number) => void, meshFile: string, f: Parameters<typeof onMesh<T>>[1]): Promise<T | undefined> {
  try {
    return await onMesh(meshFile, f);
  } catch (e) {
    if (!(e instanceof MeshClientError)) throw e;
    process.stderr.write(`devmesh fault: ${e.message}\n`);
    setExit(1);
    return undefined;
  }
}
