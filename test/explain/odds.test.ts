/**
 * The odds explorer runs the sidecars' own random decisions with odds
 * instead of dice: every branch, with the probability a seeded run of the
 * same function would approach.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explore, merge, TooManyBranches } from '../../simulator/explain/odds';
import { chance, seededRandom, uniformIndex, weightedIndex } from '../../simulator/random';
import { pickWeighted } from '../../simulator/sidecar/routing/weights';
import { decideRouteFault } from '../../simulator/sidecar/resilience/faultDecision';
import { mirrorTargets } from '../../simulator/sidecar/routing/mirror';
import { newLbStats, pickEndpoint } from '../../simulator/sidecar/routing/loadBalancer';

const odds = <T>(run: Parameters<typeof explore<T>>[0], key: (v: T) => string) =>
  Object.fromEntries(merge(explore(run), key).map((b) => [key(b.value), Number(b.probability.toFixed(6))]));

describe('the odds explorer', () => {
  test('route weights are read as their share of the sum; weight 0 is never a branch', () => {
    const dests = [{ n: 'a', weight: 60 }, { n: 'b', weight: 30 }, { n: 'c', weight: 0 }, { n: 'd', weight: 10 }];
    assert.deepEqual(odds((r) => pickWeighted(dests, r)!.n, (n) => n), { a: 0.6, b: 0.3, d: 0.1 });
  });

  test('the odds match what the same function does with dice', () => {
    const dests = [{ n: 'a', weight: 1 }, { n: 'b', weight: 3 }];
    const rnd = seededRandom(7);
    let b = 0;
    for (let i = 0; i < 20_000; i++) if (pickWeighted(dests, rnd)!.n === 'b') b++;
    assert.ok(Math.abs(b / 20_000 - odds((r) => pickWeighted(dests, r)!.n, (n) => n).b) < 0.01);
  });

  test('independent choices multiply: a delay for 10 % and an abort for 50 % give four branches', () => {
    const fault = { delay: { fixedDelay: '2s', percentage: { value: 10 } }, abort: { httpStatus: 503, percentage: { value: 50 } } };
    const got = odds((r) => decideRouteFault(fault, r), (d) => `${d.delayMs ?? '-'}|${d.abort?.httpStatus ?? '-'}`);
    assert.deepEqual(got, { '-|-': 0.45, '2000|-': 0.05, '-|503': 0.45, '2000|503': 0.05 });
  });

  test('a percentage of 100 or 0 asks nothing, as the sidecar draws nothing', () => {
    assert.equal(explore((r) => chance(100, r)).length, 1);
    assert.equal(explore((r) => chance(0, r)).length, 1);
    assert.equal(explore((r) => mirrorTargets({ mirror: { host: 'shadow' } }, r)).length, 1, 'mirrorPercentage absent is 100 %');
  });

  test('least-request load balancing over fresh stats is uniform', () => {
    const eps = [{ name: 'r1' }, { name: 'r2' }, { name: 'r3' }];
    const got = odds((r) => pickEndpoint({ simple: 'LEAST_REQUEST' }, eps, 'c', newLbStats(), { headers: {}, query: {} }, r)!.endpoint.name, (n) => n);
    for (const n of ['r1', 'r2', 'r3']) assert.ok(Math.abs(got[n] - 1 / 3) < 1e-6, JSON.stringify(got));
  });

  test('a consistent hash with its key present is no choice at all', () => {
    const eps = [{ name: 'r1' }, { name: 'r2' }, { name: 'r3' }];
    const branches = explore((r) => pickEndpoint({ consistentHash: { httpHeaderName: 'x-user' } }, eps, 'c', newLbStats(), { headers: { 'x-user': 'jason' }, query: {} }, r));
    assert.equal(branches.length, 1);
    assert.equal(branches[0].probability, 1);
  });

  test('a decision that draws a number instead of asking is caught', () => {
    assert.throws(() => explore((r) => r()), /should ask for odds/);
  });

  test('too many outcomes are refused, not enumerated forever', () => {
    assert.throws(() => explore((r) => [0, 1, 2, 3, 4, 5].map(() => uniformIndex(10, r)), 1000), TooManyBranches);
  });

  test('weightedIndex draws exactly as before for a plain random source', () => {
    assert.equal(weightedIndex([1, 3], () => 0.2), 0);
    assert.equal(weightedIndex([1, 3], () => 0.3), 1);
    assert.equal(weightedIndex([0, 0], () => 0.3), -1);
    assert.equal(weightedIndex([0, 2, 0], () => 0.9999999), 1);
  });
});
