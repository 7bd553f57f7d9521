"""The demo in a real browser: Debian's headless Chromium, driven by playwright-core
(tests/browser/login.mjs), opens a page, gets the IdP's login form, signs in as alice,
lands on the page it asked for and sees its name; then signs out through the IdP, signs in
as bob and gets the 403 page; with the IdP stopped, a fresh browser gets the "sign-in
unavailable" page. The screenshots it takes are the README's: with UPDATE_SCREENSHOTS=1
they are copied to docs/screenshots/."""
import json
import os
import shutil
import subprocess

import pytest

from rig.demo import Demo
from rig.procs import ROOT

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")


def test_a_real_browser_logs_in_sees_its_name_and_logs_out(rig):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing: scripts/setup installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed (scripts/setup installs it where apt-get can)")
    demo = Demo(rig.log_dir / "demo", port=0, idp_port=0).start()
    rig.started.append(demo)
    shots = rig.log_dir / "screenshots"
    shots.mkdir()

    def node(*args):
        out = subprocess.run(["node", ROOT / "tests" / "browser" / "login.mjs", *map(str, args)],
                             capture_output=True, text=True, timeout=120, cwd=ROOT / "tests" / "browser")
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    result = node(demo.url, shots)
    assert result["heading"] == "Hello, Alice Example"
    assert result["url"] == f"{demo.url}/reports?year=2026"
    session = [c for c in result["cookies"] if c["name"] == "__Host-oidc_session"]
    assert session == [{"name": "__Host-oidc_session", "httpOnly": True, "secure": True, "sameSite": "Lax"}]
    assert result["adminStatus"] == 200, "alice is in admins"
    assert result["forbiddenStatus"] == 403 and "You do not have access" in result["forbiddenText"]
    assert "bob" in result["forbiddenText"], "the page says who is signed in"
    # Signed out: the session cookie is gone and the site sends the browser to sign in.
    assert "__Host-oidc_session" not in result["afterLogout"]
    assert "/interaction/" in result["finalUrl"]
    assert shutil.which("node")
    # The IdP down (here: a demo whose IdP never started): the page that says so, a 503.
    down_demo = Demo(rig.log_dir / "demo-idp-down", port=0, idp_port=0).start(with_idp=False)
    rig.started.append(down_demo)
    down = node("--shot", f"{down_demo.url}/reports", shots / "idp-unavailable.png")
    assert down["status"] == 503 and "unavailable" in down["heading"].lower(), down
    for name in ("sign-in", "signed-in", "forbidden", "idp-unavailable"):
        assert (shots / f"{name}.png").stat().st_size > 1000, name
    if os.environ.get("UPDATE_SCREENSHOTS"):
        target = ROOT / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        for png in shots.glob("*.png"):
            shutil.copy(png, target / png.name)
