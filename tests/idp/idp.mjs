// The test and demo OpenID provider: panva's oidc-provider (OpenID Certified), configured
// for oidc-gate's tests. Usage:
//   node idp.mjs --port 9000 --keys /tmp/keys.json [--login auto|form] [--client-secret S]
//                [--redirect-uri URI ...] [--post-logout-uri URI ...] [--id-token-claims all|minimal]
//                [--auto-user alice|bob|carol] [--metadata-delay-ms N] [--no-test-routes]
//                [--refresh-tokens] [--rotate-refresh-tokens]
//                [--access-token-ttl SECONDS] [--refresh-token-ttl SECONDS] [--client-jwks FILE]
//                [--backchannel-logout-uri URI]
// Prints "idp ready <issuer>" when listening. Test-only routes live under /__test/
// (stats, sign, misbehave, fault, revoke-grant, approve-device).
//   --refresh-tokens         refresh tokens on every code/device grant, not only for offline_access
//                            (offline_access alone works too: /auth gets an implicit prompt=consent)
//   --rotate-refresh-tokens  each refresh returns a new refresh token; the old one is consumed, and
//                            presenting a consumed one revokes the whole grant (no grace period).
//                            Without it refresh tokens are never rotated (library default replaced)
//   --access-token-ttl S     access token and ID token lifetime (default 600)
//   --refresh-token-ttl S    refresh token lifetime (default 3600; grant and session live at least as long)
//   --backchannel-logout-uri URI  the web client's backchannel_logout_uri (Back-Channel Logout 1.0,
//                            session required: ID tokens carry sid); the IdP's end_session posts
//                            logout tokens there
// Authentication context: acr values "pwd" and "mfa". Auto-login signs in with the first of the
// request's acr_values it knows (else "pwd"); POST /__test/acr {"refuse": true} makes it ignore
// acr_values (an IdP that cannot meet them), {} undoes it.
// Clients: web (confidential, code + refresh + client_credentials), service (confidential,
// client_credentials), cli (public, device_code + refresh). Endpoints beyond the basics:
// /token/introspection (RFC 7662), /token/revocation (RFC 7009), /device/auth (RFC 8628).
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';
import * as jose from 'jose';

function args(argv) {
  const out = { port: 0, keys: null, login: 'auto', clientSecret: 'test-secret', redirectUris: [], postLogoutUris: [], idTokenClaims: 'all', autoUser: 'alice', metadataDelayMs: 0, testRoutes: true, refreshTokens: false, rotateRefreshTokens: false, accessTokenTtl: 600, refreshTokenTtl: 3600, eddsa: false };
  const seconds = (k, v) => { const n = Number(v); if (!Number.isInteger(n) || n <= 0) throw new Error(`${k} needs a positive number of seconds`); return n; };
  for (let i = 2; i < argv.length; i += 1) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--port') { out.port = Number(v); i += 1; }
    else if (k === '--keys') { out.keys = v; i += 1; }
    else if (k === '--backchannel-logout-uri') { out.backchannelLogoutUri = v; i += 1; }
    else if (k === '--login') { out.login = v; i += 1; }
    else if (k === '--client-secret') { out.clientSecret = v; i += 1; }
    else if (k === '--redirect-uri') { out.redirectUris.push(v); i += 1; }
    else if (k === '--post-logout-uri') { out.postLogoutUris.push(v); i += 1; }
    else if (k === '--id-token-claims') { out.idTokenClaims = v; i += 1; }
    else if (k === '--auto-user') { out.autoUser = v; i += 1; }
    else if (k === '--metadata-delay-ms') { out.metadataDelayMs = Number(v); i += 1; }
    else if (k === '--no-test-routes') { out.testRoutes = false; }
    else if (k === '--refresh-tokens') { out.refreshTokens = true; }
    else if (k === '--rotate-refresh-tokens') { out.rotateRefreshTokens = true; }
    else if (k === '--access-token-ttl') { out.accessTokenTtl = seconds(k, v); i += 1; }
    else if (k === '--refresh-token-ttl') { out.refreshTokenTtl = seconds(k, v); i += 1; }
    else if (k === '--client-jwks') { i += 1; } // private_key_jwt client: read below
    else if (k === '--eddsa') { out.eddsa = true; } // also an Ed25519 key (for /__test/sign)
    else throw new Error(`unknown argument ${k}`);
  }
  return out;
}
const opts = args(process.argv);

