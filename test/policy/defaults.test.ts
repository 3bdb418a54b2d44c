/**
 * The defaults table: Istio's newest release, what each compatibility
 * version brings back (Istio's compatibility-version profiles flip the same
 * feature flags), the Mesh's meshConfig on top, and a source for every value.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ISTIO, describeVersion, resolveDefaults, type Defaults } from '../../simulator/policy/defaults';

/** Dotted paths of every leaf of the defaults (arrays and null count as leaves). */
function leaves(o: object, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? leaves(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

describe('Istio defaults', () => {
  test('the newest release retries connect failures and resets twice but never an app\'s 503 (retry.go DefaultPolicy, since 1.24)', () => {
    const d = resolveDefaults();
    assert.equal(d.version, ISTIO.current);
    assert.equal(d.retry.attempts, 2);
    assert.equal(d.retry.retryOn, 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes');
    assert.deepEqual(d.retry.retriableStatusCodes, []);
    assert.deepEqual(d.inboundRetry, { attempts: 2, retryOn: 'reset-before-request' });
    assert.equal(d.mirrorShadowHostSuffix, false);
    assert.deepEqual(d.proxyHeaders.server, { outbound: 'envoy', inbound: 'istio-envoy', gateway: 'istio-envoy' });
  });

  test('every default has a source, and every source names a default', () => {
    const d = resolveDefaults();
    const keys = Object.keys(d.provenance);
    for (const leaf of leaves(ISTIO.defaults as Defaults)) {
      assert.ok(keys.some((k) => leaf === k || leaf.startsWith(`${k}.`)), `no source for ${leaf}`);
    }
    for (const k of keys) {
      const value = k.split('.').reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], d);
      assert.notEqual(value, undefined, k);
      assert.match(d.provenance[k].source, /\S/, k);
    }
  });

  test('compatibilityVersion 1.23 brings back the 503 retry and drops the inbound retry, naming the flags', () => {
    const d = resolveDefaults({ compatibilityVersion: '1.23' });
    assert.equal(d.version, '1.23');
    assert.deepEqual(d.retry.retriableStatusCodes, [503]);
    assert.equal(d.inboundRetry, null);
    assert.equal(d.mirrorShadowHostSuffix, true);
    assert.deepEqual(d.provenance['retry.retriableStatusCodes'], { from: 'compatibilityVersion', version: '1.23', source: ISTIO.changes[0].source, feature: 'EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY' });
    assert.equal(d.provenance.inboundRetry.feature, 'ENABLE_INBOUND_RETRY_POLICY');
    assert.equal(d.provenance['retry.attempts'].from, 'default');
  });

  test('1.24 to 1.27 keep the new retry defaults but mirror with a -shadow Host; 1.28 on do not', () => {
    for (const v of ['1.24', '1.27']) {
      const d = resolveDefaults({ compatibilityVersion: v });
      assert.deepEqual(d.retry.retriableStatusCodes, [], v);
      assert.equal(d.mirrorShadowHostSuffix, true, v);
    }
    for (const v of ['1.28', '1.29', '1.30']) assert.equal(resolveDefaults({ compatibilityVersion: v }).mirrorShadowHostSuffix, false, v);
  });

  test('the Mesh\'s meshConfig overrides the release and says so', () => {
    const d = resolveDefaults({
      compatibilityVersion: '1.23',
      meshConfig: {
        defaultHttpRetryPolicy: { attempts: 5, retryOn: '5xx' },
        pathNormalization: { normalization: 'MERGE_SLASHES' },
        connectTimeout: '2s',
        defaultConfig: { proxyHeaders: { server: { value: 'edge' }, attemptCount: { disabled: true }, forwardedClientCert: 'SANITIZE' } },
      },
    });
    assert.deepEqual(d.defaultHttpRetryPolicy, { attempts: 5, retryOn: '5xx' });
    assert.equal(d.pathNormalization, 'MERGE_SLASHES');
    assert.equal(d.connectionPool.connectTimeoutMs, 2000);
    assert.deepEqual(d.proxyHeaders.server, { outbound: 'edge', inbound: 'edge', gateway: 'edge' });
    assert.equal(d.proxyHeaders.attemptCount, false);
    assert.deepEqual(d.proxyHeaders.forwardedClientCert, { inbound: 'SANITIZE', gateway: 'SANITIZE_SET' });
    assert.equal(d.provenance.pathNormalization.from, 'meshConfig');
    assert.equal(d.provenance['proxyHeaders.server'].source, 'Mesh spec.meshConfig.defaultConfig.proxyHeaders.server.value');
  });

  test('gatewayTopology.forwardClientCertDetails is the gateways\' x-forwarded-client-cert mode; proxyHeaders\' is the sidecars\' only', () => {
    const d = resolveDefaults({ meshConfig: { defaultConfig: { gatewayTopology: { forwardClientCertDetails: 'APPEND_FORWARD' }, proxyHeaders: { forwardedClientCert: 'SANITIZE' } } } });
    assert.deepEqual(d.proxyHeaders.forwardedClientCert, { inbound: 'SANITIZE', gateway: 'APPEND_FORWARD' });
    assert.deepEqual(resolveDefaults({ meshConfig: { defaultConfig: { gatewayTopology: { forwardClientCertDetails: 'UNDEFINED' } } } }).proxyHeaders.forwardedClientCert, { inbound: 'APPEND_FORWARD', gateway: 'SANITIZE_SET' });
  });

  test('server.disabled passes the upstream Server header through on every listener', () => {
    const d = resolveDefaults({ meshConfig: { defaultConfig: { proxyHeaders: { server: { disabled: true } } } } });
    assert.deepEqual(d.proxyHeaders.server, { outbound: null, inbound: null, gateway: null });
  });

  test('a version hover says what it brings back and what it flips without local effect', () => {
    assert.match(describeVersion('1.23'), /retry an app's 503 twice/);
    assert.match(describeVersion('1.23'), /EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY=false/);
    assert.match(describeVersion('1.29'), /nothing devmesh simulates differs/);
    assert.match(describeVersion('1.29'), /PILOT_SIDECAR_PICK_BEST_SERVICE_NAMESPACE/);
    assert.match(describeVersion(ISTIO.current), /newest release/);
  });
});
