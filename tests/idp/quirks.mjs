// Eight real IdPs' bends, each answering as its vendor documents (discovery, JWKS, an
// authorization request that signs the current test user in at once and redirects back with
// a code, the token endpoint with PKCE S256 and client authentication, userinfo, and where the
// IdP has them: introspection, Microsoft Graph, its own logout). Only Node's standard library.
//   node quirks.mjs
// Listens on 127.0.0.1 on free ports, one per host an IdP uses, and prints
//   quirks ready {"google.accounts": 40001, ...}
// Hosts other than the browser-facing ones are named as the IdP's (`oauth2.googleapis.test`,
// `graph.microsoft.test`) and answer only when asked by that name: the filter must reach each
// through its own cluster (`idp_clusters`). Every persona's client is `gate` / `gate-secret`.
// Test-only routes (any port): POST /__test/user {"persona", "user"}; POST /__test/sign
// {"persona", "claims", "header"?}; POST /__test/okta-org-token {"claims"} (an Okta org-server
// access token: a JWT signed by a key the org JWKS does not publish, known to introspection);
// POST /__test/okta-revoke {"token"}; GET /__test/stats.
// Sources, per persona, are named in personas.mjs.
import http from 'node:http';
import crypto from 'node:crypto';
import { personas, ROLES } from './personas.mjs';

const CLIENT = { id: 'gate', secret: 'gate-secret' };
const b64u = (b) => Buffer.from(b).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const random = (n = 24) => crypto.randomBytes(n).toString('base64url');

function newKey(kid) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' } };
}

function sign(key, claims, header = {}) {
  const head = b64u(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header }));
  const body = b64u(JSON.stringify(claims));
  const sig = crypto.sign('sha256', Buffer.from(`${head}.${body}`), key.privateKey).toString('base64url');
  return `${head}.${body}.${sig}`;
}

// ---------------------------------------------------------------- state
const stats = { requests: {}, authorize: {}, logout: {}, graph: {} };
const codes = new Map(); // code -> { persona, user, nonce, redirectUri, challenge, scope, params }
const tokens = new Map(); // access token -> { persona, user, active, introspection }

const servers = {};
for (const role of ROLES) {
  const server = http.createServer((req, res) => handle(role, req, res).catch((e) => {
    console.error(e);
    send(res, 500, { error: 'server_error' });
  }));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  servers[role] = server.address().port;
}
const P = personas(servers, { sign, newKey, random, now, CLIENT });

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

// RFC 6749 2.3.1: client_secret_basic or client_secret_post.
function clientOf(req, form) {
  const auth = req.headers.authorization || '';
  if (auth.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(auth.slice(6), 'base64').toString().split(':').map(decodeURIComponent);
    return id === CLIENT.id && secret === CLIENT.secret ? id : null;
  }
  return form.get('client_id') === CLIENT.id && form.get('client_secret') === CLIENT.secret ? CLIENT.id : null;
}

function bearerOf(req) {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization || '');
  return m ? tokens.get(m[1]) : undefined;
}

