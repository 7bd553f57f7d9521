"""Runs the demo until Ctrl-C. See scripts/demo."""
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from rig.demo import Demo  # noqa: E402


def main():
    work = Path(tempfile.mkdtemp(prefix="oidc-gate-demo-"))
    demo = Demo(work).start()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        token = demo.idp.client_credentials(client="service", secret=demo.client_secret)
        print(f"""
oidc-gate demo is running (logs in {work})

Open {demo.url}/reports?year=2026 in a browser, and follow along:

  1. You land on the IdP's sign-in form (oidc-provider at {demo.idp.issuer}): the filter sent
     you there with state, nonce and a PKCE challenge, and kept where you were going in a
     sealed flow cookie. Sign in as alice / alice.
  2. You are back on /reports?year=2026, and the page says "Hello, Alice Example": the
     filter exchanged the code, checked the ID token, sealed your session in a cookie the
     app never sees, and told the app who you are in x-user-* headers (any x-user-* header
     a client sends is removed first).
  3. Open {demo.url}/admin: alice is in "admins", so it opens. Sign out
     ({demo.url}/oauth2/logout), sign in as bob / bob and open /admin again: a 403 page
     that says who is signed in, with a sign-out button. Nothing reached the app.
  4. Machines use tokens. With a fresh client-credentials token from the IdP (200):
       curl -s -H 'authorization: Bearer {token}' {demo.url}/api/orders
     Without one (401, a Bearer challenge, never a redirect):
       curl -si {demo.url}/api/orders
  5. The IdP down: stop it (kill {demo.idp.proc.pid}) and open the site in a private window:
     the "sign-in unavailable" page (503), not an error from Envoy. Signed-in tabs keep
     working from their session.

Counters: http://127.0.0.1:{demo.admin_port}/stats?filter=oidc_gate
Ctrl-C stops everything.
""", flush=True)
        while not stop:
            time.sleep(0.5)
            if not demo.envoy.alive():
                print(f"envoy exited:\n{demo.envoy.log()[-3000:]}")
                break
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop()


if __name__ == "__main__":
    main()
