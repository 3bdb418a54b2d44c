import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseServiceFlag, ServiceFlagError } from '../../simulator/init';

describe('devmesh init --service name=port:command', () => {
  it('reads the name, the port and the command, split into words or run by sh -c when it needs a shell', () => {
    assert.deepEqual(parseServiceFlag('api=3000:node server.js'), { name: 'api', port: 3000, listen: { port: 3000, fixed: false }, protocol: 'http', command: ['node', 'server.js'], origin: '--service' });
    assert.deepEqual(parseServiceFlag('web=8080:PORT=8080 npm start | tee log').command, ['sh', '-c', 'PORT=8080 npm start | tee log']);
  });

  it('without a command, the app is one the user runs and devmesh fronts its port', () => {
    const s = parseServiceFlag('debugged=9229');
    assert.equal(s.command, undefined);
    assert.deepEqual(s.listen, { port: 9229, fixed: true });
  });

  it('refuses a malformed value, a name that is not a DNS label and a port out of range, saying the form', () => {
    assert.throws(() => parseServiceFlag('api:3000'), (e: Error) => e instanceof ServiceFlagError && /--service name=port\[:command\]/.test(e.message));
    assert.throws(() => parseServiceFlag('My_Api=3000'), /lowercase letters, digits and "-"/);
    assert.throws(() => parseServiceFlag('api=70000:node a.js'), /not between 1 and 65535/);
  });
});
