'use strict';
// Bookinfo's ratings service: stars per reviewer, as JSON.
const { serve, sendJson } = require('./lib/mesh');

serve('ratings', (req, res) => {
  const url = new URL(req.url, 'http://ratings');
  if (url.pathname === '/health') return sendJson(res, 200, { status: 'Ratings is healthy' });
  const m = /^\/ratings\/(\d+)$/.exec(url.pathname);
  if (m) return sendJson(res, 200, { id: Number(m[1]), ratings: { Reviewer1: 5, Reviewer2: 4 } });
  sendJson(res, 400, { error: 'please provide numeric product ID' });
});
