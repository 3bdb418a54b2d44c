/**
 * The server-side TLS of a Gateway port, shared by its HTTPS servers and by
 * its TLS servers that terminate (then routed as TCP): one filter chain per
 * certificate, the chain picked by the ClientHello's server name (Envoy's
 * filter_chain_match on server_names, the most specific name first), and
 * who a chain refuses once the handshake is done. One pick per connection:
 * the chain chosen in the SNI callback is the one the connection is held to.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ListenerCertificate } from '../../protocol';

export type ListenerCertificateRef = Pick<ListenerCertificate, 'hostname' | 'certPem' | 'keyPem' | 'mode' | 'warming' | 'clientCaPem' | 'clientCaMissing' | 'minVersion' | 'maxVersion' | 'ciphers'>;

/** The TLS settings of one certificate's filter chain, as Node's TLS takes them (a warming chain has no certificate: no handshake completes). */
export function secureOptions(c: ListenerCertificateRef): tls.SecureContextOptions {
  return {
    ...(c.warming ? {} : { cert: c.certPem, key: c.keyPem }), ...(c.clientCaPem ? { ca: c.clientCaPem } : {}),
    ...(c.minVersion ? { minVersion: c.minVersion } : {}), ...(c.maxVersion ? { maxVersion: c.maxVersion } : {}), ...(c.ciphers ? { ciphers: c.ciphers } : {}),
  };
}

/**
 * The chain for a server name among a port's certificates, as Envoy's
 * filter_chain_match on server_names picks it: an exact hostname before a
 * wildcard (`*.example.com` takes any name under example.com, however deep,
 * but not example.com itself), a longer wildcard before a shorter one, a
 * chain with no hostname (an Istio server of host `*`, a Gateway API
 * listener without a hostname: Istio builds it with no server_names) last.
 * A name no chain covers, and a ClientHello without a name where no
 * catch-all exists, match no chain: Envoy closes the connection. Istio
 * Gateway servers and Gateway API listeners alike (istiod converts each
 * listener into a server whose hosts are its hostname, `*` without one).
 */
export function pickChain(all: readonly ListenerCertificateRef[], servername: string | undefined): ListenerCertificateRef | undefined {
  const host = servername?.toLowerCase();
  const specific = (h?: string) => (!h ? 0 : h.startsWith('*.') ? h.length : 1_000_000 + h.length);
  const fits = all.filter((c) => !c.hostname || (host !== undefined && (c.hostname.toLowerCase() === host || (c.hostname.startsWith('*.') && host.endsWith(c.hostname.slice(1).toLowerCase())))));
  return [...fits].sort((a, b) => specific(b.hostname) - specific(a.hostname))[0];
}

/**
 * Why a connection's client is refused by the chain its SNI picked, or
 * undefined: no chain for the name; a chain whose secret is warming (its
 * SDS secret never arrived: Envoy closes the connection); a mutual chain with no CA to verify
 * against (istiod serves no `-cacert` secret, so Envoy's chain never
 * completes a handshake); MUTUAL and ISTIO_MUTUAL need a client certificate
 * their CA signed; OPTIONAL_MUTUAL verifies one when sent.
 */
export function clientRefusal(c: ListenerCertificateRef | undefined, socket: Pick<tls.TLSSocket, 'authorized' | 'authorizationError' | 'servername' | 'getPeerCertificate'>): string | undefined {
  if (!c) return `no server of this port covers the server name "${socket.servername || '(none)'}"; connection closed`;
  if (c.warming) return refusedWarming(c);
  if (c.clientCaMissing) return `${c.mode} refused the connection: ${c.clientCaMissing}`;
  if (c.mode === 'MUTUAL' || c.mode === 'ISTIO_MUTUAL') {
    return socket.authorized ? undefined : `${c.mode} refused a client ${socket.authorizationError ? `whose certificate does not verify (${socket.authorizationError})` : 'without a certificate'}`;
  }
  if (c.mode === 'OPTIONAL_MUTUAL' && !socket.authorized && Object.keys(socket.getPeerCertificate() ?? {}).length > 0) {
    return `OPTIONAL_MUTUAL refused a client whose certificate does not verify (${socket.authorizationError})`;
  }
  return undefined;
}

/** Why a chain whose secret never arrived refuses a connection (what is missing was said when it was found missing). */
export function refusedWarming(c: ListenerCertificateRef): string {
  return `no certificate for "${c.hostname ?? '*'}" (secret ${c.warming?.sds} warming); connection closed before the handshake`;
}

