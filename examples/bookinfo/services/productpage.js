'use strict';
/**
 * Bookinfo's productpage: one HTML page built from details and reviews, called
 * through the mesh. Like the real one it gives each call 3 s and one retry,
 * and on failure shows "Error fetching product reviews" instead of failing the
 * page. The signed-in user (cookie `user`, set by POST /login) travels to the
 * other services as the `end-user` header — what Istio's request-routing task
 * matches on (`end-user: jason` -> reviews v2). With DETAILS_GRPC
 * (`details:9080`) details is called over gRPC with grpc-js, which reaches the
 * sidecar through `grpc_proxy` (CONNECT on its outbound listener, set by
 * devmesh), with the same 3 s deadline and one retry.
 */
const { serve, sendJson, callService, forwardHeaders, podName } = require('./lib/mesh');
const { detailsApi } = require('./lib/grpc');

const detailsUrl = process.env.DETAILS_URL || 'http://details:9080';
const reviewsUrl = process.env.REVIEWS_URL || 'http://reviews:9080';
const TIMEOUT_MS = 3_000;
const ATTEMPTS = 2; // one try and one retry, as the real productpage does

function userOf(req) {
  const m = /(?:^|;\s*)user=([^;]*)/.exec(req.headers.cookie || '');
  if (m) return decodeURIComponent(m[1]);
  return req.headers['end-user'] || '';
}

function outHeaders(req) {
  const user = userOf(req);
  return forwardHeaders(req, user ? { 'end-user': user } : {});
}

async function fetchWithRetry(url, headers) {
  let last = { status: 503, body: null, error: 'not tried' };
  for (let i = 0; i < ATTEMPTS; i++) {
    try {
      const r = await callService(url, headers, TIMEOUT_MS);
      if (r.status === 200) return { status: 200, body: r.body };
      last = { status: r.status, body: r.body, error: `${url} answered ${r.status}` };
    } catch (e) {
      last = { status: 503, body: null, error: e.message };
    }
  }
  return last;
}

const detailsGrpc = process.env.DETAILS_GRPC ? grpcClient(process.env.DETAILS_GRPC) : null;

/** A grpc-js client of details at `target`; without grpc-js, a client whose every call fails saying what to install. */
function grpcClient(target) {
  const api = detailsApi();
  if (api.error) console.error(`productpage: cannot call details over gRPC at ${target}: ${api.error}`);
  return api.error ? { error: api.error } : { api, client: new api.Details(target, api.grpc.credentials.createInsecure()) };
}

/** GetDetails over gRPC, the trace headers and end-user as metadata: `{ status, body }` as the HTTP call gives, 503 on any error. */
function detailsOverGrpc(req, id) {
  if (detailsGrpc.error) return Promise.resolve({ status: 503, body: null, error: detailsGrpc.error });
  const { api, client } = detailsGrpc;
  const metadata = new api.grpc.Metadata();
  for (const [k, v] of Object.entries(outHeaders(req))) if (k !== 'user-agent' && k !== 'cookie') metadata.set(k, String(v));
  return new Promise((resolve) => {
    client.getDetails({ product_id: Number(id) }, metadata, { deadline: Date.now() + TIMEOUT_MS }, (err, d) => {
      if (err) return resolve({ status: 503, body: null, error: `details over gRPC: ${api.grpc.status[err.code] ?? err.code} ${err.details}` });
      const { isbn_10: isbn10, isbn_13: isbn13, ...rest } = d;
      resolve({ status: 200, body: { ...rest, 'ISBN-10': isbn10, 'ISBN-13': isbn13 } });
    });
  });
}

async function detailsWithRetry(req, id) {
  let last;
  for (let i = 0; i < ATTEMPTS; i++) if ((last = await detailsOverGrpc(req, id)).status === 200) return last;
  return last;
}

const getDetails = (req, id) => (detailsGrpc ? detailsWithRetry(req, id) : fetchWithRetry(`${detailsUrl}/details/${id}`, outHeaders(req)));
const getReviews = (req, id) => fetchWithRetry(`${reviewsUrl}/reviews/${id}`, outHeaders(req));

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function stars(rating) {
  if (!rating) return '';
  if (rating.error) return `<p class="rating-error"><font color="red">${esc(rating.error)}</font></p>`;
  const full = '<span class="glyphicon glyphicon-star"></span>'.repeat(rating.stars);
  const empty = '<span class="glyphicon glyphicon-star-empty"></span>'.repeat(5 - rating.stars);
  return `<font color="${esc(rating.color)}" class="stars stars-${esc(rating.color)}">${full}${empty}</font>`;
}

