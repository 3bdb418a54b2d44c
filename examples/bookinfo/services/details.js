'use strict';
// Bookinfo's details service: facts about the book, as JSON.
const { serve, sendJson } = require('./lib/mesh');

function details(id) {
  return {
    id, author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200,
    publisher: 'PublisherA', language: 'English', 'ISBN-10': '1234567890', 'ISBN-13': '123-1234567890',
  };
}

serve('details', (req, res) => {
  const url = new URL(req.url, 'http://details');
  if (url.pathname === '/health') return sendJson(res, 200, { status: 'Details is healthy' });
  const m = /^\/details\/(\d+)$/.exec(url.pathname);
  if (m) return sendJson(res, 200, details(Number(m[1])));
  sendJson(res, 404, { error: 'please provide numeric product id' });
});
