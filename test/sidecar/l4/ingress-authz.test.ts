/**
 * AuthorizationPolicy on the ingress gateway's TCP and TLS connections, on
 * real sockets: Istio's gateway runs its network RBAC filter on the listeners
 * of Gateway servers that are not HTTP, with the policies that select the
 * gateway (`istio: ingressgateway` in istio-system) read as pilot builds them
 * for TCP (authz/builder with forTCP):
 *
 * - `source.principals` is the SPIFFE id of the client certificate a MUTUAL
 *   server verified (a plain client has none; never the gateway's own);
 * - `ipBlocks` the client's address, `ports`/`destination.port` the Gateway
 *   server port, `connection.sni` the server name the client asked for;
 * - an ALLOW rule with an HTTP-only field (`methods`, `paths`, ...) matches
 *   no connection; a DENY rule loses those fields and still applies.
 *
 * A denial closes the connection: the client reads nothing, the ingress's
 * access-log entry names the policy, and `rbac.tcp.denied` counts it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCa } from '../../../simulator/control/ca';
import { ListenerCertificates } from '../../../simulator/control/gateway-ingress';
import { ingressTerminatedPorts } from '../../../simulator/policy/gateway-tls';
import type { TlsSecret } from '../../../simulator/policy/gateway-api/secrets';
import type { Certificates } from '../../../simulator/protocol';
import type { Resource } from '../../../simulator/policy/model';
import { freePort, startMeshFromSpec, type Policies, type TestMesh } from '../fixtures';
import { atIngress, ingressTcpGateway as gateway, ingressTcpRoutes as routes, tlsSay as tlsSayWith, type IngressTcpPorts as Ports } from './ingressTcp';
import { eventually, say, tcpEcho } from './fixtures';

const serverCa = createCa({ trustDomain: 'example.com' });
const clientCa = createCa({ trustDomain: 'client.example.com' });
const CURL = clientCa.issue('spiffe://client.example.com/ns/outside/sa/curl');
const ANOTHER = clientCa.issue('spiffe://client.example.com/ns/outside/sa/another');

const tlsSay = (port: number, client: Certificates | undefined) => tlsSayWith(port, serverCa.trustBundlePem, client);

describe('AuthorizationPolicy at the ingress gateway on its TCP and TLS servers', () => {
  let mesh: TestMesh;
  let ports: Ports;
  const policies = (aps: Resource<'AuthorizationPolicy'>[]): Policies => ({ gateways: [gateway(ports)], virtualServices: [routes(ports)], authorizationPolicies: aps });
  const ingressEntries = () => mesh.ingress!.accessLog.tail().filter((e) => e.protocol === '-' && e.listener === 'ingress');
  /** The ingress's access-log entry of the one connection made after `before` entries (each test connects one at a time). */
  const entryAfter = (before: number) => eventually(() => ingressEntries()[before], 'the ingress\'s entry of the connection');

  before(async () => {
    ports = { mutual: await freePort(), plain: await freePort() };
    const cert = serverCa.issueServer({ dns: ['tcp.example.com'] });
    const secrets = new Map<string, TlsSecret>([['istio-system/tcp-cred', { certPem: cert.certPem, keyPem: cert.keyPem, notAfter: '', dnsNames: ['tcp.example.com'], caPem: clientCa.certPem }]]);
    const listenerCertificates = new ListenerCertificates(() => serverCa).forIstio(ingressTerminatedPorts([gateway(ports)], 'default'), secrets).certs;
    mesh = await startMeshFromSpec({
      services: [{ name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }], workloads: [{ name: 'tcp-echo-v1', labels: { app: 'tcp-echo' }, ports: { '9000': 1 } }] }],
    }, policies([]), { ingress: true, listenerCertificates, app: (name: string) => (name.startsWith('tcp-echo') ? tcpEcho(name) : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  test('with no policy, both clients of the MUTUAL server and a plain TCP client reach tcp-echo', async () => {
    await mesh.push(policies([]));
    assert.equal(await tlsSay(ports.mutual, CURL), 'tcp-echo-v1 hello');
    assert.equal(await tlsSay(ports.mutual, ANOTHER), 'tcp-echo-v1 hello');
    assert.equal((await say(ports.plain, 'hello')).trim(), 'tcp-echo-v1 hello');
  });

  test('ALLOW source.principals: the client certificate it names reaches tcp-echo, another verified client\'s connection is closed', async () => {
    await mesh.push(policies([atIngress('curl-only', { rules: [{ from: [{ source: { principals: ['client.example.com/ns/outside/sa/curl'] } }] }] })]));
    const denied = mesh.ingress!.stats.get('rbac.tcp.denied');
    assert.equal(await tlsSay(ports.mutual, CURL), 'tcp-echo-v1 hello');
    const seen = ingressEntries().length;
    assert.equal(await tlsSay(ports.mutual, ANOTHER), '');
    const entry = await entryAfter(seen);
    assert.equal(entry.connection_termination_details, 'rbac_access_denied_matched_policy[no ALLOW policy matched (istio-system/curl-only)]');
    assert.deepEqual(entry.decisions.find((d) => d.step === 'authz'), { step: 'authz', proxy: mesh.ingress!.tables().identity.name, allowed: false, reason: 'no ALLOW policy matched (istio-system/curl-only)' });
    // Decided on the client's first bytes, once the ingress had connected upstream: the attempt connected, then the verdict closed it.
    assert.deepEqual(entry.decisions.filter((d) => d.step !== 'request').map((d) => d.step === 'attempt' ? `attempt:${d.result}` : d.step), ['route', 'authz', 'attempt:connected']);
    assert.equal(mesh.ingress!.stats.get('rbac.tcp.denied'), denied + 1);
    // A plain TCP client has no principal: the same ALLOW policy admits none of its connections.
    assert.equal((await say(ports.plain, 'hello')).trim(), '');
  });

  test('DENY ipBlocks on the plain TCP server\'s port closes its connections; the MUTUAL server\'s port is not in the rule', async () => {
    await mesh.push(policies([atIngress('no-local-tcp', { action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['127.0.0.0/8'] } }], to: [{ operation: { ports: [String(ports.plain)] } }] }] })]));
    const seen = ingressEntries().length;
    assert.equal((await say(ports.plain, 'hello')).trim(), '');
    assert.equal((await entryAfter(seen)).connection_termination_details, 'rbac_access_denied_matched_policy[istio-system/no-local-tcp]');
    assert.equal(await tlsSay(ports.mutual, ANOTHER), 'tcp-echo-v1 hello');
  });

  test('DENY when destination.port is the Gateway server port (not the backend\'s 9000)', async () => {
    await mesh.push(policies([atIngress('port-deny', { action: 'DENY', rules: [{ when: [{ key: 'destination.port', values: [String(ports.plain)] }] }] })]));
    assert.equal((await say(ports.plain, 'hello')).trim(), '');
    await mesh.push(policies([atIngress('port-deny', { action: 'DENY', rules: [{ when: [{ key: 'destination.port', values: ['9000'] }] }] })]));
    assert.equal((await say(ports.plain, 'hello')).trim(), 'tcp-echo-v1 hello');
  });

  test('an ALLOW rule with only HTTP fields (methods: [GET]) matches no connection; a DENY rule with one loses it and denies all', async () => {
    await mesh.push(policies([atIngress('get-only', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })]));
    assert.equal((await say(ports.plain, 'hello')).trim(), '');
    assert.equal(await tlsSay(ports.mutual, CURL), '');
    await mesh.push(policies([atIngress('no-post', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'], ports: [String(ports.plain)] } }] }] })]));
    assert.equal((await say(ports.plain, 'hello')).trim(), '');
    assert.equal(await tlsSay(ports.mutual, CURL), 'tcp-echo-v1 hello');
  });

  test('connection.sni is the server name the client asked the TLS server for', async () => {
    await mesh.push(policies([atIngress('sni-deny', { action: 'DENY', rules: [{ when: [{ key: 'connection.sni', values: ['*.example.com'] }] }] })]));
    assert.equal(await tlsSay(ports.mutual, CURL), '');
    assert.equal((await say(ports.plain, 'hello')).trim(), 'tcp-echo-v1 hello');
  });
});
