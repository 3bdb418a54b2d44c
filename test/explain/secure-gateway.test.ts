/** `devmesh explain --from ingress GET https://host/...`: the Istio Gateway server port that terminates the TLS, its mode and certificate. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explainRequest } from '../../simulator/explain/walk';
import { formatExplain } from '../../simulator/explain/format';
import { gw, snapshotOf, vs, type ServiceDef } from '../sidecar/fixtures';

const SERVICES: ServiceDef[] = [{ name: 'productpage', workloads: [{ name: 'productpage-v1', labels: { app: 'productpage', version: 'v1' } }] }];

const gateway = gw('bookinfo-secure', {
  selector: { istio: 'ingressgateway' },
  servers: [
    { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['bookinfo.example.com'], tls: { mode: 'SIMPLE', credentialName: 'bookinfo-credential' } },
    { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['bookinfo.example.com'], tls: { httpsRedirect: true } },
  ],
});
const route = vs('bookinfo', { hosts: ['bookinfo.example.com'], gateways: ['bookinfo-secure'], http: [{ match: [{ uri: { exact: '/productpage' }, scheme: { exact: 'https' } }], route: [{ destination: { host: 'productpage', port: { number: 9080 } } }] }] });
const explain = (url: string) => explainRequest(snapshotOf(SERVICES, { gateways: [gateway], virtualServices: [route] }), { from: 'ingress', method: 'GET', url, headers: {} });

describe('explain: an https request at the ingress', () => {
  test('is routed by the VirtualServices of the server port that terminates its TLS, as https, and says the mode and certificate', () => {
    const r = explain('https://bookinfo.example.com/productpage');
    assert.deepEqual(r.host.tls, { port: 443, servers: [{ gateway: 'default/bookinfo-secure', mode: 'SIMPLE', certificate: 'of Secret bookinfo-credential (istio-system, else the Gateway\'s namespace)' }] });
    assert.equal(r.outcomes[0].summary, 'forwarded to productpage-v1: the app answers');
    assert.match(formatExplain(r), /TLS terminated on server port 443 of Gateway default\/bookinfo-secure: SIMPLE, certificate of Secret bookinfo-credential/);
  });

  test('the same host over plain http gets the HTTP server\'s httpsRedirect: 301 to https', () => {
    const r = explain('http://bookinfo.example.com/productpage');
    assert.equal(r.host.tls, undefined);
    assert.equal(r.outcomes[0].status, 301);
    assert.match(r.outcomes[0].summary, /redirect to https:\/\/bookinfo\.example\.com\/productpage/);
  });
});
