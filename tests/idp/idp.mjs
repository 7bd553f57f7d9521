// The test and demo OpenID provider: panva's oidc-provider (OpenID Certified), configured
// for oidc-gate's tests. Usage:
//   node idp.mjs --port 9000 --keys /tmp/keys.json [--login auto|form] [--client-secret S]
//                [--redirect-uri URI ...] [--post-logout-uri URI ...] [--id-token-claims all|minimal]
//                [--auto-user alice|bob|carol] [--metadata-delay-ms N] [--no-test-routes]
// Prints "idp ready <issuer>" when listening. Test-only routes live under /__test/.
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';
import * as jose from 'jose';

function args(argv) {
  const out = { port: 0, keys: null, login: 'auto', clientSecret: 'test-secret', redirectUris: [], postLogoutUris: [], idTokenClaims: 'all', autoUser: 'alice', metadataDelayMs: 0, testRoutes: true };
  for (let i = 2; i < argv.length; i += 1) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--port') { out.port = Number(v); i += 1; }
    else if (k === '--keys') { out.keys = v; i += 1; }
    else if (k === '--login') { out.login = v; i += 1; }
    else if (k === '--client-secret') { out.clientSecret = v; i += 1; }
    else if (k === '--redirect-uri') { out.redirectUris.push(v); i += 1; }
    else if (k === '--post-logout-uri') { out.postLogoutUris.push(v); i += 1; }
    else if (k === '--id-token-claims') { out.idTokenClaims = v; i += 1; }
    else if (k === '--auto-user') { out.autoUser = v; i += 1; }
    else if (k === '--metadata-delay-ms') { out.metadataDelayMs = Number(v); i += 1; }
    else if (k === '--no-test-routes') { out.testRoutes = false; }
    else throw new Error(`unknown argument ${k}`);
  }
  return out;
}
const opts = args(process.argv);

// Keys: loaded from --keys when the file exists, else generated and written there, so a
// test can restart the IdP with the same keys, or delete the file to rotate them.
async function loadKeys(file) {
  if (file && fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const keys = [];
  for (const [alg, kty] of [['RS256', 'RSA'], ['ES256', 'EC']]) {
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
  return { scope: 'api openid', audience: indicator, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg } } };
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
    },
    {
      client_id: 'service',
      client_secret: opts.clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
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
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // Sign out of the IdP too (logout=yes), without asking: a test IdP.
    rpInitiatedLogout: { enabled: true, logoutSource: async (ctx, form) => { ctx.body = `<!doctype html><html><body>${form}<button form="op.logoutForm" value="yes" name="logout">Sign out</button><script>const f = document.forms[0]; const i = document.createElement('input'); i.type = 'hidden'; i.name = 'logout'; i.value = 'yes'; f.appendChild(i); f.submit();</script></body></html>`; } },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (_ctx, indicator) => resourceServer(indicator),
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  ttl: { AccessToken: 600, IdToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600, ClientCredentials: 600 },
  renderError: async (ctx, out) => { ctx.type = 'html'; ctx.body = `<!doctype html><h1>IdP error</h1><pre>${JSON.stringify(out).replace(/</g, '&lt;')}</pre>`; },
});
provider.proxy = false;

let requestCount = 0;
// Requests other than discovery and JWKS (which every Envoy worker fetches on its own).
let interactiveCount = 0;
// Test control: claims to overwrite in the ID token of the next token responses, so
// tests can play an IdP that lies (wrong nonce, wrong audience...).
let idTokenOverrides = null;

async function tamperTokenResponse(body) {
  const parsed = JSON.parse(body);
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
  if (prompt.name === 'login') result.login = { accountId };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
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
  if (opts.login === 'auto') { await finishLogin(req, res, opts.autoUser); return; }
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login' && details.session?.accountId) { await finishLogin(req, res, details.session.accountId); return; }
  if (!isPost) { res.writeHead(200, { 'content-type': 'text/html' }).end(loginForm(uid)); return; }
  const form = new URLSearchParams(await readBody(req));
  const user = USERS[form.get('login')];
  if (!user || user.password !== form.get('password')) { res.writeHead(200, { 'content-type': 'text/html' }).end(loginForm(uid, 'Wrong username or password')); return; }
  await finishLogin(req, res, form.get('login'));
}

// Test-only control routes (never part of a real IdP).
async function testRoute(req, res) {
  const url = new URL(req.url, issuer);
  const json = (code, body) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (url.pathname === '/__test/stats') return json(200, { requests: requestCount, interactive: interactiveCount });
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

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    if (req.url.startsWith('/__test/')) {
      if (opts.testRoutes) await testRoute(req, res); else res.writeHead(404).end();
      return;
    }
    requestCount += 1;
    if (!req.url.startsWith('/.well-known/') && !req.url.startsWith('/jwks')) interactiveCount += 1;
    else if (opts.metadataDelayMs) await new Promise((r) => { setTimeout(r, opts.metadataDelayMs); });
    if (req.url.startsWith('/interaction/')) { await interaction(req, res); return; }
    if (req.url.startsWith('/token') && idTokenOverrides) interceptTokenResponse(res);
    callback(req, res);
  } catch (err) {
    console.error('idp error', err);
    if (!res.headersSent) res.writeHead(500).end('idp error');
  }
});
console.log(`idp ready ${issuer}`);
