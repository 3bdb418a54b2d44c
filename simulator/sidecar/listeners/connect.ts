/**
 * `CONNECT host:port` on the outbound listener: what apps send when
 * HTTPS_PROXY / grpc_proxy point at their sidecar (grpc-js sends the name
 * unresolved, `CONNECT reviews:9090`). A mesh service's port is handed to the
 * dispatcher with its protocol, and so is a ServiceEntry host's (its L4
 * chain ends at the entry's endpoint: TLS passes through, the app does TLS
 * itself). A host the registry does not name is decided as the HTTP path
 * decides it (`outsideRegistryFor`, the outbound traffic policy): ALLOW_ANY
 * passes it through (the PassthroughCluster), REGISTRY_ONLY refuses it
 * (the BlackHoleCluster: 502 and close), and a name that can only be a
 * mesh name is refused with the services it could have meant.
 */
import type * as http from 'node:http';
import type * as net from 'node:net';
import { STATUS_CODES } from 'node:http';
import { PROXY_ERROR_HEADER } from '../errors';
import { outsideRegistryFor } from '../routing/outboundPolicy';
import { entryAtAddress } from '../routing/entryAddresses';
import { portsOf, describePorts } from '../routing/servicePorts';
import { knownServices, serviceForAuthority, type MeshTables } from '../tables';
import type { ConnectAnswer, ConnectionDestination } from './dispatch';

export type ConnectTarget =
  | { kind: 'mesh'; destination: ConnectionDestination }
  | { kind: 'passthrough'; host: string; port: number }
  | { kind: 'blackhole'; host: string; port: number; source: string }
  | { kind: 'error'; status: number; reason: string; message: string };

/** Where a CONNECT target leads, as this sidecar resolves names. Pure. */
export function connectTarget(t: MeshTables, target: string): ConnectTarget {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(target);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return { kind: 'error', status: 400, reason: 'bad-connect-target', message: `CONNECT needs host:port, got "${target}"` };
  const host = m[1].toLowerCase();
  const port = Number(m[2]);
  // A name of the registry, or an address (or CIDR block) a ServiceEntry lists with this port.
  const service = serviceForAuthority(t, host) ?? entryAtAddress(t, host, port);
  if (service) {
    const p = portsOf(service).find((x) => x.port === port);
    // A ServiceEntry host on a port it does not declare is outside the registry, as on the HTTP path (no listener for it).
    if (p || !service.entry) {
      if (!p) return { kind: 'error', status: 502, reason: 'unknown-port', message: `service ${service.name}.${service.namespace} has no port ${port}; it has ${describePorts(service)}` };
      return { kind: 'mesh', destination: { service, port: p, authority: `${host}:${port}`, via: 'connect' } };
    }
  }
  const outside = outsideRegistryFor(t, host);
  switch (outside.kind) {
    case 'unknown-mesh-name': {
      const scoped = t.sidecarResource ? ` (Sidecar ${t.sidecarResource} limits the hosts this workload knows)` : '';
      return { kind: 'error', status: 502, reason: 'unknown-host', message: `no service named "${host}" in mesh ${t.snapshot.meshName}${scoped}; known services: ${knownServices(t)}` };
    }
    case 'blackhole':
      return { kind: 'blackhole', host, port, source: outside.source };
    case 'passthrough':
      return { kind: 'passthrough', host: m[1].replace(/^\[|\]$/g, ''), port };
  }
}

/** Answers a CONNECT on the app's socket: 200 once, or an error status with devmesh's reason header. */
export function connectAnswer(socket: net.Socket): ConnectAnswer {
  let answered = false;
  return {
    accept() {
      if (answered) return;
      answered = true;
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    },
    refuse(status, reason, message) {
      // Already told 200 (a TLS port reads the ClientHello after): too late for a status, the tunnel just closes.
      if (answered) return void socket.end();
      answered = true;
      const body = `devmesh: ${message}\n`;
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\n${PROXY_ERROR_HEADER}: ${reason}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    },
  };
}

export interface ConnectDeps {
  tables: () => MeshTables;
  /** The dispatcher: a mesh service's port. */
  dispatch: (socket: net.Socket, destination: ConnectionDestination) => void;
  /** A host outside the mesh. */
  passthrough: (socket: net.Socket, host: string, port: number, answer: ConnectAnswer) => void;
  /** A host outside the registry under REGISTRY_ONLY: Istio's BlackHoleCluster (502, logged and counted as it). */
  blackhole: (socket: net.Socket, target: { host: string; port: number; source: string }, answer: ConnectAnswer) => void;
  /** A CONNECT refused before any connection was made (logged as the L4 path logs). */
  refused: (socket: net.Socket, err: { status: number; reason: string; message: string }, answer: ConnectAnswer) => void;
}

/** The outbound listener's 'connect' handler. */
export function onConnect(deps: ConnectDeps): (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    socket.pause();
    if (head.length > 0) socket.unshift(head);
    const to = connectTarget(deps.tables(), req.url ?? '');
    const answer = connectAnswer(socket);
    if (to.kind === 'error') return deps.refused(socket, to, answer);
    if (to.kind === 'passthrough') return deps.passthrough(socket, to.host, to.port, answer);
    if (to.kind === 'blackhole') return deps.blackhole(socket, to, answer);
    deps.dispatch(socket, { ...to.destination, answer });
  };
}
