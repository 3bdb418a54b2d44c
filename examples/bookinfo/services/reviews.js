'use strict';
/**
 * Bookinfo's reviews service. One program, three versions, chosen by the
 * environment as in the real image: v1 has no ratings (ENABLE_RATINGS unset),
 * v2 shows black stars, v3 red (STAR_COLOR). v2/v3 call ratings through the
 * mesh and forward the trace headers; if ratings fails, the review says so.
 */
const { serve, sendJson, callService, forwardHeaders, podName } = require('./lib/mesh');

const starColor = process.env.STAR_COLOR || '';
const ratingsEnabled = process.env.ENABLE_RATINGS === 'true' || (process.env.ENABLE_RATINGS === undefined && starColor !== '');
const ratingsUrl = process.env.RATINGS_URL || 'http://ratings:9080';
// The real service waits 10 s for ratings in v2 (black) and 2.5 s in v3.
const ratingsTimeoutMs = starColor === 'black' ? 10_000 : 2_500;

const REVIEWS = [
  { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
  { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.' },
];

async function reviews(req, id) {
  let ratings = null;
  let ratingsError = null;
  if (ratingsEnabled) {
    try {
      const r = await callService(`${ratingsUrl}/ratings/${id}`, forwardHeaders(req), ratingsTimeoutMs);
      if (r.status === 200 && r.body && typeof r.body === 'object') ratings = r.body.ratings;
      else ratingsError = `ratings answered ${r.status}`;
    } catch (e) { ratingsError = e.message; }
  }
  return {
    id: String(id),
    podname: podName(),
    clustername: 'devmesh',
    reviews: REVIEWS.map((r) => ({
      ...r,
      ...(ratingsEnabled
        ? { rating: ratings ? { stars: ratings[r.reviewer], color: starColor || 'black' } : { error: 'Ratings service is currently unavailable' } }
        : {}),
    })),
    ...(ratingsError ? { ratingsError } : {}),
  };
}

serve(`reviews ${podName()}`, async (req, res) => {
  const url = new URL(req.url, 'http://reviews');
  if (url.pathname === '/health') return sendJson(res, 200, { status: 'Reviews is healthy' });
  const m = /^\/reviews\/(\d+)$/.exec(url.pathname);
  if (m) return sendJson(res, 200, await reviews(req, Number(m[1])));
  sendJson(res, 404, { error: 'not found' });
});
