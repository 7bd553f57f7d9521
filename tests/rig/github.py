"""A GitHub-shaped OAuth app server: the web flow of an OAuth app and the REST endpoints that
"sign in with GitHub" reads, answering as GitHub's documentation says GitHub answers.

Usage:
  python3 github.py --port N --client-id ID --client-secret S --redirect-uri URI [--redirect-uri URI2]
                    [--user octocat-member] [--api-prefix /api/v3] [--code-ttl 600]
                    [--redirect-match subdirectory|exact]
Prints "github ready http://127.0.0.1:<port>" when listening on 127.0.0.1, then one line a request.

One server answers both hosts: the web host's /login/oauth/authorize and /login/oauth/access_token,
and the API host's /user, /user/emails, /user/orgs, /user/teams (github.com's api.github.com is a
separate host; here the product reaches both through its host->cluster map). With --api-prefix
/api/v3 the API answers only under that prefix and the web paths stay where they are, as GitHub
Enterprise Server lays them out (web https://HOST, API https://HOST/api/v3).

Sources (GitHub's docs, as stored in github/docs):
- web flow, parameters, PKCE, code lifetime, response formats, redirect URL rules, loopback rule:
  https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
- token errors (HTTP 200 with an error field): .../maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors
- authorize errors (redirect with error=...): .../maintaining-oauth-apps/troubleshooting-authorization-request-errors
- scopes, normalisation, X-OAuth-Scopes / X-Accepted-OAuth-Scopes:
  https://docs.github.com/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps
- endpoints: https://docs.github.com/rest/users/users#get-the-authenticated-user,
  https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user,
  https://docs.github.com/rest/orgs/orgs#list-organizations-for-the-authenticated-user,
  https://docs.github.com/rest/teams/teams#list-teams-for-the-authenticated-user
- pagination and the link header: https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api
- User-Agent required, 404 for insufficient scopes, unsupported API version:
  https://docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api
Where GitHub documents nothing, the choice made here is marked "UNDOCUMENTED" below.

Test-only routes (not GitHub's): POST /__test/user {"login": "..."} or {"deny": true|false};
GET /__test/user; GET /__test/stats (request counts per route); DELETE /__test/stats (reset).
"""
import argparse
import base64
import hashlib
import json
import secrets
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit
from xml.sax.saxutils import escape as xml_escape

# ---------------------------------------------------------------- fixed data

USERS = {
    "octocat-member": {
        "id": 1001, "name": "Mona Member", "company": "Flipt", "location": "Remote",
        "public_email": None,  # no public email: the address is only in /user/emails
        # Order on purpose: GitHub does not promise the primary first.
        "emails": [
            {"email": "mona-old@flipt.example", "primary": False, "verified": False, "visibility": None},
            {"email": "1001+octocat-member@users.noreply.github.com", "primary": False, "verified": True,
             "visibility": None},
            {"email": "mona@flipt.example", "primary": True, "verified": True, "visibility": "private"},
        ],
        # (org login, public membership?)
        "orgs": [("flipt-io", True), ("other-org", False)],
        "teams": [("flipt-io", "maintainers"), ("other-org", "readers")],
    },
    "outsider": {
        "id": 1002, "name": "Oscar Outsider", "company": None, "location": None,
        "public_email": "oscar@outsider.example",
        "emails": [
            {"email": "oscar@outsider.example", "primary": True, "verified": True, "visibility": "public"},
        ],
        "orgs": [("some-other-org", True)],
        # Same slug as flipt-io's team, other org: a check on the slug alone would let him in.
        "teams": [("some-other-org", "maintainers")],
    },
    "unverified": {
        "id": 1003, "name": "Una Verified", "company": None, "location": None, "public_email": None,
        "emails": [
            {"email": "una@unverified.example", "primary": True, "verified": False, "visibility": "private"},
        ],
        "orgs": [], "teams": [],
    },
}
ORGS = {
    "flipt-io": {"id": 2001, "description": "Flipt"},
    "other-org": {"id": 2002, "description": None},
    "some-other-org": {"id": 2003, "description": "Somewhere else"},
}
TEAMS = {
    ("flipt-io", "maintainers"): {"id": 3001, "name": "Maintainers", "description": "Flipt maintainers",
                                  "privacy": "closed", "permission": "push"},
    ("other-org", "readers"): {"id": 3002, "name": "Readers", "description": None,
                               "privacy": "secret", "permission": "pull"},
    ("some-other-org", "maintainers"): {"id": 3003, "name": "Maintainers", "description": None,
                                        "privacy": "closed", "permission": "admin"},
}

