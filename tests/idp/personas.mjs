// The eight IdPs of quirks.mjs: where each puts its endpoints, what its discovery document,
// tokens and userinfo say. Each follows its vendor's documentation (named per persona); where
// the docs leave a choice open, the comment says which was made.

export const ROLES = [
  'google.accounts', 'google.oauth2', 'google.openidconnect', 'google.www',
  'entra.login', 'entra.graph', 'okta', 'auth0', 'keycloak', 'cognito.idp', 'cognito.auth', 'dex', 'gitlab',
];

export const TENANT_A = '11111111-aaaa-4aaa-8aaa-111111111111';
export const TENANT_B = '22222222-bbbb-4bbb-8bbb-222222222222';
export const G_ADMINS = 'aaaaaaaa-0000-4000-8000-000000000001';
export const G_DEV = 'aaaaaaaa-0000-4000-8000-000000000002';

// A persona: `routes` is [role, method, path, endpoint, host name or undefined].
function persona(name, spec) {
  return {
    name, current: Object.keys(spec.users)[0], logoutReturn: undefined, ...spec,
    route(role, method, path) {
      const r = this.routes.find(([ro, m, p]) => ro === role && m === method && p === path);
      return r ? { name: r[3], host: r[4] } : null;
    },
  };
}

// What every builder uses: the ports, URL helpers and the signing tools of quirks.mjs.
function context(port, tools) {
  const at = (role) => `http://127.0.0.1:${port[role]}`;
  const named = (host, role) => `http://${host}:${port[role]}`;
  const pick = (o, keys) => Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
  return { ...tools, at, named, pick };
}

function googlePersonas({ sign, newKey, random, now, CLIENT, at, named, pick }) {
  // Google: https://developers.google.com/identity/openid-connect/openid-connect (discovery at
  // accounts.google.com names endpoints on oauth2.googleapis.com, openidconnect.googleapis.com
  // and www.googleapis.com; ID tokens' iss is "https://accounts.google.com" or
  // "accounts.google.com"; hd for Workspace accounts only). Here: the bare form, and no profile
  // claims in the ID token, so that the name comes from userinfo on its own host.
  const gIssuer = at('google.accounts');
  const google = persona('google', {
    issuer: gIssuer,
    keys: [newKey('g1')],
    users: {
      alice: { sub: '110169484474386276334', email: 'alice@example.com', email_verified: true, hd: 'example.com', name: 'Alice Admin' },
      gina: { sub: '110169484474386276335', email: 'gina@gmail.test', email_verified: true, name: 'Gina Gmail' },
    },
    routes: [
      ['google.accounts', 'GET', '/.well-known/openid-configuration', 'discovery'],
      ['google.accounts', 'GET', '/o/oauth2/v2/auth', 'authorize'],
      ['google.oauth2', 'POST', '/token', 'token', 'oauth2.googleapis.test'],
      ['google.openidconnect', 'GET', '/v1/userinfo', 'userinfo', 'openidconnect.googleapis.test'],
      ['google.www', 'GET', '/oauth2/v3/certs', 'jwks', 'www.googleapis.test'],
    ],
    discovery: () => ({
      issuer: gIssuer,
      authorization_endpoint: `${gIssuer}/o/oauth2/v2/auth`,
      token_endpoint: `${named('oauth2.googleapis.test', 'google.oauth2')}/token`,
      userinfo_endpoint: `${named('openidconnect.googleapis.test', 'google.openidconnect')}/v1/userinfo`,
      revocation_endpoint: `${named('oauth2.googleapis.test', 'google.oauth2')}/revoke`,
      jwks_uri: `${named('www.googleapis.test', 'google.www')}/oauth2/v3/certs`,
      response_types_supported: ['code', 'token', 'id_token'], subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'], scopes_supported: ['openid', 'email', 'profile'],
      code_challenge_methods_supported: ['plain', 'S256'],
    }),
    idClaims: (u) => ({ iss: gIssuer.replace('http://', ''), azp: CLIENT.id, ...pick(u, ['sub', 'email', 'email_verified', 'hd']) }),
    accessToken: () => `ya29.${random()}`,
    userinfo: (u) => pick(u, ['sub', 'name', 'email', 'email_verified', 'hd']),
  });
  return { google };
}