// ---------------------------------------------------------------- endpoints
const endpoints = {
  discovery: (p) => [200, p.discovery()],
  jwks: (p) => [200, { keys: p.keys.map((k) => k.jwk) }],
  authorize(p, { url }) {
    const q = url.searchParams;
    const redirect = q.get('redirect_uri');
    if (q.get('client_id') !== CLIENT.id || !redirect) return [400, 'unknown client or no redirect_uri'];
    stats.authorize[p.name] = Object.fromEntries(q);
    if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) {
      return [302, '', { location: `${redirect}?error=invalid_request&state=${encodeURIComponent(q.get('state') || '')}` }];
    }
    const code = random();
    codes.set(code, { persona: p.name, user: p.current, nonce: q.get('nonce'), redirectUri: redirect, challenge: q.get('code_challenge'), scope: q.get('scope') || '', params: Object.fromEntries(q) });
    return [302, '', { location: `${redirect}?code=${code}&state=${encodeURIComponent(q.get('state') || '')}` }];
  },
  token(p, { req, form }) {
    if (!clientOf(req, form)) return [401, { error: 'invalid_client' }];
    const grant = codes.get(form.get('code') || '');
    codes.delete(form.get('code') || '');
    if (form.get('grant_type') !== 'authorization_code' || !grant || grant.persona !== p.name) return [400, { error: 'invalid_grant' }];
    const verifier = form.get('code_verifier') || '';
    if (grant.redirectUri !== form.get('redirect_uri') || b64u(crypto.createHash('sha256').update(verifier).digest()) !== grant.challenge) {
      return [400, { error: 'invalid_grant' }];
    }
    const user = p.users[grant.user];
    const accessToken = p.accessToken(user, grant);
    tokens.set(accessToken, { persona: p.name, user: grant.user, active: true });
    const idClaims = { iat: now(), exp: now() + 3600, aud: CLIENT.id, nonce: grant.nonce, ...p.idClaims(user, grant) };
    return [200, { access_token: accessToken, token_type: 'Bearer', expires_in: 3600, id_token: sign(p.keys[0], idClaims), scope: grant.scope }];
  },
  userinfo(p, { req }) {
    const t = bearerOf(req);
    if (!t || t.persona !== p.name || !t.active) return [401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' }];
    return [200, p.userinfo(p.users[t.user])];
  },
  // RFC 7662, as Okta's /oauth2/v1/introspect answers.
  introspect(p, { req, form }) {
    if (!clientOf(req, form)) return [401, { error: 'invalid_client' }];
    const t = tokens.get(form.get('token') || '');
    return [200, t && t.active && t.introspection ? { active: true, ...t.introspection } : { active: false }];
  },
  // Microsoft Graph: POST /v1.0/me/getMemberObjects (securityEnabledOnly is required).
  graph(p, { req, body }) {
    const t = bearerOf(req);
    if (!t || t.persona !== p.name) return [401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty.' } }];
    let parsed;
    try { parsed = JSON.parse(body); } catch { parsed = {}; }
    if (typeof parsed.securityEnabledOnly !== 'boolean') return [400, { error: { code: 'Request_BadRequest', message: 'securityEnabledOnly is required' } }];
    stats.graph[p.name] = (stats.graph[p.name] || 0) + 1;
    return [200, { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)', value: p.users[t.user].graphGroups || [] }];
  },
  logout(p, { url }) {
    stats.logout[p.name] = Object.fromEntries(url.searchParams);
    const back = url.searchParams.get(p.logoutReturn);
    return back ? [302, '', { location: back }] : [200, 'signed out'];
  },
};

// ---------------------------------------------------------------- test routes
async function testRoute(path, body, res) {
  const arg = body ? JSON.parse(body) : {};
  const p = P[arg.persona];
  if (path === '/__test/stats') return send(res, 200, stats);
  if (path === '/__test/user' && p && p.users[arg.user]) { p.current = arg.user; return send(res, 200, { ok: true }); }
  if (path === '/__test/sign' && p) {
    const key = arg.key === 'second' ? p.keys[1] : p.keys[0];
    return send(res, 200, { token: sign(key, { iat: now(), exp: now() + 600, ...arg.claims }, arg.header || {}) });
  }
  if (path === '/__test/okta-org-token') {
    const o = P.okta;
    const claims = { ver: 1, jti: `AT.${random(8)}`, iss: o.issuer, aud: o.issuer, iat: now(), exp: now() + 3600, cid: CLIENT.id, uid: '00u1', scp: ['openid'], sub: 'olivia@example.com', ...arg.claims };
    const token = sign(o.hiddenKey, claims);
    const introspection = { scope: claims.scp.join(' '), client_id: CLIENT.id, username: claims.sub, token_type: 'Bearer', exp: claims.exp, iat: claims.iat, sub: claims.sub, aud: claims.aud, iss: claims.iss, jti: claims.jti, uid: claims.uid };
    tokens.set(token, { persona: 'okta', user: 'olivia', active: true, introspection });
    return send(res, 200, { token });
  }
  if (path === '/__test/okta-revoke') { const t = tokens.get(arg.token); if (t) t.active = false; return send(res, 200, { ok: !!t }); }
  return send(res, 404, { error: 'no such test route' });
}

async function handle(role, req, res) {
  const url = new URL(req.url, 'http://x');
  const body = await readBody(req);
  const key = `${role} ${req.method} ${url.pathname}`;
  stats.requests[key] = (stats.requests[key] || 0) + 1;
  if (url.pathname.startsWith('/__test/')) return testRoute(url.pathname, body, res);
  const found = Object.values(P).map((p) => [p, p.route(role, req.method, url.pathname)]).find(([, r]) => r);
  if (!found) return send(res, 404, { error: 'not_found' });
  const [p, { name, host }] = found;
  // A host with a name answers only when asked by that name (its own cluster reached it).
  if (host && req.headers.host !== `${host}:${servers[role]}`) return send(res, 421, { error: 'misdirected_request' });
  const form = new URLSearchParams(req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') ? body : '');
  const [status, answer, headers] = endpoints[name](p, { req, url, form, body });
  return send(res, status, answer, headers);
}

console.log(`quirks ready ${JSON.stringify(servers)}`);