# The scopes GitHub lists ("Available scopes") and what each one includes ("Normalized scopes").
SCOPE_CHILDREN = {
    "repo": ["repo:status", "repo_deployment", "public_repo", "repo:invite", "security_events"],
    "admin:repo_hook": ["write:repo_hook", "read:repo_hook"], "write:repo_hook": ["read:repo_hook"],
    "admin:org": ["write:org", "read:org"], "write:org": ["read:org"],
    "admin:public_key": ["write:public_key", "read:public_key"], "write:public_key": ["read:public_key"],
    "admin:gpg_key": ["write:gpg_key", "read:gpg_key"], "write:gpg_key": ["read:gpg_key"],
    "user": ["read:user", "user:email", "user:follow"],
    "project": ["read:project"],
    "admin:enterprise": ["manage_runners:enterprise", "manage_billing:enterprise", "read:enterprise"],
}
KNOWN_SCOPES = set(SCOPE_CHILDREN) | {c for cs in SCOPE_CHILDREN.values() for c in cs} | {
    "admin:org_hook", "gist", "notifications", "delete_repo", "write:packages", "read:packages",
    "delete:packages", "codespace", "workflow", "read:audit_log", "site_admin"}

DOCS = "https://docs.github.com"
TOKEN_ERRORS = {
    "incorrect_client_credentials": ("The client_id and/or client_secret passed are incorrect.",
                                     "#incorrect-client-credentials"),
    "redirect_uri_mismatch": ("The redirect_uri MUST match the registered callback URL for this application.",
                              "#redirect-uri-mismatch2"),
    "bad_verification_code": ("The code passed is incorrect or expired.", "#bad-verification-code"),
    "unverified_user_email": ("The user must have a verified primary email.", "#unverified_user_email"),
}
TOKEN_ERRORS_PAGE = DOCS + "/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"
AUTHZ_ERRORS_PAGE = DOCS + "/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/"
BASE62 = string.ascii_letters + string.digits
LOOPBACK = {"127.0.0.1", "::1", "[::1]"}


def expand_scopes(scopes):
    out, todo = set(), list(scopes)
    while todo:
        s = todo.pop()
        if s not in out:
            out.add(s)
            todo.extend(SCOPE_CHILDREN.get(s, []))
    return out


def normalize_scopes(raw):
    """Space-delimited (GitHub also takes commas). Unknown names are dropped (UNDOCUMENTED choice);
    scopes included by another requested scope are discarded, as "Normalized scopes" says."""
    names = {s for s in raw.replace(",", " ").split() if s in KNOWN_SCOPES}
    implied = set()
    for s in names:
        implied |= expand_scopes([s]) - {s}
    return sorted(names - implied)


def s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def split_url(u):
    p = urlsplit(u)
    host = (p.hostname or "").lower()
    port = p.port or {"http": 80, "https": 443}.get(p.scheme)
    return p.scheme, host, port, p.path or "/"


# ---------------------------------------------------------------- state


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.current_user = args.user
        self.deny = False
        self.codes = {}    # code -> grant
        self.tokens = {}   # token -> {"login", "scopes"}
        self.authorized = {}  # (login, client_id) -> set of scopes the user granted before
        self.reset_stats()

    def reset_stats(self):
        self.routes, self.paths, self.last = {}, {}, {}

    def count(self, route, path):
        with self.lock:
            self.routes[route] = self.routes.get(route, 0) + 1
            self.paths[path] = self.paths.get(path, 0) + 1