function entraPersonas({ sign, newKey, random, now, CLIENT, at, named, pick }) {
  // Microsoft Entra ID (v2.0): https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc
  // (multi-tenant discovery names "https://login.microsoftonline.com/{tenantid}/v2.0"; validate
  // iss per tenant), id-token-claims-reference (tid, oid, groups, _claim_names/_claim_sources on
  // overage past 200 groups), userinfo on graph.microsoft.com/oidc/userinfo, Graph
  // directoryobject-getmemberobjects.
  const eBase = at('entra.login');
  const graph = named('graph.microsoft.test', 'entra.graph');
  const many = Array.from({ length: 210 }, (_, i) => `bbbbbbbb-0000-4000-8000-${String(i).padStart(12, '0')}`);
  const entra = persona('entra', {
    issuer: `${eBase}/organizations/v2.0`,
    keys: [newKey('e1')],
    users: {
      adele: { tid: TENANT_A, oid: 'o-adele', name: 'Adele Vance', preferred_username: 'adele@contoso.test', groups: [G_ADMINS, G_DEV] },
      olga: { tid: TENANT_A, oid: 'o-olga', name: 'Olga Overage', preferred_username: 'olga@contoso.test', overage: true, graphGroups: [G_ADMINS, G_DEV, ...many] },
      otto: { tid: TENANT_B, oid: 'o-otto', name: 'Otto Other', preferred_username: 'otto@fabrikam.test', groups: [G_ADMINS] },
    },
    routes: [
      ['entra.login', 'GET', '/organizations/v2.0/.well-known/openid-configuration', 'discovery'],
      ['entra.login', 'GET', '/organizations/oauth2/v2.0/authorize', 'authorize'],
      ['entra.login', 'POST', '/organizations/oauth2/v2.0/token', 'token'],
      ['entra.login', 'GET', '/organizations/discovery/v2.0/keys', 'jwks'],
      ['entra.graph', 'GET', '/oidc/userinfo', 'userinfo', 'graph.microsoft.test'],
      ['entra.graph', 'POST', '/v1.0/me/getMemberObjects', 'graph', 'graph.microsoft.test'],
    ],
    discovery: () => ({
      issuer: `${eBase}/{tenantid}/v2.0`,
      authorization_endpoint: `${eBase}/organizations/oauth2/v2.0/authorize`,
      token_endpoint: `${eBase}/organizations/oauth2/v2.0/token`,
      jwks_uri: `${eBase}/organizations/discovery/v2.0/keys`,
      userinfo_endpoint: `${graph}/oidc/userinfo`,
      end_session_endpoint: `${eBase}/organizations/oauth2/v2.0/logout`,
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      subject_types_supported: ['pairwise'], id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'], tenant_region_scope: null,
    }),
    idClaims: (u) => ({
      iss: `${eBase}/${u.tid}/v2.0`, ver: '2.0', sub: `sub-${u.oid}`, ...pick(u, ['tid', 'oid', 'name', 'preferred_username']),
      ...(u.overage
        ? { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: `https://graph.windows.net/${u.tid}/users/${u.oid}/getMemberObjects` } } }
        : { groups: u.groups }),
    }),
    // An access token for Graph: a JWT the app must not validate; opaque here.
    accessToken: () => `eyJ0eXAi.graph.${random()}`,
    userinfo: (u) => ({ sub: `sub-${u.oid}`, name: u.name, family_name: u.name.split(' ')[1], given_name: u.name.split(' ')[0], picture: `${graph}/v1.0/me/photo/$value` }),
  });
  return { entra };
}

function oktaPersonas({ sign, newKey, random, now, CLIENT, at, named, pick }) {
  // Okta: https://developer.okta.com/docs/concepts/auth-servers/ (org server at the domain,
  // custom servers at /oauth2/<id>, "default" with aud api://default; org-server access tokens
  // "can't be validated locally": introspect them) and /oauth2/v1/introspect.
  const oBase = at('okta');
  const okta = persona('okta', {
    issuer: oBase,
    keys: [newKey('okta-org')],
    hiddenKey: newKey('okta-org-at'),
    users: { olivia: { sub: '00u1', email: 'olivia@example.com' } },
    routes: [
      ['okta', 'GET', '/.well-known/openid-configuration', 'discovery'],
      ['okta', 'GET', '/oauth2/v1/keys', 'jwks'],
      ['okta', 'POST', '/oauth2/v1/introspect', 'introspect'],
    ],
    discovery: () => ({
      issuer: oBase, authorization_endpoint: `${oBase}/oauth2/v1/authorize`, token_endpoint: `${oBase}/oauth2/v1/token`,
      userinfo_endpoint: `${oBase}/oauth2/v1/userinfo`, jwks_uri: `${oBase}/oauth2/v1/keys`,
      introspection_endpoint: `${oBase}/oauth2/v1/introspect`, end_session_endpoint: `${oBase}/oauth2/v1/logout`,
      response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'],
    }),
    idClaims: (u) => ({ iss: oBase, ...u }), accessToken: () => random(), userinfo: (u) => u,
  });
  const oktaDefault = persona('okta-default', {
    issuer: `${oBase}/oauth2/default`,
    keys: [newKey('okta-default')],
    users: { olivia: { sub: '00u1' } },
    routes: [
      ['okta', 'GET', '/oauth2/default/.well-known/openid-configuration', 'discovery'],
      ['okta', 'GET', '/oauth2/default/v1/keys', 'jwks'],
    ],
    discovery: () => ({
      issuer: `${oBase}/oauth2/default`, authorization_endpoint: `${oBase}/oauth2/default/v1/authorize`,
      token_endpoint: `${oBase}/oauth2/default/v1/token`, jwks_uri: `${oBase}/oauth2/default/v1/keys`,
      introspection_endpoint: `${oBase}/oauth2/default/v1/introspect`, response_types_supported: ['code'],
      subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'],
    }),
    idClaims: (u) => u, accessToken: () => random(), userinfo: (u) => u,
  });
  return { okta, 'okta-default': oktaDefault };
}