/** The error a chain's SNI callback ends a handshake with: no chain for the name, or one with no certificate. */
export class ChainRefusal extends Error {}

/** Whether a port's chains ask for a client certificate: `required` when every chain needs one, `optional` when some do or may. */
export function clientCertOf(chains: readonly ListenerCertificateRef[]): 'required' | 'optional' | undefined {
  const asking = chains.filter((c) => c.mode && c.mode !== 'SIMPLE');
  if (asking.length === 0) return undefined;
  return chains.every((c) => c.mode === 'MUTUAL' || c.mode === 'ISTIO_MUTUAL') ? 'required' : 'optional';
}

/**
 * The SNI side of a port: a secure context per certificate (built once per
 * certificate object), and the chain each connection was given in its SNI
 * callback (Node calls it on the connection's socket), so the check after
 * the handshake reads the chain the handshake used, even if the
 * certificates changed in between, without picking again.
 */
export class ChainPicker {
  private readonly contexts = new WeakMap<ListenerCertificateRef, tls.SecureContext>();
  private readonly given = new WeakMap<object, ListenerCertificateRef>();

  constructor(private readonly certificates: () => readonly ListenerCertificateRef[]) {}

  pick(servername: string | undefined): ListenerCertificateRef | undefined {
    return pickChain(this.certificates(), servername);
  }

  contextOf(c: ListenerCertificateRef): tls.SecureContext {
    let sc = this.contexts.get(c);
    if (!sc) this.contexts.set(c, (sc = tls.createSecureContext(secureOptions(c))));
    return sc;
  }

  /** Node's SNICallback (`this` is the connection's socket): the chain's context, or an error that ends the handshake. */
  get sniCallback(): (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void {
    const picker = this;
    return function (this: object, name, cb) {
      const c = picker.pick(name);
      if (c && this) picker.given.set(this, c);
      if (!c) return cb(new ChainRefusal(`no server of this port covers "${name}"`));
      // Envoy closes a connection whose chain's secret never arrived before any handshake.
      if (c.warming) return cb(new ChainRefusal(refusedWarming(c)));
      cb(null, picker.contextOf(c));
    };
  }

  /** The chain a finished handshake used: the one its SNI callback gave, else (a client without SNI) the port's default. */
  chosen(socket: tls.TLSSocket, fallback: () => ListenerCertificateRef | undefined): ListenerCertificateRef | undefined {
    return this.given.get(socket) ?? (socket.servername ? undefined : fallback());
  }
}

/**
 * Terminates TLS on the accepted TCP sockets of one port (Gateway servers of
 * protocol TLS with a terminating mode), with the port's chains: a Node TLS
 * server per client-certificate demand takes each socket (so `authorized`
 * is Node's own verdict), `secure` gets the decrypted socket once the chain
 * its SNI picked admits the client, `refused` says why not.
 */
export class TlsTerminator {
  private readonly picker: ChainPicker;
  private readonly servers = new Map<string, tls.Server>();

  constructor(private readonly certificates: () => readonly ListenerCertificateRef[], private readonly on: { secure: (clear: tls.TLSSocket) => void; refused: (why: string) => void }) {
    this.picker = new ChainPicker(certificates);
  }

  /** Takes an accepted socket: `peeked` when its ClientHello was read and put back (the TLS socket reads that buffer itself; resuming would hand it to no one). */
  accept(socket: net.Socket, peeked = false): void {
    const clientCert = clientCertOf(this.certificates());
    this.serverFor(clientCert).emit('connection', socket);
    if (!peeked) socket.resume();
  }

  private serverFor(clientCert: 'required' | 'optional' | undefined): tls.Server {
    const key = clientCert ?? 'none';
    let server = this.servers.get(key);
    if (server) return server;
    const first = this.picker.pick(undefined);
    server = tls.createServer({
      ...(first ? secureOptions(first) : {}), SNICallback: this.picker.sniCallback,
      requestCert: clientCert !== undefined, rejectUnauthorized: clientCert === 'required',
    });
    server.on('secureConnection', (clear: tls.TLSSocket) => {
      const refused = clientRefusal(this.picker.chosen(clear, () => this.picker.pick(undefined)), clear);
      if (refused) {
        this.on.refused(refused);
        return void clear.destroy();
      }
      this.on.secure(clear);
    });
    server.on('tlsClientError', (err: Error) => this.on.refused(`TLS handshake failed: ${err.message}`));
    this.servers.set(key, server);
    return server;
  }
}