function page(user, details, reviews) {
  const detailsHtml = details.status === 200
    ? `<h4>Book Details</h4><dl>${Object.entries(details.body).filter(([k]) => k !== 'id').map(([k, v]) => `<dt>${esc(k)}:</dt><dd>${esc(v)}</dd>`).join('')}</dl>`
    : `<h4>Error fetching product details!</h4><p>Sorry, product details are currently unavailable for this book.</p>`;
  const reviewsHtml = reviews.status === 200
    ? `<h4>Book Reviews</h4>${reviews.body.reviews.map((r) => `<blockquote><p>${esc(r.text)}</p><small>${esc(r.reviewer)}</small>${stars(r.rating)}</blockquote>`).join('')}
<dl><dt>Reviews served by:</dt><dd><u>${esc(reviews.body.podname)}</u></dd></dl>`
    : `<h4>Error fetching product reviews!</h4><p>Sorry, product reviews are currently unavailable for this book.</p>`;
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Simple Bookstore App</title></head>
<body>
<nav><a href="/productpage">BookInfo Sample</a> ${user ? `signed in as <b>${esc(user)}</b> <form method="post" action="/logout" style="display:inline"><button>Sign out</button></form>` : `<form method="post" action="/login" style="display:inline"><input name="username" placeholder="User Name"><input name="passwd" type="password" placeholder="Password"><button>Sign in</button></form>`}</nav>
<h3>The Comedy of Errors</h3>
<p>Summary: <a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: The Comedy of Errors is one of William Shakespeare's early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.</p>
<div class="details">${detailsHtml}</div>
<div class="reviews">${reviewsHtml}</div>
<footer>productpage ${esc(podName())}</footer>
</body></html>
`;
}

function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { if (data.length < 10_000) data += c; });
    req.on('end', () => resolve(data));
  });
}

serve('productpage', async (req, res) => {
  const url = new URL(req.url, 'http://productpage');
  const p = url.pathname;
  if (p === '/health') return sendJson(res, 200, { status: 'Product page is healthy' });
  if (p === '/' ) { res.writeHead(200, { 'content-type': 'text/html' }); return res.end('<a href="/productpage?u=normal">Normal user</a> <a href="/productpage?u=test">Test user</a>\n'); }
  if (p === '/login' && req.method === 'POST') {
    const user = new URLSearchParams(await readBody(req)).get('username') || '';
    res.writeHead(302, { location: '/productpage', 'set-cookie': `user=${encodeURIComponent(user)}; Path=/; HttpOnly; SameSite=Lax` });
    return res.end();
  }
  if (p === '/logout') {
    res.writeHead(302, { location: '/productpage', 'set-cookie': 'user=; Path=/; Max-Age=0' });
    return res.end();
  }
  if (p === '/productpage') {
    const [details, reviews] = await Promise.all([getDetails(req, 0), getReviews(req, 0)]);
    const html = page(userOf(req), details, reviews);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
    return res.end(html);
  }
  let m;
  if (p === '/api/v1/products') return sendJson(res, 200, [{ id: 0, title: 'The Comedy of Errors', descriptionHtml: 'One of Shakespeare\'s early plays.' }]);
  if ((m = /^\/api\/v1\/products\/(\d+)$/.exec(p))) { const d = await getDetails(req, m[1]); return sendJson(res, d.status, d.body ?? { error: d.error }); }
  if ((m = /^\/api\/v1\/products\/(\d+)\/reviews$/.exec(p))) { const r = await getReviews(req, m[1]); return sendJson(res, r.status, r.body ?? { error: r.error }); }
  if ((m = /^\/api\/v1\/products\/(\d+)\/ratings$/.exec(p))) {
    const r = await fetchWithRetry(`${process.env.RATINGS_URL || 'http://ratings:9080'}/ratings/${m[1]}`, outHeaders(req));
    return sendJson(res, r.status, r.body ?? { error: r.error });
  }
  sendJson(res, 404, { error: `no route ${p}` });
});