def redirect_ok(registered, requested, mode):
    """The rules of "Redirect URLs": host (excluding sub-domains) and port must match exactly, the
    path must be the callback's path or a subdirectory of it; a loopback redirect_uri need not match
    the callback's port ("Loopback redirect urls"). mode "exact" models wildcard matching turned off."""
    if mode == "exact":
        return registered == requested
    rs, rh, rp, rpath = split_url(registered)
    qs, qh, qp, qpath = split_url(requested)
    if rs != qs:  # UNDOCUMENTED: the scheme is taken to have to match
        return False
    if not (qh == rh or (qh.endswith("." + rh) and rh not in LOOPBACK)):
        return False
    if qp != rp and not (qh in LOOPBACK and rh in LOOPBACK):
        return False
    base = rpath.rstrip("/")
    return qpath == rpath or qpath.startswith(base + "/")


# ---------------------------------------------------------------- HTTP


class GitHub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State = None

    # -------- plumbing

    def _body(self):
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body=b"", ctype=None, headers=(), close=False):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        print(f"github {self.command} {urlsplit(self.path).path} -> {status}", flush=True)

    def _json(self, status, obj, headers=()):
        self._send(status, json.dumps(obj, indent=2).encode(), "application/json; charset=utf-8", headers)

    def _html(self, status, text):
        self._send(status, f"<!DOCTYPE html><html><body><h1>{text}</h1></body></html>".encode(),
                   "text/html; charset=utf-8")

    def log_message(self, *args):
        pass

    def _host(self):
        return self.headers.get("host") or f"127.0.0.1:{self.server.server_address[1]}"

    def _web_base(self):
        return f"http://{self._host()}"

    def _api_base(self):
        return self._web_base() + self.state.args.api_prefix

    def _docs(self, anchor_path):
        a = self.state.args
        if a.api_prefix:
            major_minor = ".".join(a.ghes_version.split(".")[:2])
            return f"{DOCS}/enterprise-server@{major_minor}/rest{anchor_path}"
        return f"{DOCS}/rest{anchor_path}"

    # -------- dispatch

    def _dispatch(self):
        url = urlsplit(self.path)
        path = url.path
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if path.startswith("/__test/"):
            return self._test_route(path)
        if path == "/login/oauth/authorize" and self.command in ("GET", "HEAD"):
            self.state.count("GET /login/oauth/authorize", path)
            return self._authorize(query)
        if path == "/login/oauth/access_token" and self.command == "POST":
            self.state.count("POST /login/oauth/access_token", path)
            return self._access_token(query)
        prefix = self.state.args.api_prefix
        if prefix and not (path == prefix or path.startswith(prefix + "/")):
            self.state.count(f"{self.command} (unknown)", path)
            return self._html(404, "Not Found")
        return self._api(path[len(prefix):] or "/", query, url.query)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = lambda self: self._dispatch()

    # -------- test routes (not GitHub's)

    def _test_route(self, path):
        st = self.state
        if path == "/__test/user" and self.command == "POST":
            try:
                req = json.loads(self._body() or b"{}")
            except ValueError:
                return self._json(400, {"message": "Problems parsing JSON"})
            with st.lock:
                if "login" in req:
                    if req["login"] not in USERS:
                        return self._json(422, {"message": f"unknown user {req['login']!r}", "known": list(USERS)})
                    st.current_user = req["login"]
                if "deny" in req:
                    st.deny = bool(req["deny"])
                return self._json(200, {"login": st.current_user, "deny": st.deny})
        if path == "/__test/user" and self.command == "GET":
            return self._json(200, {"login": st.current_user, "deny": st.deny})
        if path == "/__test/stats" and self.command == "GET":
            with st.lock:
                return self._json(200, {"routes": st.routes, "paths": st.paths, "last": st.last,
                                        "user": st.current_user})
        if path == "/__test/stats" and self.command == "DELETE":
            with st.lock:
                st.reset_stats()
            return self._json(200, {"reset": True})
        return self._json(404, {"message": "no such test route"})

    # -------- web: authorize

    def _authorize(self, q):
        st, a = self.state, self.state.args
        with st.lock:
            st.last["authorize"] = q
        if q.get("client_id") != a.client_id:
            # UNDOCUMENTED: github.com shows an HTML 404 page for an unknown client_id.
            return self._html(404, "Not Found")
        state = q.get("state")
        requested = q.get("redirect_uri")
        if requested is not None and not any(redirect_ok(r, requested, a.redirect_match) for r in a.redirect_uri):
            # "GitHub will redirect to the registered callback URL" with the error.
            return self._redirect_error(a.redirect_uri[0], "redirect_uri_mismatch",
                                        "The redirect_uri MUST match the registered callback URL for this application.",
                                        "#redirect-uri-mismatch", state)
        redirect_uri = requested if requested is not None else a.redirect_uri[0]
        challenge, method = q.get("code_challenge"), q.get("code_challenge_method")
        if challenge is not None or method is not None:
            # Documented: each "Required if" the other is included; method "Must be S256 - the plain code
            # challenge method is not supported"; challenge "Must be a 43 character SHA-256 hash".
            # UNDOCUMENTED: how GitHub reports a breach; here, error=invalid_request on the redirect_uri.
            problem = None
            if challenge is None:
                problem = "code_challenge is required when code_challenge_method is included"
            elif method is None:
                problem = "code_challenge_method is required when code_challenge is included"
            elif method != "S256":
                problem = "code_challenge_method must be S256"
            elif len(challenge) != 43:
                problem = "code_challenge must be 43 characters"
            if problem:
                return self._redirect_error(redirect_uri, "invalid_request", problem, "", state)
        with st.lock:
            login, deny = st.current_user, st.deny
        if deny:
            return self._redirect_error(redirect_uri, "access_denied", "The user has denied your application access.",
                                        "#access-denied", state)
        # "If not provided, scope defaults to an empty list for users that have not authorized any scopes";
        # a user who authorized scopes before gets those (the union of earlier grants).
        with st.lock:
            before = st.authorized.get((login, a.client_id), set())
            scopes = normalize_scopes(q["scope"]) if "scope" in q else normalize_scopes(" ".join(before))
            st.authorized[(login, a.client_id)] = set(normalize_scopes(" ".join(before | set(scopes))))
            code = secrets.token_hex(10)  # GitHub's codes are 20 hex characters
            st.codes[code] = {"login": login, "client_id": a.client_id, "scopes": scopes,
                              "redirect_uri": requested, "challenge": challenge,
                              "expires": time.monotonic() + a.code_ttl}
        params = {"code": code}
        if state is not None:
            params["state"] = state
        self._send(302, headers=[("Location", self._with_query(redirect_uri, params))])

    @staticmethod
    def _with_query(url, params):
        return url + ("&" if "?" in url else "?") + urlencode(params)

    def _redirect_error(self, redirect_uri, error, description, anchor, state):
        params = {"error": error, "error_description": description}
        if anchor:
            params["error_uri"] = AUTHZ_ERRORS_PAGE + anchor
        if state is not None:
            params["state"] = state
        self._send(302, headers=[("Location", self._with_query(redirect_uri, params))])

    # -------- web: access_token

    def _access_token(self, query):
        st, a = self.state, self.state.args
        raw = self._body()
        params = dict(query)  # GitHub takes the parameters in the query string as well as the body
        ctype = (self.headers.get("content-type") or "").lower()
        if raw:
            if "json" in ctype:
                try:
                    params.update({k: str(v) for k, v in json.loads(raw).items()})
                except (ValueError, AttributeError):
                    pass
            else:
                params.update(dict(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True)))
        with st.lock:
            st.last["access_token"] = {k: ("<redacted>" if k == "client_secret" else v) for k, v in params.items()}
        accept = (self.headers.get("accept") or "").lower()
        fmt = "json" if "application/json" in accept else "xml" if "application/xml" in accept else "form"

        if params.get("client_id") != a.client_id or params.get("client_secret") != a.client_secret:
            return self._token_reply(fmt, error="incorrect_client_credentials")
        grant_type = params.get("grant_type")
        if grant_type not in (None, "authorization_code"):
            # UNDOCUMENTED for the web flow; refresh tokens and the device flow are not modelled here.
            return self._token_reply(fmt, error="unsupported_grant_type",
                                     description="Only the web application flow is modelled.")
        requested = params.get("redirect_uri")
        if requested is not None and not any(redirect_ok(r, requested, a.redirect_match) for r in a.redirect_uri):
            return self._token_reply(fmt, error="redirect_uri_mismatch")
        with st.lock:
            grant = st.codes.pop(params.get("code", ""), None)  # single use: gone whatever happens next
        if grant is None or grant["expires"] < time.monotonic() or grant["client_id"] != params.get("client_id"):
            return self._token_reply(fmt, error="bad_verification_code")
        if requested is not None and grant["redirect_uri"] is not None and requested != grant["redirect_uri"]:
            # "We can use this to match against the URI originally provided when the code was issued".
            # UNDOCUMENTED which error: redirect_uri_mismatch.
            return self._token_reply(fmt, error="redirect_uri_mismatch")
        if grant["challenge"] is not None:
            verifier = params.get("code_verifier")
            # UNDOCUMENTED: the error for a missing or wrong code_verifier; bad_verification_code chosen.
            if not verifier or s256(verifier) != grant["challenge"]:
                return self._token_reply(fmt, error="bad_verification_code")
        # (A code_verifier sent for a code issued without code_challenge is ignored: UNDOCUMENTED.)
        user = USERS[grant["login"]]
        if not any(e["primary"] and e["verified"] for e in user["emails"]):
            return self._token_reply(fmt, error="unverified_user_email")
        token = "gho_" + "".join(secrets.choice(BASE62) for _ in range(36))
        with st.lock:
            st.tokens[token] = {"login": grant["login"], "scopes": grant["scopes"]}
        self._token_reply(fmt, ok={"access_token": token, "token_type": "bearer",
                                   "scope": ",".join(grant["scopes"])})

    def _token_reply(self, fmt, ok=None, error=None, description=None):
        if ok is None:
            desc, anchor = TOKEN_ERRORS.get(error, (description, ""))
            ok = {"error": error, "error_description": description or desc}
            if anchor:
                ok["error_uri"] = TOKEN_ERRORS_PAGE + anchor
        # Errors too are HTTP 200, with an error field.
        if fmt == "json":
            return self._send(200, json.dumps(ok).encode(), "application/json; charset=utf-8")
        if fmt == "xml":
            inner = "".join(f"<{k}>{xml_escape(v)}</{k}>" for k, v in ok.items())
            return self._send(200, f"<OAuth>{inner}</OAuth>".encode(), "application/xml; charset=utf-8")
        return self._send(200, urlencode(ok).encode(), "application/x-www-form-urlencoded; charset=utf-8")

    # -------- API

    ACCEPTED = {  # X-Accepted-OAuth-Scopes per endpoint: UNDOCUMENTED values, built from each page's scope rule
        "/user": "",
        "/user/emails": "user, user:email",
        "/user/orgs": "admin:org, read:org, user, write:org",
        "/user/teams": "admin:org, read:org, repo, user, write:org",
    }

    def _api(self, path, query, raw_query):
        st, a = self.state, self.state.args
        route = f"{self.command} {path}" if path in self.ACCEPTED else f"{self.command} (unknown)"
        st.count(route, urlsplit(self.path).path)
        ua = self.headers.get("user-agent")
        with st.lock:
            st.last["api"] = {"user-agent": ua, "x-github-api-version": self.headers.get("x-github-api-version"),
                              "accept": self.headers.get("accept")}
        if not ua or not ua.strip():
            # Documented example: 403, text/html, "Request forbidden by administrative rules. ..."
            return self._send(403, (b"Request forbidden by administrative rules. Please make sure your request has "
                                    b"a User-Agent header (" + self._docs("/overview/resources-in-the-rest-api"
                                                                          "#user-agent-required").encode()
                                    + b"). Check https://developer.github.com for other possible causes.\n"),
                              "text/html; charset=utf-8", close=True)
        common = [("X-GitHub-Media-Type", "github.v3; format=json"),
                  ("X-GitHub-Api-Version-Selected", "2022-11-28")]
        if a.api_prefix:
            common.append(("X-GitHub-Enterprise-Version", a.ghes_version))
        version = self.headers.get("x-github-api-version")
        if version is not None and version not in ("2022-11-28", "2026-03-10"):
            # Documented: 400 and a message about the version; the wording is UNDOCUMENTED.
            return self._json(400, {"message": f"API version '{version}' is not supported.",
                                    "documentation_url": self._docs("/overview/api-versions"), "status": "400"},
                              common)
        if path not in self.ACCEPTED or self.command not in ("GET", "HEAD"):
            return self._json(404, {"message": "Not Found", "documentation_url": self._docs(""), "status": "404"},
                              common)
        doc = {"/user": "/users/users#get-the-authenticated-user",
               "/user/emails": "/users/emails#list-email-addresses-for-the-authenticated-user",
               "/user/orgs": "/orgs/orgs#list-organizations-for-the-authenticated-user",
               "/user/teams": "/teams/teams#list-teams-for-the-authenticated-user"}[path]
        auth = (self.headers.get("authorization") or "").strip()
        if not auth:
            return self._json(401, {"message": "Requires authentication", "documentation_url": self._docs(doc),
                                    "status": "401"}, common)
        scheme, _, token = auth.partition(" ")
        with st.lock:
            grant = st.tokens.get(token.strip()) if scheme.lower() in ("bearer", "token") else None
        if grant is None:
            return self._json(401, {"message": "Bad credentials", "documentation_url": DOCS + "/rest",
                                    "status": "401"}, common)
        have = expand_scopes(grant["scopes"])
        common += [("X-OAuth-Scopes", ", ".join(grant["scopes"])), ("X-Accepted-OAuth-Scopes", self.ACCEPTED[path])]
        login, user = grant["login"], USERS[grant["login"]]
        not_found = {"message": "Not Found", "documentation_url": self._docs(doc), "status": "404"}
        if path == "/user":
            return self._json(200, self._user_json(login, user, private="user" in have), common)
        if path == "/user/emails":
            if "user:email" not in have:  # 404 rather than 403 for a missing scope ("404 Not Found")
                return self._json(404, not_found, common)
            return self._page(path, query, raw_query, user["emails"], common)
        if path == "/user/orgs":
            if not ({"user", "read:org"} & have):
                # Documented 403; the message is the one GitHub sends (not on the docs page).
                return self._json(403, {"message": "You need at least read:org scope or user scope to list your "
                                                   "organizations.", "documentation_url": self._docs(doc),
                                        "status": "403"}, common)
            return self._page(path, query, raw_query, [self._org_json(o) for o, _public in user["orgs"]], common)
        if path == "/user/teams":
            if not ({"user", "repo", "read:org"} & have):
                # UNDOCUMENTED which of the listed 403/404: 404, as for any missing scope.
                return self._json(404, not_found, common)
            return self._page(path, query, raw_query, [self._team_json(o, s) for o, s in user["teams"]], common)

    def _page(self, path, query, raw_query, items, headers):
        def as_int(v, default):
            try:
                return int(v)
            except (TypeError, ValueError):
                return default
        per_page = min(max(as_int(query.get("per_page"), 30), 1), 100)
        page = max(as_int(query.get("page"), 1), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page: page * per_page]
        if len(items) > per_page:
            kept = [(k, v) for k, v in parse_qsl(raw_query, keep_blank_values=True) if k != "page"]
            url = lambda n: f"<{self._api_base()}{path}?{urlencode(kept + [('page', n)])}>"  # noqa: E731
            links = []
            if page > 1:
                links.append(f'{url(min(page - 1, last))}; rel="prev"')
            if page < last:
                links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
            if page > 1:
                links.append(f'{url(1)}; rel="first"')
            headers = headers + [("Link", ", ".join(links))]
        return self._json(200, chunk, headers)

    def _user_json(self, login, user, private):
        api, web = self._api_base(), self._web_base()
        u = {
            "login": login, "id": user["id"], "node_id": base64.b64encode(f"04:User{user['id']}".encode()).decode(),
            "avatar_url": f"{web}/avatars/u/{user['id']}?v=4", "gravatar_id": "",
            "url": f"{api}/users/{login}", "html_url": f"{web}/{login}",
            "followers_url": f"{api}/users/{login}/followers",
            "following_url": f"{api}/users/{login}/following{{/other_user}}",
            "gists_url": f"{api}/users/{login}/gists{{/gist_id}}",
            "starred_url": f"{api}/users/{login}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/users/{login}/subscriptions",
            "organizations_url": f"{api}/users/{login}/orgs", "repos_url": f"{api}/users/{login}/repos",
            "events_url": f"{api}/users/{login}/events{{/privacy}}",
            "received_events_url": f"{api}/users/{login}/received_events",
            "type": "User", "user_view_type": "private" if private else "public", "site_admin": False,
            "name": user["name"], "company": user["company"], "blog": "", "location": user["location"],
            "email": user["public_email"], "hireable": None, "bio": None, "twitter_username": None,
            "notification_email": user["public_email"],
            "public_repos": 2, "public_gists": 0, "followers": 3, "following": 1,
            "created_at": "2015-03-01T10:00:00Z", "updated_at": "2025-01-15T09:30:00Z",
        }
        if private:  # "OAuth with the user scope ... public and private profile information"
            u.update({"private_gists": 0, "total_private_repos": 1, "owned_private_repos": 1, "disk_usage": 1024,
                      "collaborators": 0, "two_factor_authentication": True,
                      "plan": {"name": "free", "space": 976562499, "private_repos": 10000, "collaborators": 0}})
        return u

    def _org_json(self, login):
        api, org = self._api_base(), ORGS[login]
        return {"login": login, "id": org["id"],
                "node_id": base64.b64encode(f"012:Organization{org['id']}".encode()).decode(),
                "url": f"{api}/orgs/{login}", "repos_url": f"{api}/orgs/{login}/repos",
                "events_url": f"{api}/orgs/{login}/events", "hooks_url": f"{api}/orgs/{login}/hooks",
                "issues_url": f"{api}/orgs/{login}/issues", "members_url": f"{api}/orgs/{login}/members{{/member}}",
                "public_members_url": f"{api}/orgs/{login}/public_members{{/member}}",
                "avatar_url": f"{self._web_base()}/avatars/u/{org['id']}?v=4", "description": org["description"]}

    def _team_json(self, org_login, slug):
        api, web, t = self._api_base(), self._web_base(), TEAMS[(org_login, slug)]
        org = ORGS[org_login]
        organization = dict(self._org_json(org_login), name=org_login, company=None, blog=None, location=None,
                            email=None, is_verified=False, has_organization_projects=True,
                            has_repository_projects=True, public_repos=3, public_gists=0, followers=0,
                            following=0, html_url=f"{web}/{org_login}", created_at="2019-01-01T00:00:00Z",
                            updated_at="2025-01-01T00:00:00Z", type="Organization")
        return {"id": t["id"], "node_id": base64.b64encode(f"04:Team{t['id']}".encode()).decode(),
                "url": f"{api}/organizations/{org['id']}/team/{t['id']}",
                "html_url": f"{web}/orgs/{org_login}/teams/{slug}", "name": t["name"], "slug": slug,
                "description": t["description"], "privacy": t["privacy"],
                "notification_setting": "notifications_enabled", "permission": t["permission"],
                "members_url": f"{api}/organizations/{org['id']}/team/{t['id']}/members{{/member}}",
                "repositories_url": f"{api}/organizations/{org['id']}/team/{t['id']}/repos", "parent": None,
                "members_count": 3, "repos_count": 2, "created_at": "2020-01-01T00:00:00Z",
                "updated_at": "2025-01-01T00:00:00Z", "organization": organization}


def main(argv=None):
    p = argparse.ArgumentParser(description="A GitHub-shaped OAuth app server for the test rig.")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--redirect-uri", action="append", required=True,
                   help="the app's callback URL; repeatable (an OAuth app has one, a GitHub App up to ten); "
                        "the first is used when the authorize request has no redirect_uri")
    p.add_argument("--user", default="octocat-member", choices=sorted(USERS),
                   help="the user signed in to the browser, who approves every authorize request")
    p.add_argument("--api-prefix", default="", help="e.g. /api/v3: GitHub Enterprise Server's API layout")
    p.add_argument("--ghes-version", default="3.17.0", help="X-GitHub-Enterprise-Version with --api-prefix")
    p.add_argument("--code-ttl", type=float, default=600.0, help="authorization code lifetime (GitHub: 10 minutes)")
    p.add_argument("--redirect-match", choices=("subdirectory", "exact"), default="subdirectory",
                   help="subdirectory: the documented OAuth app rule; exact: wildcard matching turned off")
    args = p.parse_args(argv)
    if args.api_prefix:
        args.api_prefix = "/" + args.api_prefix.strip("/")
    GitHub.state = State(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), GitHub)
    print(f"github ready http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
