/**
 * The ingress's TCP and TLS servers as the gateway tests set them up: one
 * Gateway (`edge`) with a MUTUAL TLS server for tcp.example.com and a plain
 * TCP server, both routed by tcp[] to tcp-echo:9000; policies that select
 * the ingress gateway; and a TLS client of the MUTUAL server.
 */
import * as tls from 'node:tls';
import type { Certificates } from '../../../simulator/protocol';
import type { Resource } from '../../../simulator/policy/model';
import { ap, gw, vs } from '../fixtures';

export interface IngressTcpPorts { mutual: number; plain: number }

export const ingressTcpGateway = (p: IngressTcpPorts) => gw('edge', {
  selector: { istio: 'ingressgateway' },
  servers: [
    { port: { number: p.mutual, name: 'tls-mutual', protocol: 'TLS' }, hosts: ['tcp.example.com'], tls: { mode: 'MUTUAL', credentialName: 'tcp-cred' } },
    { port: { number: p.plain, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] },
  ],
} as Resource<'Gateway'>['spec']);

export const ingressTcpRoutes = (p: IngressTcpPorts) => vs('tcp-echo', { hosts: ['*'], gateways: ['edge'], tcp: [{ match: [{ port: p.mutual }, { port: p.plain }], route: [{ destination: { host: 'tcp-echo', port: { number: 9000 } } }] }] });

/** A policy selecting the ingress gateway, as a cluster writes it. */
export const atIngress = (name: string, spec: Resource<'AuthorizationPolicy'>['spec']) => ap(name, { selector: { matchLabels: { istio: 'ingressgateway' } }, ...spec }, 'istio-system');

/** `openssl s_client -connect 127.0.0.1:<port> -servername tcp.example.com [-cert ...]`, saying one line: what came back ('' when closed). */
export function tlsSay(port: number, serverCaPem: string, client: Certificates | undefined): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'tcp.example.com', ca: serverCaPem, ...(client ? { cert: client.certPem, key: client.keyPem } : {}) });
    let reply = '';
    s.on('secureConnect', () => s.write('hello\n'));
    s.on('data', (d) => { reply += d; if (reply.includes('\n')) s.end(); });
    s.on('error', () => undefined);
    s.on('close', () => resolve(reply.trim()));
    s.setTimeout(10_000, () => s.destroy());
  });
}
