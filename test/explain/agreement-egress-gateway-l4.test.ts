/**
 * `devmesh explain --from sleep-v1 tls edition.cnn.com:443 --sni edition.cnn.com`
 * through the egress gateway, beside what a real connection did: Istio's
 * "Egress Gateways for HTTPS traffic" (a ServiceEntry, a Gateway with a TLS
 * PASSTHROUGH server on 443 selecting `istio: egressgateway`, one
 * VirtualService with a tls[] leg from the mesh to the gateway and one from
 * the gateway to the external host), a local HTTPS server standing in for
 * edition.cnn.com. The walk must agree hop by hop with both access-log
 * entries of the connection — the sidecar's (route, attempt to the gateway,
 * the gateway's admission) and the gateway's own (its mTLS, verdict, tls[]
 * route and attempt to the external host) — when the gateway routes it, when
 * its Gateway server does not take the server name (NR), and when an
 * AuthorizationPolicy on the gateway closes it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { explainConnection } from '../../simulator/explain/walkL4';
import { formatConnection } from '../../simulator/explain/formatL4';
import { disagreement, type HopSeen } from '../../simulator/explain/compare';
import { withEgressGateway } from '../../simulator/policy/egress-gateway';
import type { MeshSpec, Resource } from '../../simulator/policy/model';
import type { AccessLogEntry } from '../../simulator/control/api/contract';
import type { Outcome } from '../../simulator/explain/result';
import { ap, dr, gw, se, startMeshFromSpec, vs, type Policies, type TestMesh } from '../sidecar/fixtures';
import { externalHttps, testCa, type ExternalServer, type TestCa } from '../sidecar/egress/fixtures';
import { connectVia, eventually } from '../sidecar/l4/fixtures';

const GATEWAY_HOST = 'istio-egressgateway.istio-system.svc.cluster.local';
const GATEWAY = 'istio-egressgateway';
const spec: MeshSpec = { services: [{ name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', port: 1 }] }] };

describe('explain agrees with a real connection through the egress gateway (TLS passthrough)', { timeout: 120_000 }, () => {
  let ca: TestCa;
  let cnn: ExternalServer;
  let mesh: TestMesh;
  const policies = (serverHost = 'edition.cnn.com', extra: Policies = {}): Policies => ({
    serviceEntries: [se('cnn', {
      hosts: ['edition.cnn.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC',
      ports: [{ number: 443, name: 'tls', protocol: 'TLS' }],
      endpoints: [{ address: '127.0.0.1', ports: { tls: cnn.port } }],
    })],
    gateways: [gw(GATEWAY, { selector: { istio: 'egressgateway' }, servers: [{ port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: [serverHost], tls: { mode: 'PASSTHROUGH' } }] })],
    destinationRules: [dr('egressgateway-for-cnn', { host: GATEWAY_HOST, subsets: [{ name: 'cnn' }] })],
    virtualServices: [vs('direct-cnn-through-egress-gateway', {
      hosts: ['edition.cnn.com'],
      gateways: ['mesh', GATEWAY],
      tls: [
        { match: [{ gateways: ['mesh'], port: 443, sniHosts: ['edition.cnn.com'] }], route: [{ destination: { host: GATEWAY_HOST, subset: 'cnn', port: { number: 443 } } }] },
        { match: [{ gateways: [GATEWAY], port: 443, sniHosts: ['edition.cnn.com'] }], route: [{ destination: { host: 'edition.cnn.com', port: { number: 443 } }, weight: 100 }] },
      ],
    })],
    ...extra,
  });
  /** The mutual-TLS variant of Istio's egress task: a TLS server with ISTIO_MUTUAL, and the gateway's tcp[] leg on `tcpPort`. */
  const terminatingServer = (tcpPort: number): Policies => policies('edition.cnn.com', {
    gateways: [gw(GATEWAY, { selector: { istio: 'egressgateway' }, servers: [{ port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: ['edition.cnn.com'], tls: { mode: 'ISTIO_MUTUAL' } }] })],
    virtualServices: [vs('direct-cnn-through-egress-gateway', {
      hosts: ['edition.cnn.com'], gateways: ['mesh', GATEWAY],
      tls: [{ match: [{ gateways: ['mesh'], port: 443, sniHosts: ['edition.cnn.com'] }], route: [{ destination: { host: GATEWAY_HOST, subset: 'cnn', port: { number: 443 } } }] }],
      tcp: [{ match: [{ gateways: [GATEWAY], port: tcpPort }], route: [{ destination: { host: 'edition.cnn.com', port: { number: 443 } } }] }],
    })],
  });

  before(async () => {
    ca = testCa();
    cnn = await externalHttps('cnn', ca, ['edition.cnn.com']);
    const p = policies();
    mesh = await startMeshFromSpec(withEgressGateway(spec, p.gateways as Resource[]), p, { ingress: false });
  });
  after(async () => {
    await mesh?.close();
    await cnn?.close();
  });

  const l4Entries = (w: string) => mesh.sidecars.get(w)!.accessLog.tail().filter((e) => e.protocol === '-');

  /** One connection as an app with HTTPS_PROXY makes it (CONNECT, its own TLS); whether the handshake completed, and both entries. */
  async function connect(seen: Set<string>): Promise<{ handshake: boolean; sidecar: AccessLogEntry; gateway: AccessLogEntry }> {
    const c = await connectVia(mesh.sidecars.get('sleep-v1')!.ports.outbound!, 'edition.cnn.com:443');
    assert.equal(c.status, 200, `CONNECT: ${c.status} ${c.body}`);
    const handshake = await new Promise<boolean>((resolve) => {
      const s = tls.connect({ socket: c.socket, servername: 'edition.cnn.com', ca: ca.certPem });
      s.on('secureConnect', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
      s.on('close', () => resolve(false));
    });
    c.socket.destroy();
    const sidecar = await eventually(() => l4Entries('sleep-v1').find((e) => e.listener === 'outbound' && !seen.has(e.trace_id)), 'the sidecar\'s entry');
    seen.add(sidecar.trace_id);
    const gateway = await eventually(() => l4Entries(GATEWAY).find((e) => e.listener === 'inbound' && e.trace_id === sidecar.trace_id), 'the gateway\'s entry');
    return { handshake, sidecar, gateway };
  }

  /** The walk's outcome that agrees with both hops, or a failure listing every prediction. */
  function agreeing(outcomes: Outcome[], sidecar: AccessLogEntry, gateway: AccessLogEntry): Outcome {
    const first: HopSeen = { status: 0, flags: sidecar.response_flags, outbound: sidecar.decisions ?? [], inbound: new Map([[GATEWAY, [gateway.decisions ?? []]]]) };
    const second: HopSeen = { status: 0, flags: gateway.response_flags, outbound: gateway.decisions ?? [], inbound: new Map() };
    const why = (o: Outcome) => disagreement(o, first) ?? (o.next ? disagreement({ ...o, records: o.next.records }, second) : 'no egress gateway hop predicted');
    const found = outcomes.find((o) => o.probability > 0 && why(o) === undefined);
    assert.ok(found, [
      'no predicted outcome agrees with both hops',
      `sidecar: ${JSON.stringify(sidecar.decisions)}`,
      `gateway: ${JSON.stringify(gateway.decisions)}`,
      ...outcomes.map((o) => `predicted (${why(o)}): ${o.summary} ${JSON.stringify(o.records)} next ${JSON.stringify(o.next)}`),
    ].join('\n'));
    return found;
  }

  const walk = () => explainConnection(mesh.snapshot, { from: 'sleep-v1', protocol: 'tls', target: 'edition.cnn.com:443', sni: 'edition.cnn.com' });
  const ids = new Set<string>();

  test('routed by the gateway\'s tls[] leg to the external host: the walk names its route and cluster, and agrees with both entries', async () => {
    const walked = walk();
    assert.equal(walked.answered, true, walked.outcome);
    assert.equal(walked.egressGateway?.kind, 'passthrough');
    assert.deepEqual(walked.egressGateway?.gateways, ['default/istio-egressgateway']);
    assert.equal(walked.egressGateway?.route.routeName, 'direct-cnn-through-egress-gateway.tls.1');
    assert.equal(walked.egressGateway?.destinations[0]?.cluster, 'outbound|443||edition.cnn.com');
    const { handshake, sidecar, gateway } = await connect(ids);
    assert.equal(handshake, true);
    const o = agreeing(walked.outcomes, sidecar, gateway);
    assert.equal(o.kind, 'answered');
    assert.match(o.summary, /through the egress gateway istio-egressgateway/);
    const text = formatConnection(walked);
    assert.match(text, /^Egress gw {3}istio-egressgateway, port 443 of default\/istio-egressgateway: a TLS server, routed by tls\[\] on the ClientHello's server name$/m);
    assert.match(text, /tls\[1\] {2}matched: port 443, server name "edition\.cnn\.com" in sniHosts/);
    assert.match(text, /^Cluster {5}outbound\|443\|\|edition\.cnn\.com {2}100 %$/m);
  });

  test('a server name the gateway\'s TLS server does not serve: closed by the gateway (NR), as the walk says', async () => {
    await mesh.push(policies('www.cnn.com'));
    try {
      const walked = walk();
      assert.equal(walked.answered, false, walked.outcome);
      const { handshake, sidecar, gateway } = await connect(ids);
      assert.equal(handshake, false);
      const o = agreeing(walked.outcomes, sidecar, gateway);
      assert.equal(o.flags, 'NR');
      assert.match(o.summary, /egress gateway istio-egressgateway, then closed by it \(NR no-sni-match\)/);
    } finally {
      await mesh.push(policies());
    }
  });

  test('a TLS server with ISTIO_MUTUAL (the sidecar\'s tunnel terminated there) routes by tcp[]: the walk says so and agrees', async () => {
    await mesh.push(terminatingServer(443));
    try {
      const walked = walk();
      assert.equal(walked.answered, true, walked.outcome);
      assert.equal(walked.egressGateway?.kind, 'terminated');
      assert.equal(walked.egressGateway?.route.routeName, 'direct-cnn-through-egress-gateway.tcp.0');
      const { handshake, sidecar, gateway } = await connect(ids);
      assert.equal(handshake, true);
      assert.equal(agreeing(walked.outcomes, sidecar, gateway).kind, 'answered');
      assert.match(formatConnection(walked), /^Egress gw {3}istio-egressgateway, port 443 of default\/istio-egressgateway: a TLS server that terminates the sidecar's mTLS, routed by tcp\[\]$/m);
    } finally {
      await mesh.push(policies());
    }
  });

  test('a terminating server whose VirtualServices have no tcp[] leg for it: the gateway refuses the tunnel (NR there, UF at the sidecar), as the walk says', async () => {
    await mesh.push(terminatingServer(80));
    try {
      const walked = walk();
      assert.equal(walked.answered, false, walked.outcome);
      const { handshake, sidecar, gateway } = await connect(ids);
      assert.equal(handshake, false);
      const o = agreeing(walked.outcomes, sidecar, gateway);
      assert.equal(o.flags, 'UF', 'the sidecar\'s attempt fails: the gateway has no filter chain for it');
      assert.match(o.summary, /refused by the egress gateway istio-egressgateway before the tunnel is up \(UF at the caller\): closed \(NR no-gateway-route\)/);
    } finally {
      await mesh.push(policies());
    }
  });

  test('an AuthorizationPolicy on the gateway closes it on the first bytes after the gateway routed and connected: the walk has both hops', async () => {
    await mesh.push(policies('edition.cnn.com', { authorizationPolicies: [ap('egress-only-from-nowhere', {
      selector: { matchLabels: { istio: 'egressgateway' } }, action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/someone-else'] } }] }],
    }, 'istio-system')] }));
    try {
      const walked = walk();
      assert.equal(walked.answered, false, walked.outcome);
      const { handshake, sidecar, gateway } = await connect(ids);
      assert.equal(handshake, false);
      const o = agreeing(walked.outcomes, sidecar, gateway);
      assert.equal(o.kind, 'refused');
      assert.match(o.summary, /closed by istio-egressgateway's sidecar on the client's first bytes: RBAC: access denied/);
    } finally {
      await mesh.push(policies());
    }
  });
});
