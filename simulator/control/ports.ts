/**
 * Which ports `devmesh up` needs, who in the Mesh owns each one, and whether
 * they are free. A taken port is reported with the owner and the place it is
 * written in the Mesh file, because "EADDRINUSE" alone tells nobody what to
 * change. Unpinned sidecar ports are picked (`freePorts`) before anything
 * starts, since every sidecar must know its peers' ports up front.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Resource, WorkloadSpec } from '../policy/model';
import { placedWorkloads } from './mesh-change';
import type { PortAssignment, SidecarPortAssignment } from './snapshot';
import { resolvedMeshSettings } from './snapshot';

export interface PortClaim {
  port: number;
  /** Human words for the owner: "port 9080 of workload reviews-v1". */
  owner: string;
  /** Field path in the Mesh document, for the error position; absent when the port came from the command line. */
  field?: (string | number)[];
}

/** Ports given on the command line, which win over the Mesh file's. */
export interface PortOverrides {
  /** `devmesh up --control-port`: replaces spec.controlPort. */
  controlPort?: number;
}

/**
 * Ports that must be free before starting: control API, ingress, pinned
 * sidecar ports, local upstream ports (the sidecar binds them), and the app
 * port of every workload devmesh starts itself.
 * A workload without `command` is run by the developer, so its port being
 * taken is expected, not an error.
 */
export function portClaims(mesh: Resource<'Mesh'>, overrides: PortOverrides = {}): PortClaim[] {
  const { controlPort, ingressPort } = resolvedMeshSettings(mesh.spec);
  const claims: PortClaim[] = [
    overrides.controlPort !== undefined
      ? { port: overrides.controlPort, owner: `--control-port ${overrides.controlPort} (control API)` }
      : { port: controlPort, owner: `controlPort ${controlPort} (control API)`, field: ['spec', 'controlPort'] },
    { port: ingressPort, owner: `ingress port ${ingressPort}`, field: ['spec', 'ingress', 'port'] },
  ];
  for (const { spec: w, field: at } of placedWorkloads(mesh.spec).values()) {
    if (w.command) claims.push(...appPortClaims(w, at));
    for (const key of ['inboundPort', 'outboundPort', 'adminPort'] as const) {
      const p = w.sidecar?.[key];
      if (p) claims.push({ port: p, owner: `sidecar ${key} ${p} of workload ${w.name}`, field: [...at, 'sidecar', key] });
    }
    (w.upstreams ?? []).forEach((u, i) => {
      if (typeof u?.localPort === 'number') claims.push({ port: u.localPort, owner: `upstream localPort ${u.localPort} (${u.service}) of workload ${w.name}`, field: [...at, 'upstreams', i, 'localPort'] });
    });
  }
  return claims;
}

/** The local ports a workload's app listens on (`port`, or each distinct one of `ports`), where they are written. */
export function appPortClaims(w: WorkloadSpec, at: (string | number)[]): PortClaim[] {
  if (w.port !== undefined) return [{ port: w.port, owner: `port ${w.port} of workload ${w.name}`, field: [...at, 'port'] }];
  const seen = new Set<number>();
  return Object.entries(w.ports ?? {}).filter(([, p]) => !seen.has(p) && !!seen.add(p))
    .map(([key, p]) => ({ port: p, owner: `port ${p} (container port ${key}) of workload ${w.name}`, field: [...at, 'ports', key] }));
}

/** Two owners in the Mesh claiming one port (the validator reports it too; `up` must not start either way). */
export function duplicateClaims(claims: PortClaim[]): [PortClaim, PortClaim][] {
  const seen = new Map<number, PortClaim>();
  const dups: [PortClaim, PortClaim][] = [];
  for (const c of claims) {
    const first = seen.get(c.port);
    if (first) dups.push([first, c]);
    else seen.set(c.port, c);
  }
  return dups;
}

/** Resolves to true when 127.0.0.1:port can be bound right now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export interface PortProblem { claim: PortClaim; message: string }

/** Every claim whose port is already taken, with a one-line message per port. */
export async function takenPorts(claims: PortClaim[]): Promise<PortProblem[]> {
  const results = await Promise.all(claims.map(async (c) => ({ c, free: await isPortFree(c.port) })));
  return results.filter((r) => !r.free).map(({ c }) => ({ claim: c, message: `${c.owner} is already in use by another process` }));
}

/** Lowest port `freePorts` hands out: above the well-known and common development ports. */
const LOWEST = 20_000;
/** How long a port handed out by this process is not handed out again. */
const LEASE_MS = 120_000;
const handedOut = new Map<number, number>();
/** One file per port handed out by any devmesh process on this machine (tests run several at once). */
const leaseDir = () => process.env.DEVMESH_PORT_LEASES ?? path.join(os.tmpdir(), 'devmesh-port-leases');

