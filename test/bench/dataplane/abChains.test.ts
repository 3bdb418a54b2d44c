import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slotEnv, withEnv } from '../../../bench/dataplane/abChains';

test('a slot\'s environment is read from DEVMESH_AB_ENV_A / _B as a JSON object of strings, and is empty when unset', () => {
  assert.deepEqual(slotEnv('A', {}), {});
  assert.deepEqual(slotEnv('B', { DEVMESH_AB_ENV_B: '{"DEVMESH_SIDECAR_EXEC_ARGV":"--single-threaded-gc","MALLOC_ARENA_MAX":"2"}' }),
    { DEVMESH_SIDECAR_EXEC_ARGV: '--single-threaded-gc', MALLOC_ARENA_MAX: '2' });
});

test('a slot environment that is not a JSON object of strings is refused with the variable\'s name and an example', () => {
  assert.throws(() => slotEnv('A', { DEVMESH_AB_ENV_A: 'MALLOC_ARENA_MAX=2' }), /DEVMESH_AB_ENV_A is not JSON .*e\.g\. DEVMESH_AB_ENV_A='\{"MALLOC_ARENA_MAX":"2"\}'/);
  assert.throws(() => slotEnv('B', { DEVMESH_AB_ENV_B: '["x"]' }), /DEVMESH_AB_ENV_B is not an object/);
  assert.throws(() => slotEnv('B', { DEVMESH_AB_ENV_B: '{"MALLOC_ARENA_MAX":2}' }), /gives MALLOC_ARENA_MAX a number, not a string/);
});

test('a slot\'s variables are set while its sidecars start and put back after, unset ones removed again', async () => {
  const key = 'DEVMESH_AB_TEST_ONLY';
  const had = process.env.MALLOC_ARENA_MAX;
  const seen = await withEnv({ [key]: '1', MALLOC_ARENA_MAX: '7' }, async () => [process.env[key], process.env.MALLOC_ARENA_MAX]);
  assert.deepEqual(seen, ['1', '7']);
  assert.equal(key in process.env, false);
  assert.equal(process.env.MALLOC_ARENA_MAX, had);
});
