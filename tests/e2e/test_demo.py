"""The README's demo, driven like a person would: open the page, get the IdP's login
form, sign in, see your name; then sign out."""
import re
import urllib.parse

from rig.browser import Browser
from rig.demo import Demo


def test_demo_login_form_shows_who_you_are(rig):
    demo = Demo(rig.log_dir / "demo", port=0, idp_port=0).start()
    rig.started.append(demo)
    try:
        b = Browser()
        url = b.follow_until(demo.url + "/", lambda u: "/interaction/" in u)
        form = b.get(url)
        assert form.status == 200 and b"Sign in" in form.body
        action = urllib.parse.urljoin(url, re.search(rb'action="([^"]+)"', form.body).group(1).decode())
        wrong = b.request("POST", action, {"content-type": "application/x-www-form-urlencoded"}, b"login=alice&password=nope")
        assert wrong.status == 200 and b"Wrong username or password" in wrong.body
        r = b.request("POST", action, {"content-type": "application/x-www-form-urlencoded"}, b"login=alice&password=alice")
        assert r.status in (302, 303)
        chain = b.follow(urllib.parse.urljoin(action, r.headers["location"]))
        page = chain[-1]
        assert page.status == 200 and page.url == demo.url + "/", [(c.status, c.url) for c in chain]
        assert b"Hello, Alice Example" in page.body and b"alice@example.com" in page.body
        # The API part of the demo: a client-credentials token works, no token gets 401.
        token = demo.idp.client_credentials(secret=demo.client_secret)
        api = Browser().get(demo.url + "/api/orders", {"authorization": f"Bearer {token}", "accept": "application/json"})
        assert api.status == 200 and api.json()["identity"]["x-user-id"] == "service"
        assert Browser().get(demo.url + "/api/orders", {"accept": "application/json"}).status == 401
        # The demo IdP has no test-only routes (no token minting).
        minted = Browser().request("POST", demo.idp.issuer + "/__test/sign", {"content-type": "application/json"}, b"{}")
        assert minted.status == 404
    finally:
        demo.stop()