// private_key_jwt (RFC 7523): `--client-jwks FILE` registers the client "web-jwt", which
// authenticates with a JWT signed by a key whose public JWK is in FILE ({"keys": [...]}),
// and has no secret. Same redirect URIs and grants as "web".
const clientJwksIndex = process.argv.indexOf('--client-jwks');
const clientJwks = clientJwksIndex > 0 ? JSON.parse(fs.readFileSync(process.argv[clientJwksIndex + 1], 'utf8')) : null;

// Keys: loaded from --keys when the file exists, else generated and written there, so a
// test can restart the IdP with the same keys, or delete the file to rotate them.
async function loadKeys(file) {
  if (file && fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const keys = [];
  const algs = [['RS256', 'RSA'], ['ES256', 'EC'], ...(opts.eddsa ? [['EdDSA', 'OKP']] : [])];
  for (const [alg, kty] of algs) {
    const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
    const jwk = await jose.exportJWK(privateKey);
    keys.push({ ...jwk, kid: `${kty.toLowerCase()}-${crypto.randomBytes(4).toString('hex')}`, use: 'sig', alg });
  }
  const jwks = { keys };
  if (file) fs.writeFileSync(file, JSON.stringify(jwks));
  return jwks;
}

// A TTL store: oidc-provider's bundled memory adapter is an LRU of 1,000 entries that
// evicts live tokens under load.
const store = new Map();
const expired = (e) => e && e.expiresAt <= Date.now();
setInterval(() => { for (const [k, e] of store) if (expired(e)) store.delete(k); }, 10_000).unref();
class TTLAdapter {
  constructor(name) { this.name = name; }
  key(id) { return `${this.name}:${id}`; }
  get(key) { const e = store.get(key); if (!e || expired(e)) return undefined; return e.value; }
  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(this.key(id), { value: payload, expiresAt });
    if (payload.grantId) {
      const gk = `grant:${payload.grantId}`;
      const members = this.get(gk) || [];
      members.push(this.key(id));
      store.set(gk, { value: members, expiresAt: Infinity });
    }
    if (payload.uid) store.set(`uid:${payload.uid}`, { value: id, expiresAt });
    if (payload.userCode) store.set(`userCode:${payload.userCode}`, { value: id, expiresAt });
  }
  async find(id) { return this.get(this.key(id)); }
  async findByUid(uid) { const id = this.get(`uid:${uid}`); return id ? this.find(id) : undefined; }
  async findByUserCode(code) { const id = this.get(`userCode:${code}`); return id ? this.find(id) : undefined; }
  async consume(id) { const v = this.get(this.key(id)); if (v) v.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId(grantId) {
    for (const k of this.get(`grant:${grantId}`) || []) store.delete(k);
    store.delete(`grant:${grantId}`);
  }
}

// Test users. "alice" is the one auto-login signs in.
const USERS = {
  alice: { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Example', groups: ['admins', 'dev'], password: 'alice' },
  bob: { sub: 'bob', email: 'bob@example.org', email_verified: true, name: 'Bob Example', groups: ['dev'], password: 'bob' },
  // Enough groups that the session cookie must be split into chunks.
  carol: { sub: 'carol', email: 'carol@example.net', email_verified: true, name: 'Carol Example', groups: Array.from({ length: 250 }, (_, i) => `team-${String(i).padStart(3, '0')}-members`), password: 'carol' },
};

const jwks = await loadKeys(opts.keys);
const server = http.createServer();
await new Promise((resolve) => server.listen(opts.port, '127.0.0.1', resolve));
const port = server.address().port;
const issuer = `http://127.0.0.1:${port}`;

// Resources (RFC 8707): each resource indicator is an API audience; JWT access tokens.
function resourceServer(indicator) {
  const alg = indicator.endsWith('-es256') ? 'ES256' : 'RS256';
  return { scope: 'api openid', audience: indicator, accessTokenTTL: opts.accessTokenTtl, accessTokenFormat: 'jwt', jwt: { sign: { alg } } };
}

const provider = new Provider(issuer, {
  adapter: TTLAdapter,
  jwks,
  clients: [
    {
      client_id: 'web',
      client_secret: opts.clientSecret,
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: opts.redirectUris.length ? opts.redirectUris : [`${issuer}/cb`],
      post_logout_redirect_uris: opts.postLogoutUris,
      token_endpoint_auth_method: 'client_secret_basic',
      // Back-channel logout (see --backchannel-logout-uri).
      ...(opts.backchannelLogoutUri ? { backchannel_logout_uri: opts.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
    },
    ...(clientJwks ? [{
      client_id: 'web-jwt',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: opts.redirectUris.length ? opts.redirectUris : [`${issuer}/cb`],
      post_logout_redirect_uris: opts.postLogoutUris,
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: clientJwks,
    }] : []),
    {
      client_id: 'service',
      client_secret: opts.clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      // A command-line tool: public client of the device authorization grant (RFC 8628).
      client_id: 'cli',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'none',
    },
  ],
  findAccount: async (_ctx, id) => {
    const user = USERS[id];
    if (!user) return undefined;
    return { accountId: id, claims: async () => { const { password, ...claims } = user; return claims; } };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access', 'api'],
  // "minimal": ID tokens carry only sub (the claims come from userinfo).
  conformIdTokenClaims: opts.idTokenClaims === 'minimal',
  // Refresh tokens for offline_access (the library's rule) or, with --refresh-tokens, always.
  issueRefreshToken: async (_ctx, client, source) => client.grantTypeAllowed('refresh_token') && (opts.refreshTokens || source.scopes.has('offline_access')),
  rotateRefreshToken: opts.rotateRefreshTokens,
  // Back-channel logout posts to the site on 127.0.0.1, which the library's SSRF guard (its
  // fetch dispatcher) refuses: a test IdP on loopback goes without it.
  fetch: (url, options) => globalThis.fetch(url, { ...options, dispatcher: undefined }),
  // Step-up: the acr values auto-login can sign in with (see acrFor).
  acrValues: ['pwd', 'mfa'],
  features: {
    // Back-Channel Logout 1.0: end_session posts logout tokens to clients that registered a URI.
    backchannelLogout: { enabled: true },
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // RFC 7662: any confidential client may introspect any token (the library's default rule:
    // a public client only its own). JWT access tokens are refused (unsupported_token_type).
    introspection: { enabled: true, allowedPolicy: async (ctx, client, token) => client.clientAuthMethod !== 'none' || token.clientId === client.clientId },
    // RFC 7009: a client revokes its own opaque tokens. In this version revoking a refresh token
    // revokes its grant, and revoking an access token revokes every token of its grant too.
    revocation: { enabled: true },
    // RFC 8628. The user code is approved at /device (browser) or with POST /__test/approve-device.
    deviceFlow: { enabled: true },
    // Sign out of the IdP too (logout=yes), without asking: a test IdP.
    rpInitiatedLogout: { enabled: true, logoutSource: async (ctx, form) => { ctx.body = `<!doctype html><html><body>${form}<button form="op.logoutForm" value="yes" name="logout">Sign out</button><script>const f = document.forms[0]; const i = document.createElement('input'); i.type = 'hidden'; i.name = 'logout'; i.value = 'yes'; f.appendChild(i); f.submit();</script></body></html>`; } },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined,
      // Device flow: the resource named in the device authorization request gives a JWT access
      // token without repeating it at the token endpoint (also on refresh of a device-flow token).
      useGrantedResource: async (_ctx, model) => model.kind === 'DeviceCode' || String(model.gty || '').includes('device_code'),
      getResourceServerInfo: async (_ctx, indicator) => resourceServer(indicator),
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  ttl: {
    AccessToken: opts.accessTokenTtl,
    IdToken: opts.accessTokenTtl,
    ClientCredentials: opts.accessTokenTtl,
    AuthorizationCode: 60,
    DeviceCode: 600,
    Interaction: 600,
    RefreshToken: opts.refreshTokenTtl,
    Session: Math.max(3600, opts.refreshTokenTtl),
    Grant: Math.max(3600, opts.refreshTokenTtl),
  },
  renderError: async (ctx, out) => { ctx.type = 'html'; ctx.body = `<!doctype html><h1>IdP error</h1><pre>${JSON.stringify(out).replace(/</g, '&lt;')}</pre>`; },
});
provider.proxy = false;

let requestCount = 0;
// Requests other than discovery and JWKS (which every Envoy worker fetches on its own).
let interactiveCount = 0;
// Calls per endpoint, for tests that assert "exactly one refresh". Counted after the provider
// answered, by the grant_type it parsed; invalid_grant answers are counted with their reason.
const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';
const counts = {
  token: { authorization_code: 0, refresh_token: 0, client_credentials: 0, [DEVICE_CODE]: 0, other: 0 },
  introspection: 0,
  revocation: 0,
  device_authorization: 0,
  userinfo: 0,
  invalid_grant: 0,
  invalid_grant_reasons: {},
};
provider.use(async (ctx, next) => {
  await next();
  const route = ctx.oidc?.route;
  if (route === 'token') {
    const gty = ctx.oidc.params?.grant_type;
    counts.token[gty in counts.token ? gty : 'other'] += 1;
  } else if (route in counts && typeof counts[route] === 'number') {
    counts[route] += 1;
  }
});
provider.on('backchannel.success', (_ctx, client, sub) => console.log(`backchannel logout sent: ${client.clientId} ${sub}`));
provider.on('backchannel.error', (_ctx, err, client) => console.log(`backchannel logout failed: ${client.clientId}: ${err.message}`));
// private_key_jwt: why a client assertion was refused (the answer itself says only invalid_client).
provider.on('grant.error', (_ctx, err) => { if (err.error === 'invalid_client') console.log(`invalid_client: ${err.error_detail}`); });
provider.on('introspection.error', (_ctx, err) => { if (err.error === 'invalid_client') console.log(`invalid_client: ${err.error_detail}`); });
provider.on('grant.error', (_ctx, err) => {
  if (err.error !== 'invalid_grant') return;
  counts.invalid_grant += 1;
  const reason = err.error_detail || err.error_description || 'unknown';
  counts.invalid_grant_reasons[reason] = (counts.invalid_grant_reasons[reason] || 0) + 1;
  console.log(`invalid_grant: ${reason}`);
});

// Requests the IdP makes to itself (POST /__test/approve-device drives the real /device pages)
// carry this header: they pick the user who signs in, and are left out of the counts.
const SELF = crypto.randomBytes(16).toString('hex');
const selfUser = (req) => {
  const [secret, sub] = String(req.headers['x-test-self'] || '').split(' ');
  return secret === SELF && USERS[sub] ? sub : undefined;
};
// Test control: claims to overwrite in the ID token of the next token responses, so
// tests can play an IdP that lies (wrong nonce, wrong audience...).
let idTokenOverrides = null;

async function tamperTokenResponse(body) {
  let parsed;
  try { parsed = JSON.parse(body); } catch { return body; } // e.g. the empty body of /token/revocation
  if (!parsed.id_token || !idTokenOverrides) return body;
  const [h, p] = parsed.id_token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const claims = { ...JSON.parse(Buffer.from(p, 'base64url')), ...idTokenOverrides };
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  const key = await jose.importJWK(jwk, jwk.alg);
  parsed.id_token = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader(header).sign(key);
  return JSON.stringify(parsed);
}

// Buffers what the provider writes for /token so it can be tampered with.
function interceptTokenResponse(res) {
  const chunks = [];
  const { write, end } = res;
  res.write = (chunk) => { chunks.push(Buffer.from(chunk)); return true; };
  res.end = (chunk, ...rest) => {
    if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk));
    tamperTokenResponse(Buffer.concat(chunks).toString()).then((body) => {
      res.setHeader('content-length', Buffer.byteLength(body));
      res.write = write;
      end.call(res, body);
    }, (err) => { console.error('tamper failed', err); end.call(res); });
    return res;
  };
}

async function finishLogin(req, res, accountId) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  if (!grant) grant = new provider.Grant({ accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  if (prompt.details.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  const result = { consent: { grantId } };
  if (prompt.name === 'login') result.login = { accountId, acr: acrFor(params) };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

// Step-up: the acr a login gets: the first of the request's acr_values that this IdP knows,
// unless a test made it refuse them (then "pwd", as an IdP that cannot do better).
let refuseAcr = false;
function acrFor(params) {
  const asked = String(params.acr_values || '').split(' ').filter((v) => ['pwd', 'mfa'].includes(v));
  return (!refuseAcr && asked[0]) || 'pwd';
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (c) => { data += c; if (data.length > 1e6) reject(new Error('too large')); });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function loginForm(uid, error) {
  const msg = error ? `<p style="color:#b00">${error}</p>` : '';
  return `<!doctype html><html><head><title>Sign in</title><style>body{font-family:sans-serif;max-width:22rem;margin:4rem auto}input,button{display:block;width:100%;margin:.4rem 0;padding:.5rem}</style></head>
<body><h1>Sign in</h1><p>Test IdP. Users: <code>alice</code>/<code>alice</code>, <code>bob</code>/<code>bob</code>.</p>${msg}
<form method="post" action="/interaction/${uid}/login"><input name="login" placeholder="username" autofocus><input name="password" type="password" placeholder="password"><button type="submit">Sign in</button></form></body></html>`;
}

async function interaction(req, res) {
  const url = new URL(req.url, issuer);
  const m = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!m) { res.writeHead(404).end(); return; }
  const [, uid, isPost] = m;
  if (selfUser(req)) { await finishLogin(req, res, selfUser(req)); return; }
  if (opts.login === 'auto') { await finishLogin(req, res, opts.autoUser); return; }
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login' && details.session?.accountId) { await finishLogin(req, res, details.session.accountId); return; }
  if (!isPost) { res.writeHead(200, { 'content-type': 'text/html' }).end(loginForm(uid)); return; }
  const form = new URLSearchParams(await readBody(req));
  const user = USERS[form.get('login')];
  if (!user || user.password !== form.get('password')) { res.writeHead(200, { 'content-type': 'text/html' }).end(loginForm(uid, 'Wrong username or password')); return; }
  await finishLogin(req, res, form.get('login'));
}

// What an administrator revoking a user does: every grant of `sub` (of everyone when no sub)
// goes, with the tokens and codes issued under it, and the user's IdP sessions. The next
// refresh then gets invalid_grant; opaque access tokens of those grants introspect inactive.
function revokeUser(sub) {
  let grants = 0; let tokens = 0; let sessions = 0;
  for (const [key, entry] of [...store]) {
    if (!store.has(key) || expired(entry) || (sub && entry.value?.accountId !== sub)) continue;
    if (key.startsWith('Grant:')) {
      const members = store.get(`grant:${key.slice('Grant:'.length)}`)?.value || [];
      for (const member of new Set(members)) if (store.delete(member)) tokens += 1;
      store.delete(`grant:${key.slice('Grant:'.length)}`);
      store.delete(key);
      grants += 1;
    } else if (key.startsWith('Session:')) {
      store.delete(key);
      sessions += 1;
    }
  }
  console.log(`revoked ${sub || 'every user'}: ${grants} grants, ${tokens} tokens and codes, ${sessions} sessions`);
  return { grants, tokens, sessions };
}

// Completes the user interaction of a device code as a browser would: the /device form, the
// confirmation, the sign-in interaction (as `sub`), the resume. A cookie jar carries the
// provider's session, xsrf and interaction cookies across the hops.
async function approveDevice(userCode, sub, deny) {
  const find = () => provider.DeviceCode.findByUserCode(userCode.toUpperCase().replace(/\W/g, ''), { ignoreExpiration: true });
  const before = await find();
  const unusable = !before ? 'the code was not found' : before.isExpired ? 'the code has expired'
    : (before.error || before.accountId || before.inFlight) ? 'code has already been used' : undefined;
  if (unusable) return { ok: false, user_code: userCode, sub, error: unusable };
  const jar = new Map();
  const headers = () => ({ 'x-test-self': `${SELF} ${sub}`, cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') });
  const hop = async (url, init = {}) => {
    const r = await fetch(new URL(url, issuer), { ...init, redirect: 'manual', headers: { ...headers(), ...init.headers } });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const [name, value] = [pair.slice(0, i).trim(), pair.slice(i + 1)];
      if (!value || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(name); else jar.set(name, value);
    }
    return { status: r.status, location: r.headers.get('location'), text: await r.text() };
  };
  const form = await hop(`/device?user_code=${encodeURIComponent(userCode)}`);
  const xsrf = form.text.match(/name="xsrf" value="([^"]+)"/)?.[1];
  if (!xsrf) return { ok: false, error: 'no xsrf in the /device form', page_status: form.status };
  let r = await hop('/device', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf, user_code: userCode, [deny ? 'abort' : 'confirm']: 'yes' }).toString(),
  });
  const trail = ['POST /device'];
  for (let n = 0; r.location && n < 10; n += 1) { trail.push(`GET ${r.location}`); r = await hop(r.location); }
  const code = await find();
  const done = deny ? code?.error === 'access_denied' : code?.accountId === sub;
  const page = (r.text.match(/<pre>([^<]*)<\/pre>/) || r.text.match(/<h1>([^<]*)<\/h1>/))?.[1] || r.text.slice(0, 200);
  return { ok: !!done, user_code: userCode, sub, denied: deny, ...(done ? {} : { error: 'the interaction did not complete', page, page_status: r.status }), trail };
}

// Test-only control routes (never part of a real IdP).
async function testRoute(req, res) {
  const url = new URL(req.url, issuer);
  const json = (code, body) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (url.pathname === '/__test/stats') return json(200, { requests: requestCount, interactive: interactiveCount, ...counts });
  if (url.pathname === '/__test/revoke-grant' && req.method === 'POST') {
    const body = await readBody(req);
    const { sub } = body.trim() ? JSON.parse(body) : {};
    return json(200, { sub: sub || null, ...revokeUser(sub) });
  }
  if (url.pathname === '/__test/acr' && req.method === 'POST') {
    const body = await readBody(req);
    refuseAcr = !!(body.trim() && JSON.parse(body).refuse);
    return json(200, { refuse: refuseAcr });
  }
  if (url.pathname === '/__test/approve-device' && req.method === 'POST') {
    const { user_code: userCode, sub = 'alice', deny = false } = JSON.parse(await readBody(req));
    if (!userCode || !USERS[sub]) return json(400, { error: 'user_code and a known sub are needed' });
    const out = await approveDevice(userCode, sub, deny);
    return json(out.ok ? 200 : 400, out);
  }
  if (url.pathname === '/__test/fault' && req.method === 'POST') {
    // Fault injection for soaks and tests: {"paths": ["/token", "/jwks"], "status": 500,
    // "delay_ms": 20000, "garbage": true, "huge_bytes": 10485760, "seconds": 30}; an empty
    // body clears it. huge_bytes: a 200 of valid JSON (an empty key set) padded to that size.
    const body = await readBody(req);
    const f = body.trim() ? JSON.parse(body) : null;
    fault = f && { paths: f.paths || ['/'], status: f.status || 0, delayMs: f.delay_ms || 0, garbage: !!f.garbage,
      hugeBytes: f.huge_bytes || 0, until: f.seconds ? Date.now() + f.seconds * 1000 : Infinity };
    return json(200, { fault: f });
  }
  if (url.pathname === '/__test/misbehave' && req.method === 'POST') {
    idTokenOverrides = JSON.parse(await readBody(req)).id_token || null;
    return json(200, { id_token: idTokenOverrides });
  }
  if (url.pathname === '/__test/sign' && req.method === 'POST') {
    // Signs arbitrary claims with the IdP's own private key: for tokens a real IdP would
    // never issue (expired, wrong audience...) but that carry a genuine signature.
    const { claims, alg = 'RS256', header = {} } = JSON.parse(await readBody(req));
    const jwk = jwks.keys.find((k) => k.alg === alg) || jwks.keys[0];
    const key = await jose.importJWK(jwk, jwk.alg);
    const token = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'at+jwt', ...header })
      .sign(key);
    return json(200, { token });
  }
  return json(404, { error: 'not found' });
}

// The fault set by POST /__test/fault: answers the matching paths with an error status,
// after a delay, or (garbage) with a 200 whose body is no JSON at all.
let fault = null;
async function injectFault(req, res) {
  if (!fault) return false;
  if (Date.now() >= fault.until) { fault = null; return false; }
  if (!fault.paths.some((p) => req.url.startsWith(p))) return false;
  if (fault.delayMs) await new Promise((r) => { setTimeout(r, fault.delayMs); });
  if (fault.hugeBytes) {
    const head = '{"keys":[]}';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': fault.hugeBytes });
    res.end(head + ' '.repeat(Math.max(0, fault.hugeBytes - head.length)));
    return true;
  }
  if (fault.garbage) { res.writeHead(200, { 'content-type': 'application/json' }).end('<<garbage>>'); return true; }
  if (fault.status) { res.writeHead(fault.status, { 'content-type': 'application/json' }).end('{"error":"server_error"}'); return true; }
  return false;
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    if (req.url.startsWith('/__test/')) {
      if (opts.testRoutes) await testRoute(req, res); else res.writeHead(404).end();
      return;
    }
    if (opts.testRoutes && await injectFault(req, res)) return;
    const self = selfUser(req);
    if (!self) requestCount += 1;
    if (!req.url.startsWith('/.well-known/') && !req.url.startsWith('/jwks')) { if (!self) interactiveCount += 1; }
    else if (opts.metadataDelayMs) await new Promise((r) => { setTimeout(r, opts.metadataDelayMs); });
    // offline_access survives the authorization request only with prompt=consent; the test
    // user consents to everything, so ask for it on the caller's behalf when no prompt is given.
    if (req.method === 'GET' && req.url.startsWith('/auth?')) {
      const u = new URL(req.url, issuer);
      if (u.searchParams.get('scope')?.split(' ').includes('offline_access') && !u.searchParams.has('prompt')) {
        u.searchParams.set('prompt', 'consent');
        req.url = u.pathname + u.search;
      }
    }
    if (req.url.startsWith('/interaction/')) { await interaction(req, res); return; }
    if (req.url.startsWith('/token') && idTokenOverrides) interceptTokenResponse(res);
    callback(req, res);
  } catch (err) {
    console.error('idp error', err);
    if (!res.headersSent) res.writeHead(500).end('idp error');
  }
});
console.log(`idp ready ${issuer}`);
