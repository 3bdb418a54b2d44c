/**
 * The dispatcher: where a connection an app opened to a mesh service goes
 * once the sidecar knows its destination (service, service port, protocol).
 * Apps reach a service three ways: HTTP proxy form on the outbound listener
 * (requests, not connections: never here), `CONNECT host:port` on the same
 * listener (HTTPS_PROXY, grpc_proxy), and a local upstream port of their
 * workload (Consul Connect's model: `redis-cli -p 16379`). The last two end
 * here with a plain socket to the app and the destination it named:
 *
 * - `http` (and `grpc-web`) ports: HTTP/1.1 inside the socket, into the L7
 *   chain as if it came to the outbound listener (every request routed and
 *   policed on its own);
 * - `http2`, `grpc` ports: HTTP/2 with prior knowledge inside
 *   the socket, into the L7 HTTP/2 entry (`http2Entry.ts`: every stream runs
 *   the outbound chain on its own, as for a request to the outbound listener);
 * - every other port (`tcp`, `tls`, `https`, `mongo`, `redis`, `mysql`, ...):
 *   the L4 chain, one policy decision per connection.
 *
 * The socket arrives paused with anything already read pushed back
 * (`unshift`), so each handler reads the connection from its first byte.
 */
import type * as net from 'node:net';
import type { Protocol } from '../../policy/model';
import type { ServiceInfo, ServicePortInfo } from '../../protocol';

/** Where an app's connection is going, as its sidecar resolved it. */
export interface ConnectionDestination {
  /** The mesh service the app addressed. */
  service: ServiceInfo;
  /** The service port it addressed, with the protocol Istio reads from it. */
  port: ServicePortInfo;
  /** As the app named it: the CONNECT target (`reviews:9090`), or `<fqdn>:<port>` for a local upstream port. */
  authority: string;
  /** How the connection reached the sidecar. */
  via: 'connect' | 'upstream';
  /**
   * How to answer the app's CONNECT (absent for a local upstream port). The
   * dispatcher accepts it (200) before handing an HTTP connection over; the
   * L4 chain answers once its tunnel is up, or refuses with a status.
   */
  answer?: ConnectAnswer;
}

export interface ConnectAnswer {
  accept(): void;
  refuse(status: number, reason: string, message: string): void;
}

/** Takes over one app connection; from here on the handler owns the socket (and closes it). */
export type ConnectionHandler = (socket: net.Socket, destination: ConnectionDestination) => void;

/** The three ways a connection is served. */
export type ConnectionPath = 'http1' | 'http2' | 'l4';

export interface DispatchDeps {
  /** HTTP/1.1 into the L7 chain (the outbound listener's own request handling). */
  http1: ConnectionHandler;
  /** HTTP/2 (prior knowledge) into the L7 chain, per call: the HTTP/2 entry's `serve`. */
  http2: ConnectionHandler;
  /** The L4 chain: tcp[]/tls[] routes, authz, pool limits, toxics, TCP metrics, per connection. */
  l4: ConnectionHandler;
}

/** Which path a port's protocol takes (Istio: http and http2/grpc are HTTP filter chains, the rest TCP proxy). */
export function connectionPath(protocol: Protocol): ConnectionPath {
  switch (protocol) {
    case 'http':
    // gRPC-Web is HTTP/1.1 (or h2 from a browser, never prior knowledge): served as HTTP/1.1 requests, not translated.
    case 'grpc-web':
      return 'http1';
    case 'http2':
    case 'grpc':
      return 'http2';
    default:
      return 'l4';
  }
}

export function dispatcher(deps: DispatchDeps): ConnectionHandler {
  return (socket, destination) => {
    const path = connectionPath(destination.port.protocol);
    // HTTP inside the tunnel: the app may start sending as soon as it is told the tunnel is up.
    if (path !== 'l4') destination.answer?.accept();
    deps[path](socket, destination);
  };
}
