/**
 * `CONNECT host:port` on the outbound listener: what apps send when
 * HTTPS_PROXY / grpc_proxy point at their sidecar (grpc-js sends the name
 * unresolved, `CONNECT reviews:9090`). A mesh service's port is handed to the
 * dispatcher with its protocol; a host outside the mesh passes through
 * (Istio's default ALLOW_ANY: the PassthroughCluster), so an app's calls to
 * the internet keep working; a name that looks like a mesh name but is none
 * is refused with the services it could have meant.
 */
import type * as http from 'node:http';
import type * as net from 'node:net';
import { STATUS_CODES } from 'node:http';
import { PROXY_ERROR_HEADER } from '../errors';
import { portsOf, describePorts } from '../routing/servicePorts';
import { knownServices, serviceForAuthority, type MeshTables } from '../tables';
import type { ConnectAnswer, ConnectionDestination } from './dispatch';

export type ConnectTarget =
  | { kind: 'mesh'; destination: ConnectionDestination }
  | { kind: 'passthrough'; host: string; port: number }
  | { kind: 'error'; status: number; reason: string; message: string };

/** Where a CONNECT target leads, as this sidecar resolves names. Pure. */
export function connectTarget(t: MeshTables, target: string): ConnectTarget {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(target);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return { kind: 'error', status: 400, reason: 'bad-connect-target', message: `CONNECT needs host:port, got "${target}"` };
  const host = m[1].toLowerCase();
  const port = Number(m[2]);
  const service = serviceForAuthority(t, host);
  if (service) {
    const p = portsOf(service).find((x) => x.port === port);
    if (!p) return { kind: 'error', status: 502, reason: 'unknown-port', message: `service ${service.name}.${service.namespace} has no port ${port}; it has ${describePorts(service)}` };
    return { kind: 'mesh', destination: { service, port: p, authority: `${host}:${port}`, via: 'connect' } };
  }
  if (looksLikeMeshName(host)) {
    return { kind: 'error', status: 502, reason: 'unknown-host', message: `no service named "${host}" in mesh ${t.snapshot.meshName}; known services: ${knownServices(t)}` };
  }
  return { kind: 'passthrough', host: m[1].replace(/^\[|\]$/g, ''), port };
}

/** A single label, or a Kubernetes service name (`*.svc`, `*.svc.cluster.local`): a mesh name, never the internet. */
function looksLikeMeshName(host: string): boolean {
  return !host.includes('.') || /\.svc(\.|$)/.test(host) || host.endsWith('.cluster.local');
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
      if (answered) return;
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
    deps.dispatch(socket, { ...to.destination, answer });
  };
}