function auth0Personas({ sign, newKey, random, now, CLIENT, at, named, pick }) {
  // Auth0: https://auth0.com/docs/secure/tokens/access-tokens (opaque unless the authorize
  // request names an audience; then a JWT whose aud holds the API and /userinfo),
  // .../create-namespaced-custom-claims, https://auth0.com/docs/api/authentication#logout
  // (GET /v2/logout?client_id&returnTo). Discovery here lists no end_session_endpoint (a tenant
  // without RP-initiated logout enabled). The issuer ends with a slash.
  const zBase = at('auth0');
  const ns = 'https://example.com/roles';
  const auth0 = persona('auth0', {
    issuer: `${zBase}/`,
    keys: [newKey('z1')],
    logoutReturn: 'returnTo',
    users: {
      ann: { sub: 'auth0|ann', email: 'ann@example.com', email_verified: true, name: 'Ann', roles: ['admin'] },
      ben: { sub: 'auth0|ben', email: 'ben@example.com', email_verified: true, name: 'Ben', roles: ['viewer'] },
    },
    routes: [
      ['auth0', 'GET', '/.well-known/openid-configuration', 'discovery'],
      ['auth0', 'GET', '/.well-known/jwks.json', 'jwks'],
      ['auth0', 'GET', '/authorize', 'authorize'],
      ['auth0', 'POST', '/oauth/token', 'token'],
      ['auth0', 'GET', '/userinfo', 'userinfo'],
      ['auth0', 'GET', '/v2/logout', 'logout'],
    ],
    discovery: () => ({
      issuer: `${zBase}/`, authorization_endpoint: `${zBase}/authorize`, token_endpoint: `${zBase}/oauth/token`,
      userinfo_endpoint: `${zBase}/userinfo`, jwks_uri: `${zBase}/.well-known/jwks.json`,
      response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['HS256', 'RS256'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    }),
    idClaims: (u) => ({ iss: `${zBase}/`, ...pick(u, ['sub', 'email', 'email_verified', 'name']), [ns]: u.roles }),
    accessToken: (u, grant) => (grant.params.audience
      ? sign(auth0.keys[0], { iss: `${zBase}/`, sub: u.sub, aud: [grant.params.audience, `${zBase}/userinfo`], azp: CLIENT.id, scope: grant.scope, iat: now(), exp: now() + 3600, [ns]: u.roles })
      : random(24)),
    userinfo: (u) => ({ ...pick(u, ['sub', 'email', 'email_verified', 'name']), [ns]: u.roles }),
  });
  return { auth0 };
}

function keycloakPersonas({ sign, newKey, random, now, CLIENT, at, named, pick }) {
  // Keycloak: https://www.keycloak.org/docs/latest/server_admin/ (realm issuer /realms/<realm>,
  // endpoints under /protocol/openid-connect/, realm_access.roles and resource_access.<client>.roles
  // from the "roles" client scope, the "typ" claim ID / Bearer / Refresh, aud "account" until an
  // audience mapper is added). Here the realm-roles mapper also adds the roles to the ID token.
  const kRealm = `${at('keycloak')}/realms/demo`;
  const kOidc = `${kRealm}/protocol/openid-connect`;
  const keycloak = persona('keycloak', {
    issuer: kRealm,
    keys: [newKey('kc1')],
    users: {
      kim: { sub: 'f3b2-kim', preferred_username: 'kim', email: 'kim@example.com', email_verified: true, realm: ['admin', 'user'], client: ['editor'] },
      karl: { sub: 'f3b2-karl', preferred_username: 'karl', email: 'karl@example.com', email_verified: true, realm: ['user'], client: [] },
    },
    routes: [
      ['keycloak', 'GET', '/realms/demo/.well-known/openid-configuration', 'discovery'],
      ['keycloak', 'GET', '/realms/demo/protocol/openid-connect/auth', 'authorize'],
      ['keycloak', 'POST', '/realms/demo/protocol/openid-connect/token', 'token'],
      ['keycloak', 'GET', '/realms/demo/protocol/openid-connect/userinfo', 'userinfo'],
      ['keycloak', 'GET', '/realms/demo/protocol/openid-connect/certs', 'jwks'],
    ],
    discovery: () => ({
      issuer: kRealm, authorization_endpoint: `${kOidc}/auth`, token_endpoint: `${kOidc}/token`,
      userinfo_endpoint: `${kOidc}/userinfo`, jwks_uri: `${kOidc}/certs`, end_session_endpoint: `${kOidc}/logout`,
      introspection_endpoint: `${kOidc}/token/introspect`, response_types_supported: ['code'],
      subject_types_supported: ['public', 'pairwise'], id_token_signing_alg_values_supported: ['RS256'],
    }),
    idClaims: (u) => ({ iss: kRealm, typ: 'ID', azp: CLIENT.id, sid: random(8), ...pick(u, ['sub', 'preferred_username', 'email', 'email_verified']),
      realm_access: { roles: u.realm }, resource_access: { [CLIENT.id]: { roles: u.client } } }),
    accessToken: (u) => sign(keycloak.keys[0], { iss: kRealm, typ: 'Bearer', aud: 'account', azp: CLIENT.id, sub: u.sub, iat: now(), exp: now() + 300, realm_access: { roles: u.realm } }),
    userinfo: (u) => pick(u, ['sub', 'preferred_username', 'email', 'email_verified']),
  });
  return { keycloak };
}

function cognitoPersonas({ sign, newKey, random, now, CLIENT, at, named, pick }) {
  // AWS Cognito user pools: https://docs.aws.amazon.com/cognito/latest/developerguide/ (issuer
  // https://cognito-idp.<region>.amazonaws.com/<pool id>; the OAuth endpoints on the pool's
  // domain <prefix>.auth.<region>.amazoncognito.com: /oauth2/authorize, /oauth2/token,
  // /oauth2/userInfo, /logout?client_id&logout_uri; access tokens carry client_id and
  // token_use "access" and no aud, ID tokens token_use "id"; groups in cognito:groups). Its
  // discovery document lists no end_session_endpoint.
  const cIssuer = `${at('cognito.idp')}/us-east-1_Example`;
  const cDomain = at('cognito.auth');
  const cognito = persona('cognito', {
    issuer: cIssuer,
    keys: [newKey('cg1')],
    logoutReturn: 'logout_uri',
    users: { carl: { sub: '4a1b6f0e-carl', 'cognito:username': 'carl', email: 'carl@example.com', email_verified: true, groups: ['ops'] } },
    routes: [
      ['cognito.idp', 'GET', '/us-east-1_Example/.well-known/openid-configuration', 'discovery'],
      ['cognito.idp', 'GET', '/us-east-1_Example/.well-known/jwks.json', 'jwks'],
      ['cognito.auth', 'GET', '/oauth2/authorize', 'authorize'],
      ['cognito.auth', 'POST', '/oauth2/token', 'token'],
      ['cognito.auth', 'GET', '/oauth2/userInfo', 'userinfo'],
      ['cognito.auth', 'GET', '/logout', 'logout'],
    ],
    discovery: () => ({
      issuer: cIssuer, authorization_endpoint: `${cDomain}/oauth2/authorize`, token_endpoint: `${cDomain}/oauth2/token`,
      userinfo_endpoint: `${cDomain}/oauth2/userInfo`, jwks_uri: `${cIssuer}/.well-known/jwks.json`,
      response_types_supported: ['code', 'token'], subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'], scopes_supported: ['openid', 'email', 'phone', 'profile'],
    }),
    idClaims: (u) => ({ iss: cIssuer, token_use: 'id', auth_time: now(), 'cognito:groups': u.groups, ...pick(u, ['sub', 'cognito:username', 'email', 'email_verified']) }),
    accessToken: (u, grant) => sign(cognito.keys[0], { iss: cIssuer, sub: u.sub, client_id: CLIENT.id, token_use: 'access', scope: grant.scope, auth_time: now(), iat: now(), exp: now() + 3600, jti: random(8), username: u['cognito:username'], 'cognito:groups': u.groups }),
    userinfo: (u) => ({ ...pick(u, ['sub', 'email', 'email_verified']), username: u['cognito:username'] }),
  });
  return { cognito };
}

function dexPersonas({ sign, newKey, random, now, CLIENT, at, named, pick }) {
  // Dex: https://dexidp.io/docs/configuration/custom-scopes-claims-clients/ (groups only with
  // the "groups" scope, federated_claims {connector_id, user_id} only with "federated:id"),
  // issuer with a path (Kubeflow's http://dex.auth.svc.cluster.local:5556/dex).
  const dIssuer = `${at('dex')}/dex`;
  const dex = persona('dex', {
    issuer: dIssuer,
    keys: [newKey('dx1')],
    users: { dana: { sub: 'CgQxMjM0EgZnaXRodWI', email: 'dana@example.com', email_verified: true, name: 'Dana', groups: ['kubeflow:admins'], connector_id: 'github', user_id: '1234' } },
    routes: [
      ['dex', 'GET', '/dex/.well-known/openid-configuration', 'discovery'],
      ['dex', 'GET', '/dex/auth', 'authorize'],
      ['dex', 'POST', '/dex/token', 'token'],
      ['dex', 'GET', '/dex/keys', 'jwks'],
      ['dex', 'GET', '/dex/userinfo', 'userinfo'],
    ],
    discovery: () => ({
      issuer: dIssuer, authorization_endpoint: `${dIssuer}/auth`, token_endpoint: `${dIssuer}/token`, jwks_uri: `${dIssuer}/keys`,
      userinfo_endpoint: `${dIssuer}/userinfo`, response_types_supported: ['code'], subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'], scopes_supported: ['openid', 'email', 'groups', 'profile', 'offline_access'],
      code_challenge_methods_supported: ['S256', 'plain'],
    }),
    idClaims: (u, grant) => {
      const scopes = grant.scope.split(' ');
      return { iss: dIssuer, ...pick(u, ['sub', 'email', 'email_verified', 'name']),
        ...(scopes.includes('groups') ? { groups: u.groups } : {}),
        ...(scopes.includes('federated:id') ? { federated_claims: { connector_id: u.connector_id, user_id: u.user_id } } : {}) };
    },
    accessToken: () => random(),
    userinfo: (u) => pick(u, ['sub', 'email', 'email_verified', 'name']),
  });
  return { dex };
}

function gitlabPersonas({ sign, newKey, random, now, CLIENT, at, named, pick }) {
  // GitLab: https://docs.gitlab.com/integration/openid_connect_provider/ (the ID token has
  // groups_direct; userinfo has groups, every group with its parents, with the openid scope).
  const lBase = at('gitlab');
  const gitlab = persona('gitlab', {
    issuer: lBase,
    keys: [newKey('gl1')],
    users: { gus: { sub: '42', nickname: 'gus', email: 'gus@example.com', email_verified: true, direct: ['acme/dev'], all: ['acme', 'acme/dev', 'acme/ops'] } },
    routes: [
      ['gitlab', 'GET', '/.well-known/openid-configuration', 'discovery'],
      ['gitlab', 'GET', '/oauth/authorize', 'authorize'],
      ['gitlab', 'POST', '/oauth/token', 'token'],
      ['gitlab', 'GET', '/oauth/userinfo', 'userinfo'],
      ['gitlab', 'GET', '/oauth/discovery/keys', 'jwks'],
    ],
    discovery: () => ({
      issuer: lBase, authorization_endpoint: `${lBase}/oauth/authorize`, token_endpoint: `${lBase}/oauth/token`,
      userinfo_endpoint: `${lBase}/oauth/userinfo`, jwks_uri: `${lBase}/oauth/discovery/keys`,
      response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['api', 'read_user', 'openid', 'profile', 'email'],
    }),
    idClaims: (u) => ({ iss: lBase, sub: u.sub, nickname: u.nickname, email: u.email, email_verified: u.email_verified, groups_direct: u.direct }),
    accessToken: () => random(32),
    userinfo: (u) => ({ sub: u.sub, nickname: u.nickname, preferred_username: u.nickname, email: u.email, email_verified: u.email_verified, groups: u.all }),
  });
  return { gitlab };
}

export function personas(port, tools) {
  const ctx = context(port, tools);
  return Object.assign({}, ...[googlePersonas, entraPersonas, oktaPersonas, auth0Personas, keycloakPersonas,
    cognitoPersonas, dexPersonas, gitlabPersonas].map((build) => build(ctx)));
}
