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

  Browser:  open {demo.url}/  and sign in as alice / alice (or bob / bob)
            sign out at {demo.url}/oauth2/logout
  IdP:      {demo.idp.issuer}  (oidc-provider; client "web")

  API, with a fresh client-credentials token (200):
    curl -s -H 'authorization: Bearer {token}' {demo.url}/api/orders
  API, without a token (401):
    curl -si {demo.url}/api/orders

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
