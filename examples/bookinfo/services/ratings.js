'use strict';
/**
 * Bookinfo's ratings service: stars per reviewer, as JSON. The stars live in
 * Redis when the workload has a local upstream port for it
 * (DEVMESH_UPSTREAM_REDIS_6379, or REDIS_ADDR): each call reads them there,
 * through the sidecar (the demo's TCP hop). When Redis cannot be read, the
 * built-in stars are served and the answer says so (`store`, `storeError`).
 */
const { serve, sendJson } = require('./lib/mesh');
const { Redis } = require('./lib/resp');

const BUILT_IN = { Reviewer1: 5, Reviewer2: 4 };
const redisAddress = process.env.REDIS_ADDR || process.env.DEVMESH_UPSTREAM_REDIS_6379;
const redis = redisAddress ? new Redis(redisAddress) : null;
let lastStoreError = '';

/** `{ ratings, store }` for product `id`: from Redis (seeded with the built-in stars on a miss), else built in. */
async function ratingsFor(id) {
  if (!redis) return { ratings: BUILT_IN, store: 'built-in' };
  try {
    const key = `ratings:${id}`;
    let pairs = await redis.command(['HGETALL', key]);
    if (!pairs.length) {
      await redis.command(['HSET', key, ...Object.entries(BUILT_IN).flat()]);
      pairs = await redis.command(['HGETALL', key]);
    }
    const ratings = {};
    for (let i = 0; i + 1 < pairs.length; i += 2) ratings[pairs[i]] = Number(pairs[i + 1]);
    lastStoreError = '';
    return { ratings, store: 'redis' };
  } catch (e) {
    if (e.message !== lastStoreError) console.error(`ratings: serving the built-in stars, Redis at ${redisAddress} failed: ${e.message}`);
    lastStoreError = e.message;
    return { ratings: BUILT_IN, store: 'built-in', storeError: e.message };
  }
}

serve('ratings', async (req, res) => {
  const url = new URL(req.url, 'http://ratings');
  if (url.pathname === '/health') return sendJson(res, 200, { status: 'Ratings is healthy' });
  const m = /^\/ratings\/(\d+)$/.exec(url.pathname);
  if (m) return sendJson(res, 200, { id: Number(m[1]), ...(await ratingsFor(Number(m[1]))) });
  sendJson(res, 400, { error: 'please provide numeric product ID' });
});
