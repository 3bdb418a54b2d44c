import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(__dirname, '../../..');

function init(dir: string, args: string[] = []) {
  // stdin is not a terminal here (as in CI or an editor's task): init must ask nothing.
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/devmesh.js'), 'init', ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** `devmesh init` on a terminal: util-linux's `script` gives it a pseudo-terminal and types `keys`. */
function initOnTerminal(dir: string, keys: string) {
  const r = spawnSync('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(ROOT, 'bin/devmesh.js'))} init`, '/dev/null'], { cwd: dir, input: keys, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, out: r.stdout.replace(/\r/g, '') }; // a terminal ends lines with CRLF
}
const noTerminal = spawnSync('script', ['--version']).status === 0 ? undefined : 'util-linux script is not installed (it makes the pseudo-terminal)';

function tempProject(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-init-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('devmesh init in a project folder', () => {
  it('writes mesh.yaml and the first service\'s policies from --service flags without asking, and checks them', (t) => {
    const dir = tempProject(t);
    const r = init(dir, ['--service', 'api=3000:node api.js', '-s', 'web=3001:node web.js']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /found 2 services in --service:\n  api +http:\/\/api:3000 +127\.0\.0\.1:3000 +node api\.js\n/);
    assert.match(r.out, /wrote mesh\.yaml, policies\/api\.yaml\n/);
    assert.match(r.out, /devmesh validate: no errors\. Next: devmesh up/);
    assert.match(readFileSync(path.join(dir, 'mesh.yaml'), 'utf8'), /name: web\n\s+port: 3001/);
  });

  it('never overwrites a file without --force, and writes nothing at all then', (t) => {
    const dir = tempProject(t);
    writeFileSync(path.join(dir, 'mesh.yaml'), '# mine\n');
    const r = init(dir, ['--service', 'api=3000:node api.js']);
    assert.equal(r.status, 1);
    assert.match(r.out, /mesh\.yaml exists already; nothing was written \(pass --force to overwrite\)/);
    assert.equal(readFileSync(path.join(dir, 'mesh.yaml'), 'utf8'), '# mine\n');
    assert.throws(() => readFileSync(path.join(dir, 'policies', 'api.yaml')));
    assert.equal(init(dir, ['--service', 'api=3000:node api.js', '--force']).status, 0);
    assert.match(readFileSync(path.join(dir, 'mesh.yaml'), 'utf8'), /kind: Mesh/);
  });

  it('adds .devmesh/ (the session token) to an existing .gitignore, once', (t) => {
    const dir = tempProject(t);
    writeFileSync(path.join(dir, '.gitignore'), 'node_modules');
    assert.match(init(dir, ['-s', 'a=3000']).out, /added \.devmesh\/ to \.gitignore/);
    assert.equal(init(dir, ['-s', 'a=3000', '--force']).status, 0);
    assert.equal(readFileSync(path.join(dir, '.gitignore'), 'utf8'), 'node_modules\n# devmesh: the running mesh\'s session token and state\n.devmesh/\n');
  });

  it('writes a placeholder service to edit when the project declares none', (t) => {
    const dir = tempProject(t);
    const r = init(dir);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /no services found .*placeholder/);
    assert.match(readFileSync(path.join(dir, 'mesh.yaml'), 'utf8'), /# TODO: command to start app/);
  });

  it('refuses a malformed --service with a usage error that shows the form', (t) => {
    const r = init(tempProject(t), ['--service', 'api:3000']);
    assert.equal(r.status, 2);
    assert.match(r.out, /devmesh init: "api:3000" is not of the form --service name=port\[:command\]/);
  });

  it('on a terminal, shows the services it found and writes only after a yes', { skip: noTerminal }, (t) => {
    const dir = tempProject(t);
    writeFileSync(path.join(dir, 'Procfile'), 'web: node web.js\n');
    const no = initOnTerminal(dir, 'n\n');
    assert.match(no.out, /found 1 service in Procfile:\n\s+web +http:\/\/web:5000/);
    assert.match(no.out, /Write mesh\.yaml and policies\/ with these services\? \[Y\/n\]/);
    assert.equal(no.status, 1);
    assert.equal(existsSync(path.join(dir, 'mesh.yaml')), false);
    assert.equal(initOnTerminal(dir, '\x04').status, 1, 'Ctrl-D writes nothing either');
    assert.equal(existsSync(path.join(dir, 'mesh.yaml')), false);
    const yes = initOnTerminal(dir, '\n');
    assert.equal(yes.status, 0, yes.out);
    assert.match(readFileSync(path.join(dir, 'mesh.yaml'), 'utf8'), /name: web/);
  });

  it('on a terminal with nothing found, asks for services as name=port:command until an empty line', { skip: noTerminal }, (t) => {
    const dir = tempProject(t);
    const r = initOnTerminal(dir, 'api:3000\napi=3000:node api.js\nweb=3001\n\n');
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /"api:3000" is not of the form/);
    const mesh = readFileSync(path.join(dir, 'mesh.yaml'), 'utf8');
    assert.match(mesh, /name: api[\s\S]*command: \[ node, api\.js \][\s\S]*name: web/);
  });
});
