/**
 * The pure decisions behind CUSTOM on TCP and a mixed TLS port, without
 * sockets: which CUSTOM policies a connection meets and what pilot makes of
 * their provider (l4/extAuthz.ts tcpCustomDecision), the CheckRequest and
 * CheckResponse on the wire (security/extAuthzGrpc.ts), and which filter
 * chain a server name picks on a port with HTTPS and passthrough servers
 * (routing/mixedTlsPort.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTables } from '../../../simulator/sidecar/tables';
import { tcpCustomDecision } from '../../../simulator/sidecar/l4/extAuthz';
import { tcpAuthzRequest } from '../../../simulator/sidecar/l4/authz';
import { encodeCheckRequest, grpcCheckVerdict } from '../../../simulator/sidecar/security/extAuthzGrpc';
import { isMixedTlsPort, mixedPortChain } from '../../../simulator/sidecar/routing/mixedTlsPort';
import type { ExtensionProvider, Resource } from '../../../simulator/policy/model';
import { ap, gw, snapshotOf, vs, type ServiceDef } from '../fixtures';

const SERVICES: ServiceDef[] = [{ name: 'db', workloads: [{ name: 'db-v1' }] }];
const PROVIDERS: ExtensionProvider[] = [
  { name: 'grpc-authz', envoyExtAuthzGrpc: { service: '127.0.0.1', port: 9191 } },
  { name: 'http-authz', envoyExtAuthzHttp: { service: '127.0.0.1', port: 9300 } },
];
const custom = (name: string, provider: string, rules: NonNullable<Resource<'AuthorizationPolicy'>['spec']['rules']>) =>
  ap(name, { selector: { matchLabels: { app: 'db' } }, action: 'CUSTOM', provider: { name: provider }, rules });
const decide = (policies: Resource<'AuthorizationPolicy'>[], port = 9080) =>
  tcpCustomDecision(compileTables(snapshotOf(SERVICES, { authorizationPolicies: policies, extensionProviders: PROVIDERS }), 'db-v1'), tcpAuthzRequest({ spiffeId: 'spiffe://cluster.local/ns/default/sa/web', address: '127.0.0.1' }, port));

describe('CUSTOM on a TCP connection', () => {
  test('a gRPC provider is asked when a rule matches; a rule of only HTTP fields matches every connection', () => {
    assert.deepEqual(decide([custom('ext', 'grpc-authz', [{ to: [{ operation: { paths: ['/admin'] } }] }])]), { kind: 'ask', provider: 'grpc-authz', policies: ['default/ext'] });
    assert.deepEqual(decide([custom('ext', 'grpc-authz', [{ to: [{ operation: { ports: ['5432'] } }] }])]), { kind: 'none' });
  });

  test('an HTTP provider is not applied to TCP, and says so', () => {
    assert.deepEqual(decide([custom('ext', 'http-authz', [{}])]), { kind: 'ignored', provider: 'http-authz', policies: ['default/ext'] });
  });

  test('an unknown provider, and two providers on one proxy, close what the rules match', () => {
    assert.equal(decide([custom('ext', 'nobody', [{}])]).kind, 'deny');
    const two = decide([custom('a', 'grpc-authz', [{}]), custom('b', 'http-authz', [{}])]);
    assert.equal(two.kind, 'deny');
    assert.match((two as { why: string }).why, /several providers/);
  });
});

describe('the gRPC Check on the wire', () => {
  test('the CheckResponse\'s status code decides: 0 allows, PERMISSION_DENIED denies, a failed call is an error', () => {
    // CheckResponse { status: { code: 7, message: "no" } }
    const denied = Buffer.from([0x0a, 0x06, 0x08, 0x07, 0x12, 0x02, 0x6e, 0x6f]);
    assert.deepEqual(grpcCheckVerdict({ grpcStatus: 0, message: denied }), { kind: 'deny', code: 7, message: 'no', status: 403, headers: [], body: '' });
    assert.deepEqual(grpcCheckVerdict({ grpcStatus: 0, message: Buffer.from([0x0a, 0x00]) }), { kind: 'allow', upstream: [], remove: [], downstream: [] });
    assert.equal(grpcCheckVerdict({ grpcStatus: 14, grpcMessage: 'unavailable' }).kind, 'error');
    assert.equal(grpcCheckVerdict({ grpcStatus: 0, message: Buffer.from([0x0a, 0x09, 0x08]) }).kind, 'error', 'a truncated message');
  });

  test('the CheckRequest nests source, destination and the TLS session under attributes', () => {
    const bytes = encodeCheckRequest({ source: { address: '127.0.0.1', principal: 'p' }, destination: { principal: 'd' }, sni: 's' });
    // attributes (1) { source (1) { address { socket_address { address } }, principal (4) }, destination (2) { principal }, tls_session (12) { sni } }
    assert.equal(bytes[0], 0x0a);
    assert.ok(bytes.includes(Buffer.from([0x22, 0x01, 0x70])), 'source.principal');
    assert.ok(bytes.includes(Buffer.from([0x12, 0x03, 0x22, 0x01, 0x64])), 'destination { principal }');
    assert.ok(bytes.includes(Buffer.from([0x62, 0x03, 0x0a, 0x01, 0x73])), 'tls_session { sni }');
  });
});

describe('a Gateway port with HTTPS and TLS PASSTHROUGH servers', () => {
  const port = 443;
  const tables = (httpsHosts: string[]) => compileTables(snapshotOf(SERVICES, {
    gateways: [gw('mixed', { selector: { istio: 'ingressgateway' }, servers: [
      { port: { number: port, name: 'https', protocol: 'HTTPS' }, hosts: httpsHosts, tls: { mode: 'SIMPLE', credentialName: 'c' } },
      { port: { number: port, name: 'tls', protocol: 'TLS' }, hosts: ['*'], tls: { mode: 'PASSTHROUGH' } },
    ] } as Resource<'Gateway'>['spec'])],
    virtualServices: [vs('pass', { hosts: ['*'], gateways: ['mixed'], tls: [{ match: [{ port, sniHosts: ['db.example.com', 'x.apps.example.com'] }], route: [{ destination: { host: 'db' } }] }] })],
  }), null);
  const t = tables(['web.example.com', '*.apps.example.com']);
  const pick = (sni?: string) => mixedPortChain(t, port, sni);

  test('the most specific server name wins: an exact passthrough name over an HTTPS wildcard, an HTTPS host over nothing', () => {
    assert.equal(pick('web.example.com'), 'https');
    assert.equal(pick('db.example.com'), 'passthrough');
    assert.equal(pick('x.apps.example.com'), 'passthrough');
    assert.equal(pick('y.apps.example.com'), 'https');
  });

  test('a name no chain takes, and no name without an HTTPS catch-all, take no chain', () => {
    assert.equal(pick('other.example.com'), undefined);
    assert.equal(pick(undefined), undefined);
    assert.equal(mixedPortChain(tables(['*']), port, undefined), 'https');
  });
});

describe('a Gateway port with TLS servers that terminate (tcp[]), TLS PASSTHROUGH servers and an HTTPS server', () => {
  const port = 443;
  const t = compileTables(snapshotOf(SERVICES, {
    gateways: [gw('mixed', { selector: { istio: 'ingressgateway' }, servers: [
      { port: { number: port, name: 'tls-db', protocol: 'TLS' }, hosts: ['db.example.com', '*.tcp.example.com'], tls: { mode: 'SIMPLE', credentialName: 'c' } },
      { port: { number: port, name: 'tls-pass', protocol: 'TLS' }, hosts: ['*'], tls: { mode: 'PASSTHROUGH' } },
      { port: { number: port, name: 'https', protocol: 'HTTPS' }, hosts: ['web.example.com'], tls: { mode: 'SIMPLE', credentialName: 'c' } },
    ] } as Resource<'Gateway'>['spec'])],
    virtualServices: [vs('pass', { hosts: ['*'], gateways: ['mixed'], tls: [{ match: [{ port, sniHosts: ['pass.example.com', 'x.tcp.example.com'] }], route: [{ destination: { host: 'db' } }] }] })],
  }), null);
  const pick = (sni?: string) => mixedPortChain(t, port, sni);

  test('is split by server name, each name to its most specific chain', () => {
    assert.equal(isMixedTlsPort(t, port), true);
    assert.equal(pick('db.example.com'), 'tcp');
    assert.equal(pick('y.tcp.example.com'), 'tcp');
    assert.equal(pick('x.tcp.example.com'), 'passthrough');
    assert.equal(pick('pass.example.com'), 'passthrough');
    assert.equal(pick('web.example.com'), 'https');
    assert.equal(pick('other.example.com'), undefined);
    assert.equal(pick(undefined), undefined);
  });
});