/**
 * Claims `port` for LEASE_MS against other processes that pick ports here
 * (parallel test runs, a second `devmesh up`): probing alone cannot see a port
 * another process handed out but has not bound yet. Atomic (exclusive create);
 * an expired lease is taken over. Without a writable temp dir the in-process
 * lease still holds.
 */
function leaseAcrossProcesses(port: number, now: number): boolean {
  const dir = leaseDir();
  const file = path.join(dir, String(port));
  try {
    mkdirSync(dir, { recursive: true });
    try {
      if (now - statSync(file).mtimeMs < LEASE_MS) return false;
      rmSync(file, { force: true });
    } catch { /* no lease yet */ }
    closeSync(openSync(file, 'wx'));
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'EEXIST';
  }
}

/**
 * The kernel's ephemeral range, from which it picks both `listen(0)` ports
 * and the source port of every outgoing connection.
 */
export function ephemeralRange(text?: string): [number, number] {
  try {
    const [low, high] = (text ?? readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low > 0 && high >= low) return [low, high];
  } catch { /* not Linux: the IANA range */ }
  return [49152, 65535];
}

function bindable(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(srv));
  });
}

/**
 * `count` distinct ports that are free on 127.0.0.1 now. They are handed out
 * before anyone binds them (every sidecar must know its peers' ports up
 * front), so they are drawn below the kernel's ephemeral range: a port from
 * `listen(0)` would be in that range, where any outgoing connection on the
 * machine may take it as its source port before the sidecar binds it. A port
 * this process or another devmesh process on the machine (a lease file)
 * handed out in the last two minutes is not handed out again,
 * and every candidate is bound (exclusively) until all are known. When the
 * ephemeral range leaves no room below it, the kernel picks.
 */
export async function freePorts(count: number, avoid: ReadonlySet<number> = new Set()): Promise<number[]> {
  const servers: net.Server[] = [];
  const now = Date.now();
  for (const [port, at] of handedOut) if (now - at > LEASE_MS) handedOut.delete(port);
  const [ephemeralLow] = ephemeralRange();
  const span = ephemeralLow - LOWEST;
  try {
    const ports: number[] = [];
    // Bounded: a full range, or the kernel handing out `avoid` ports hundreds of times in a row.
    for (let tries = 0; ports.length < count && tries < count * 20 + 1000; tries++) {
      const candidate = span >= 1_000 ? LOWEST + Math.floor(Math.random() * span) : 0;
      if (candidate && (avoid.has(candidate) || handedOut.has(candidate) || ports.includes(candidate))) continue;
      const srv = await bindable(candidate);
      if (!srv) continue;
      servers.push(srv);
      const port = (srv.address() as net.AddressInfo).port;
      // A pinned port of another workload is free now but taken later; never hand it out.
      if (!avoid.has(port) && !handedOut.has(port) && leaseAcrossProcesses(port, now)) ports.push(port);
    }
    if (ports.length < count) throw new Error(`could not find ${count} free ports on 127.0.0.1`);
    for (const p of ports) handedOut.set(p, now);
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/**
 * A workload's sidecar ports as pinned in the Mesh (0 where not pinned); each
 * port still to pick gets a setter in `needed`, for `fillPorts`.
 */
export function pinnedSidecarPorts(w: WorkloadSpec, needed: Array<(port: number) => void>): SidecarPortAssignment {
  const a = { inboundPort: w.sidecar?.inboundPort ?? 0, outboundPort: w.sidecar?.outboundPort ?? 0, adminPort: w.sidecar?.adminPort ?? 0 };
  for (const key of ['inboundPort', 'outboundPort', 'adminPort'] as const) {
    if (!a[key]) needed.push((p) => { a[key] = p; });
  }
  return a;
}

/** Gives every setter in `needed` a distinct free port, none of them in `avoid`. */
export async function fillPorts(needed: Array<(port: number) => void>, avoid: ReadonlySet<number>): Promise<void> {
  if (!needed.length) return;
  const ports = await freePorts(needed.length, avoid);
  needed.forEach((set, i) => set(ports[i]));
}

/** Pinned ports as written, the rest from `freePorts`. */
export async function assignPorts(mesh: Resource<'Mesh'>, overrides: PortOverrides = {}): Promise<PortAssignment> {
  const { ingressPort } = resolvedMeshSettings(mesh.spec);
  const needed: Array<(p: number) => void> = [];
  const workloads: PortAssignment['workloads'] = {};
  const ingress = { port: ingressPort, adminPort: 0 };
  needed.push((p) => { ingress.adminPort = p; });
  for (const { spec: w } of placedWorkloads(mesh.spec).values()) workloads[w.name] = pinnedSidecarPorts(w, needed);
  // A pinned port of another workload is free now but taken later; never hand it out.
  await fillPorts(needed, new Set(portClaims(mesh, overrides).map((c) => c.port)));
  return { workloads, ingress };
}
