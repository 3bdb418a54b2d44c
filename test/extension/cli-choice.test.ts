import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { chooseCli, type CliFacts } from '../../extension/cli-choice';

/** A machine with these files and package.json files. */
function facts(files: string[], packages: Record<string, { name?: string; version?: string }> = {}, over: Partial<CliFacts> = {}): CliFacts {
  return {
    cliPath: '', workspaceFolders: ['/work/shop'], extensionPath: '/ext/devmesh',
    exists: (f) => files.includes(f), packageOf: (d) => packages[d], ...over,
  };
}
const CARRIED = ['/ext/devmesh/bin/devmesh.js', '/ext/devmesh/dist/cli.js'];

test('in a workspace with only a mesh.yaml, the extension runs the CLI it carries, with the editor\'s Node', () => {
  const c = chooseCli(facts(CARRIED, { '/ext/devmesh': { name: 'devmesh', version: '0.1.0' } }));
  assert.deepEqual(c, { file: '/ext/devmesh/bin/devmesh.js', args: [], js: true, source: 'the devmesh 0.1.0 that comes with the extension (no node_modules/devmesh in the workspace, no devmesh.cliPath)' });
});

test('the workspace\'s own node_modules/devmesh wins over the carried one, and the output says which version', () => {
  const c = chooseCli(facts([...CARRIED, '/work/shop/node_modules/devmesh/bin/devmesh.js'], { '/work/shop/node_modules/devmesh': { version: '0.2.0' } }));
  assert.equal(c.file, '/work/shop/node_modules/devmesh/bin/devmesh.js');
  assert.equal(c.source, 'the workspace\'s devmesh 0.2.0 (/work/shop/node_modules/devmesh)');
});

test('the devmesh.cliPath setting wins over everything: a .js entry runs with the editor\'s Node, anything else as a program', () => {
  const all = [...CARRIED, '/work/shop/node_modules/devmesh/bin/devmesh.js'];
  assert.deepEqual(chooseCli(facts(all, {}, { cliPath: '/opt/devmesh/bin/devmesh.js' })), { file: '/opt/devmesh/bin/devmesh.js', args: [], js: true, source: 'the devmesh.cliPath setting (/opt/devmesh/bin/devmesh.js)' });
  assert.deepEqual(chooseCli(facts(all, {}, { cliPath: '/usr/local/bin/devmesh' })).js, false);
});

test('a built devmesh clone open as the workspace runs its own build; an unbuilt one does not', () => {
  const repo = { '/work/shop': { name: 'devmesh', version: '0.1.0' } };
  assert.equal(chooseCli(facts(['/work/shop/out/simulator/cli.js', ...CARRIED], repo)).file, '/work/shop/bin/devmesh.js');
  assert.equal(chooseCli(facts(CARRIED, repo)).file, '/ext/devmesh/bin/devmesh.js');
});

test('devmesh on PATH only when the extension carries no built CLI', () => {
  const c = chooseCli(facts(['/ext/devmesh/bin/devmesh.js']));
  assert.deepEqual([c.file, c.js], ['devmesh', false]);
  assert.match(c.source, /devmesh on PATH/);
});
