"""The demo in a real browser: Debian's headless Chromium, driven by playwright-core
(tests/browser/login.mjs), opens a page, gets the IdP's login form, signs in as alice,
lands on the page it asked for and sees its name; then signs out through the IdP."""
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
    shot = rig.log_dir / "signed-in.png"
    out = subprocess.run(["node", ROOT / "tests" / "browser" / "login.mjs", demo.url, shot],
                         capture_output=True, text=True, timeout=120, cwd=ROOT / "tests" / "browser")
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heading"] == "Hello, Alice Example"
    assert result["url"] == f"{demo.url}/reports?year=2026"
    session = [c for c in result["cookies"] if c["name"] == "__Host-oidc_session"]
    assert session == [{"name": "__Host-oidc_session", "httpOnly": True, "secure": True, "sameSite": "Lax"}]
    assert shot.exists() and shot.stat().st_size > 1000
    # Signed out: the session cookie is gone and the site sends the browser to sign in.
    assert "__Host-oidc_session" not in result["afterLogout"]
    assert "/interaction/" in result["finalUrl"]
    assert shutil.which("node")
