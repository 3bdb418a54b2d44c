/** Which Istio Gateway servers the ingress terminates TLS for, and what a mixed port asks of clients; who a chain refuses. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isTlsPassthrough, terminatedPorts, terminatedProtocol, terminatingMode } from '../../simulator/policy/gateway-tls';
import type { GatewayServer } from '../../simulator/policy/model';
import { clientRefusal } from '../../simulator/sidecar/listeners/gatewayServer';
import { secureOptions } from '../../simulator/sidecar/listeners/tlsChains';

const server = (port: number, protocol: string, tls?: Record<string, unknown>, hosts = ['a.example.com']): GatewayServer => ({ port: { number: port, protocol, name: `p${port}` }, hosts, ...(tls ? { tls } : {}) });

describe('Gateway servers that terminate TLS', () => {
  test('HTTPS with SIMPLE, MUTUAL, OPTIONAL_MUTUAL or ISTIO_MUTUAL; not PASSTHROUGH, not an HTTPS server without a mode (PASSTHROUGH in Istio), not protocol TLS', () => {
    assert.deepEqual(['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL', 'ISTIO_MUTUAL', 'PASSTHROUGH', 'AUTO_PASSTHROUGH'].map((mode) => terminatingMode(server(443, 'HTTPS', { mode }))),
      ['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL', 'ISTIO_MUTUAL', undefined, undefined]);
    assert.equal(terminatingMode(server(443, 'HTTPS', { credentialName: 'x' })), undefined);
    assert.equal(terminatingMode(server(443, 'TLS', { mode: 'SIMPLE' })), undefined);
    assert.equal(terminatingMode(server(80, 'HTTP', { httpsRedirect: true })), undefined);
  });

  test('a TLS server with a terminating mode terminates too (then routed by tcp[]); PASSTHROUGH and AUTO_PASSTHROUGH do not', () => {
    assert.deepEqual(['SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL', 'PASSTHROUGH', 'AUTO_PASSTHROUGH'].map((mode) => terminatedProtocol(server(9443, 'TLS', { mode }))), ['TLS', 'TLS', 'TLS', undefined, undefined]);
    assert.equal(terminatedProtocol(server(443, 'HTTPS', { mode: 'SIMPLE' })), 'HTTPS');
    const [port] = terminatedPorts([{ key: 'default/a', spec: { servers: [server(9443, 'TLS', { mode: 'SIMPLE' })] } }]);
    assert.deepEqual([port.port, port.protocol, port.servers[0].protocol], [9443, 'TLS', 'TLS']);
  });

  test('an HTTPS server with tls and no mode passes TLS through (PASSTHROUGH is the mode\'s zero value); HTTPS without tls does not', () => {
    assert.equal(isTlsPassthrough(server(443, 'HTTPS', { credentialName: 'x' })), true);
    assert.equal(isTlsPassthrough(server(443, 'HTTPS', { mode: 'PASSTHROUGH' })), true);
    assert.equal(isTlsPassthrough(server(443, 'HTTPS')), false);
    assert.equal(isTlsPassthrough(server(443, 'HTTPS', { mode: 'SIMPLE' })), false);
  });

  test('one port per server port number, its servers in order; a client certificate required when every server needs one, optional when some do', () => {
    const ports = terminatedPorts([
      { key: 'default/a', spec: { servers: [server(443, 'HTTPS', { mode: 'SIMPLE' }), server(8443, 'HTTPS', { mode: 'MUTUAL' }), server(9443, 'HTTPS', { mode: 'ISTIO_MUTUAL' })] } },
      { key: 'default/b', spec: { servers: [server(443, 'HTTPS', { mode: 'MUTUAL' }, ['b.example.com']), server(80, 'HTTP')] } },
    ]);
    assert.deepEqual(ports.map((p) => [p.port, p.servers.map((s) => `${s.gateway}[${s.index}]`), p.clientCert]), [
      [443, ['default/a[0]', 'default/b[0]'], 'optional'],
      [8443, ['default/a[1]'], 'required'],
      [9443, ['default/a[2]'], 'required'],
    ]);
  });
});

describe('who a server chain refuses after the handshake', () => {
  const socket = (authorized: boolean, peer: object = {}, authorizationError?: string) => ({ authorized, authorizationError: authorizationError as unknown as Error, servername: 'a.example.com', getPeerCertificate: () => peer as never });
  const chain = (mode: 'SIMPLE' | 'MUTUAL' | 'OPTIONAL_MUTUAL') => ({ certPem: '', keyPem: '', mode });

  test('no chain for the name: closed, saying the name', () => {
    assert.match(clientRefusal(undefined, socket(false))!, /no server of this port covers the server name "a\.example\.com"/);
  });

  test('MUTUAL: a client without a certificate, or with one that does not verify; SIMPLE admits both', () => {
    assert.match(clientRefusal(chain('MUTUAL'), socket(false))!, /MUTUAL refused a client without a certificate/);
    assert.match(clientRefusal(chain('MUTUAL'), socket(false, { subject: {} }, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'))!, /does not verify \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    assert.equal(clientRefusal(chain('MUTUAL'), socket(true, { subject: {} })), undefined);
    assert.equal(clientRefusal(chain('SIMPLE'), socket(false)), undefined);
  });

  test('a mutual chain with no CA refuses every client, even one whose certificate verified against something else', () => {
    assert.match(clientRefusal({ certPem: '', keyPem: '', mode: 'MUTUAL', clientCaMissing: 'no CA here' }, socket(true, { subject: {} }))!, /MUTUAL refused the connection: no CA here/);
  });

  test('a chain whose secret is warming refuses every client, and its TLS settings carry no certificate', () => {
    const warming = { certPem: '', keyPem: '', mode: 'SIMPLE' as const, hostname: 'a.example.com', warming: { sds: 'kubernetes://a-cred', why: 'no Secret' } };
    assert.match(clientRefusal(warming, socket(true))!, /no certificate for "a\.example\.com" \(secret kubernetes:\/\/a-cred warming\)/);
    assert.deepEqual(Object.keys(secureOptions(warming)), []);
    assert.deepEqual(Object.keys(secureOptions(chain('SIMPLE'))), ['cert', 'key']);
  });

  test('OPTIONAL_MUTUAL: no certificate is admitted, one that does not verify is not', () => {
    assert.equal(clientRefusal(chain('OPTIONAL_MUTUAL'), socket(false)), undefined);
    assert.match(clientRefusal(chain('OPTIONAL_MUTUAL'), socket(false, { subject: {} }, 'SELF_SIGNED'))!, /OPTIONAL_MUTUAL refused/);
  });
});
