import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { fromProcfile } from '../../simulator/init/procfile';

describe('devmesh init reads a Procfile', () => {
  it('makes the web process and every process reading $PORT services on foreman\'s ports, run through a shell when they need one', () => {
    const { services } = fromProcfile('web: node server.js\napi: bundle exec puma -p ${PORT:-3000}\n\n# comment\n');
    assert.deepEqual(services.map((s) => [s.name, s.port, s.listen.port, s.command]), [
      ['web', 5000, 5000, ['node', 'server.js']],
      ['api', 5100, 5100, ['sh', '-c', 'bundle exec puma -p ${PORT:-3000}']],
    ]);
  });

  it('leaves out a worker, which listens on no port, and says why', () => {
    const { services, notes } = fromProcfile('web: node web.js\nworker: node worker.js\n');
    assert.deepEqual(services.map((s) => s.name), ['web']);
    assert.match(notes[0].message, /Procfile: "worker" listens on no \$PORT/);
  });
});
