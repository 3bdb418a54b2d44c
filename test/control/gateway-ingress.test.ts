/** Local ports and banner lines for Gateway API Gateway ports, as units. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { describeGatewayListeners, gatewayPorts } from '../../simulator/control/gateway-ingress';

describe('Gateway ports on 127.0.0.1', () => {
  it('keep a port from 1024 up when it is free, map one below 1024 or in use, and keep what a reload already assigned', async () => {
    const busy = new Set([8081]);
    const ports = await gatewayPorts(
      [{ gateway: 'ns/gw', port: 80 }, { gateway: 'ns/gw', port: 8080 }, { gateway: 'ns/gw', port: 8081 }, { gateway: 'ns/gw', port: 9000 }, { gateway: 'ns/other', port: 8080 }],
      { 'ns/gw:9000': 41234 }, new Set([15000]), async (p) => !busy.has(p));
    assert.equal(ports['ns/gw:8080'], 8080);
    assert.equal(ports['ns/gw:9000'], 41234);
    for (const key of ['ns/gw:80', 'ns/gw:8081', 'ns/other:8080']) assert.ok(ports[key] >= 20000 && ![8080, 8081, 41234].includes(ports[key]), `${key} mapped to a free port (${ports[key]})`);
    assert.notEqual(ports['ns/gw:80'], ports['ns/other:8080']);
  });

  it('say where each port listens, why it moved, and where an HTTPS certificate comes from', () => {
    const lines = describeGatewayListeners(
      [{ gateway: 'ns/gw', port: 443, protocol: 'HTTPS', localPort: 20443 }, { gateway: 'ns/gw', port: 8081, protocol: 'HTTP', localPort: 20081 }],
      { 'ns/gw:443': [{ hostname: 'a.example.com', certPem: '', keyPem: '', source: 'minted by devmesh for a.example.com' }] });
    assert.deepEqual(lines, [
      'Gateway ns/gw: https://127.0.0.1:20443 (port 443 of the Gateway, mapped: 443 needs privileges); TLS: minted by devmesh for a.example.com (trust .devmesh/ca.pem)',
      'Gateway ns/gw: http://127.0.0.1:20081 (port 8081 of the Gateway, mapped: 8081 was in use)',
    ]);
  });
});
