"""An HTTP client that keeps cookies like a browser does on http://127.0.0.1.

Browsers treat loopback as a secure context: they store and send `Secure` (and
`__Host-`) cookies over plain http there. Python's cookie jar would not send them,
so this policy allows it, for 127.0.0.1 and localhost only. Redirects are followed
one hop at a time so tests can look at each.
"""
import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request

from .harness import Response

LOOPBACK = {"127.0.0.1", "localhost"}
NAVIGATE = {"accept": "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate"}


class LoopbackPolicy(http.cookiejar.DefaultCookiePolicy):
    def return_ok_secure(self, cookie, request):
        return urllib.parse.urlsplit(request.get_full_url()).hostname in LOOPBACK or super().return_ok_secure(cookie, request)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    def __init__(self):
        self.jar = http.cookiejar.CookieJar(policy=LoopbackPolicy())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, method, url, headers=None, body=None) -> Response:
        req = urllib.request.Request(url, data=body, method=method, headers={**NAVIGATE, **(headers or {})})
        try:
            with self.opener.open(req, timeout=20) as r:
                resp = Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
                resp.all_headers = [(k.lower(), v) for k, v in r.headers.items()]
        except urllib.error.HTTPError as e:
            resp = Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())
            resp.all_headers = [(k.lower(), v) for k, v in e.headers.items()]
        resp.url = url
        return resp

    def get(self, url, headers=None) -> Response:
        return self.request("GET", url, headers)

    def follow(self, url, headers=None, max_hops=15) -> list:
        """GETs `url` and follows redirects; returns every response, the last one last."""
        chain = []
        for _ in range(max_hops):
            r = self.get(url, headers)
            chain.append(r)
            if r.status not in (301, 302, 303, 307, 308):
                return chain
            url = urllib.parse.urljoin(url, r.headers["location"])
        raise AssertionError(f"more than {max_hops} redirects: {[c.url for c in chain]}")

    def follow_until(self, url, stop, max_hops=15) -> str:
        """Follows redirects from `url` until one points somewhere `stop(location)` accepts;
        returns that location without requesting it."""
        for _ in range(max_hops):
            r = self.get(url)
            assert r.status in (301, 302, 303, 307, 308), (url, r)
            url = urllib.parse.urljoin(url, r.headers["location"])
            if stop(url):
                return url
        raise AssertionError(f"no stop within {max_hops} redirects")

    def cookies(self) -> dict:
        return {c.name: c.value for c in self.jar}

    def set_cookie(self, name, value, host="127.0.0.1"):
        c = http.cookiejar.Cookie(0, name, value, None, False, host, False, False, "/", True, True, None, False, None, None, {})
        self.jar.set_cookie(c)

    def drop_cookie(self, name):
        for c in list(self.jar):
            if c.name == name:
                self.jar.clear(c.domain, c.path, c.name)
