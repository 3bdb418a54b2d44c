import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { attachNote, upArguments } from '../../extension/up-args';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'devmesh.js');
/** The real CLI's `devmesh up --help`, as the extension's probe reads it. */
const help = spawnSync(process.execPath, [BIN, 'up', '--help'], { encoding: 'utf8', timeout: 10_000 }).stdout;
const thisCli = (flag: string) => help.includes(flag);

test('devmesh.controlPort is passed to devmesh up as --control-port, which this CLI has', () => {
  const { args, notes } = upArguments('/w/mesh.yaml', { controlPort: 15123, traceExportEndpoint: '' }, thisCli);
  assert.deepEqual(args, ['up', '-f', '/w/mesh.yaml', '--control-port', '15123']);
  assert.deepEqual(notes, []);
});

test('devmesh.controlPort 0 keeps the Mesh file\'s spec.controlPort', () => {
  const { args } = upArguments('/w/mesh.yaml', { controlPort: 0, traceExportEndpoint: 'http://127.0.0.1:4318/v1/traces' }, thisCli);
  assert.deepEqual(args, ['up', '-f', '/w/mesh.yaml', '--otlp-endpoint', 'http://127.0.0.1:4318/v1/traces']);
});

test('an older CLI without --control-port gets no unknown flag, and the output says the setting did not apply', () => {
  const { args, notes } = upArguments('/w/mesh.yaml', { controlPort: 15123, traceExportEndpoint: '' }, () => false);
  assert.ok(!args.includes('--control-port'));
  assert.match(notes[0], /devmesh\.controlPort is 15123, but this devmesh up has no --control-port/);
});

test('attaching to a running mesh on another port says the setting applies only when this window starts the mesh', () => {
  assert.match(attachNote(15123, 'http://127.0.0.1:15000')!, /already running at http:\/\/127\.0\.0\.1:15000; the setting applies when this window starts the mesh/);
  assert.equal(attachNote(15123, 'http://127.0.0.1:15123'), undefined);
  assert.equal(attachNote(0, 'http://127.0.0.1:15000'), undefined);
});
