/**
 * Starting a workload's own `command`: where it runs, what environment it
 * gets, and checking before anything starts that the command can run at all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import * as path from 'node:path';
import { portVariable, upstreamVariable } from '../policy/mesh-inventory';
import type { WorkloadSpec } from '../policy/model';
import type { WorkloadInfo } from '../protocol';

/**
 * The app's environment. `HTTP_PROXY` makes curl, Python requests, Go and
 * Java send their calls to the sidecar's outbound listener; Node's http and
 * fetch ignore it before Node 24, so `DEVMESH_OUTBOUND` names the same
 * listener for Node apps to use explicitly. `HTTPS_PROXY`, `https_proxy` and
 * `grpc_proxy` point there too: clients that tunnel (grpc-js, grpc-go, curl
 * for https://) send `CONNECT host:port`, which the sidecar serves as the
 * port's protocol says (dispatch.ts); a host outside the mesh passes through.
 * Loopback stays direct (NO_PROXY) so an app's own health checks do not loop
 * through its sidecar. `PORT` is its first local port; `PORT_<targetPort>`
 * names the local port of each container port (`PORT_9080`, `PORT_GRPC`)
 * when it serves several; `DEVMESH_UPSTREAM_<SERVICE>_<PORT>` is the address
 * of each local upstream port (`127.0.0.1:16379`). Pure.
 */
export function appEnvironment(base: NodeJS.ProcessEnv, spec: WorkloadSpec, info: WorkloadInfo): Record<string, string> {
  const outbound = `http://127.0.0.1:${info.sidecar.outboundPort}`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  // Proxy settings inherited from the user's shell would send mesh calls elsewhere.
  for (const k of ['ALL_PROXY', 'all_proxy']) delete env[k];
  const ports: Record<string, string> = {};
  for (const [key, local] of Object.entries(info.ports ?? {})) ports[portVariable(key)] = String(local);
  for (const u of info.upstreams ?? []) ports[upstreamVariable(u.service, u.port)] = `127.0.0.1:${u.localPort}`;
  Object.assign(env, spec.env ?? {}, ports, {
    PORT: String(info.appPort),
    HTTP_PROXY: outbound,
    http_proxy: outbound,
    HTTPS_PROXY: outbound,
    https_proxy: outbound,
    grpc_proxy: outbound,
    NO_PROXY: 'localhost,127.0.0.1',
    no_proxy: 'localhost,127.0.0.1',
    DEVMESH_OUTBOUND: outbound,
    DEVMESH_WORKLOAD: info.name,
    DEVMESH_SERVICE: info.service,
    DEVMESH_NAMESPACE: info.namespace,
  });
  return env;
}

export interface ResolvedCommand {
  file: string;
  args: string[];
  cwd: string;
}

/**
 * Resolves `command` and `cwd` against the Mesh folder and PATH, or throws a
 * message saying what is wrong and what to change. `node` means the Node that
 * runs devmesh, so the demo works even where `node` is not on PATH.
 */
export function resolveCommand(spec: WorkloadSpec, rootDir: string, envPath = process.env.PATH ?? ''): ResolvedCommand {
  const cwd = path.resolve(rootDir, spec.cwd ?? '.');
  let isDir = false;
  try { isDir = statSync(cwd).isDirectory(); } catch { /* reported below */ }
  if (!isDir) throw new Error(`cwd ${JSON.stringify(spec.cwd)} of workload ${spec.name} is not a folder (resolved to ${cwd}); cwd is relative to the Mesh file`);
  const [cmd, ...args] = spec.command ?? [];
  if (!cmd) throw new Error(`workload ${spec.name} has an empty command`);
  if (cmd === 'node') return { file: process.execPath, args, cwd };
  if (cmd.includes('/')) {
    const file = path.resolve(cwd, cmd);
    if (!isExecutable(file)) throw new Error(`command ${JSON.stringify(cmd)} of workload ${spec.name} was not found or is not executable at ${file}`);
    return { file, args, cwd };
  }
  for (const dir of envPath.split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, cmd);
    if (isExecutable(file)) return { file, args, cwd };
  }
  throw new Error(`command ${JSON.stringify(cmd)} of workload ${spec.name} was not found on PATH; install it or write the full path in \`command\``);
}

function isExecutable(file: string): boolean {
  try { accessSync(file, constants.X_OK); return statSync(file).isFile(); } catch { return false; }
}

export function spawnApp(cmd: ResolvedCommand, env: Record<string, string>): ChildProcess {
  // detached: its own process group, so stopping it also stops what it spawned.
  return spawn(cmd.file, cmd.args, { cwd: cmd.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}
