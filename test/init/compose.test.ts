import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { fromCompose } from '../../simulator/init/compose';
import { pkg, project } from './helpers';

const compose = (text: string, files: Record<string, string> = {}) => fromCompose(text, 'docker-compose.yml', project({ 'docker-compose.yml': text, ...files }));

describe('devmesh init reads a Compose file', () => {
  it('runs a built service\'s command in its build context, listening on the published port and addressed at the container port', () => {
    const { services } = compose(`
services:
  api:
    build: ./services/api
    command: node server.js --verbose
    ports: ["8081:3000"]
`);
    assert.deepEqual(services, [{
      name: 'api', port: 3000, listen: { port: 8081, fixed: false }, protocol: 'http',
      command: ['node', 'server.js', '--verbose'], cwd: 'services/api', origin: 'docker-compose.yml',
    }]);
  });

  it('copies environment given as a map or as KEY=value, as strings, and leaves out a bare KEY taken from the shell', () => {
    const { services } = compose(`
services:
  a: { command: ["node", "a.js"], ports: ["3000"], environment: { DEBUG: 1, URL: "http://b:3000", EMPTY: null } }
  b: { command: ["node", "b.js"], ports: ["3001"], environment: ["MODE=dev=1", "HOME"] }
`);
    assert.deepEqual(services.map((s) => s.env), [{ DEBUG: '1', URL: 'http://b:3000' }, { MODE: 'dev=1' }]);
  });

  it('keeps an image-only service\'s image for export and fronts the port where it is published, without starting it', () => {
    const { services, notes } = compose(`
services:
  search: { image: "example/search:2.1", ports: ["127.0.0.1:9201:9200/tcp"] }
`);
    assert.deepEqual(services, [{ name: 'search', port: 9200, listen: { port: 9201, fixed: true }, protocol: 'http', image: 'example/search:2.1', origin: 'docker-compose.yml' }]);
    assert.match(notes.map((n) => n.message).join('\n'), /docker compose up -d search.*127\.0\.0\.1:9201/);
  });

  it('declares databases and brokers as tcp, known by their image or their port, and says how apps reach them', () => {
    const { services, notes } = compose(`
services:
  cache: { image: "redis:7-alpine", ports: ["6380:6379"] }
  db: { image: "registry.example.com/team/pg-custom", ports: ["5432:5432"] }
  web: { image: "nginx", ports: ["8080:80"] }
`);
    assert.deepEqual(services.map((s) => [s.name, s.protocol]), [['cache', 'tcp'], ['db', 'tcp'], ['web', 'http']]);
    assert.match(notes.map((n) => n.message).join('\n'), /apps reach it directly at 127\.0\.0\.1:6380, not cache:6379/);
  });

  it('runs the start script of a build context that has no command, with the package manager its lockfile names', () => {
    const { services } = compose(`
services:
  web: { build: { context: ./web, dockerfile: Dockerfile.dev }, ports: ["3000:3000"] }
`, { 'web/package.json': pkg({ start: 'next start' }), 'web/pnpm-lock.yaml': '' });
    assert.deepEqual(services[0].command, ['pnpm', 'start']);
    assert.equal(services[0].cwd, 'web');
  });

  it('runs a command that relies on a shell under sh -c (Compose\'s $$ being a literal $), and puts the entrypoint before the command', () => {
    const { services } = compose(`
services:
  a: { command: "sh -c 'npm run migrate && npm start'", ports: ["3000"] }
  b: { entrypoint: ["python", "-m"], command: ["http.server", "8000"], ports: ["8000"] }
  c: { command: "node server.js --port $$PORT", ports: ["4000"] }
`);
    assert.deepEqual(services.map((s) => s.command), [
      ['sh', '-c', "sh -c 'npm run migrate && npm start'"],
      ['python', '-m', 'http.server', '8000'],
      ['sh', '-c', 'node server.js --port $PORT'],
    ]);
  });

  it('reads the long port syntax and expose, and skips UDP', () => {
    const { services } = compose(`
services:
  a: { image: x, ports: [{ target: 80, published: "8088", protocol: tcp }] }
  b: { image: y, expose: ["9000"] }
  dns: { image: z, ports: ["53:53/udp"] }
`);
    assert.deepEqual(services.map((s) => [s.name, s.port, s.listen.port]), [['a', 80, 8088], ['b', 9000, 9000]]);
  });

  it('notes a service without a TCP port (a worker) and an env_file it does not read, and makes names DNS labels', () => {
    const { services, notes } = compose(`
services:
  queue_worker: { command: ["node", "worker.js"] }
  Web_App: { command: ["node", "web.js"], ports: ["3000"], env_file: .env }
`);
    assert.deepEqual(services.map((s) => s.name), ['web-app']);
    const text = notes.map((n) => n.message).join('\n');
    assert.match(text, /"queue_worker" publishes no TCP port/);
    assert.match(text, /"Web_App" reads env_file ".env"/);
  });

  it('says so when the file is not YAML, instead of finding nothing silently', () => {
    const { services, notes } = compose('services: [unclosed');
    assert.deepEqual(services, []);
    assert.match(notes[0].message, /docker-compose\.yml is not valid YAML/);
  });
});
