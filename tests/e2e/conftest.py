import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rig.harness import Envoy, Github, Idp  # noqa: E402
from rig.procs import ROOT, WASM, start_echo  # noqa: E402

RUNS = ROOT / "tests" / ".runs"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _failed(node) -> bool:
    return any(getattr(node, f"rep_{w}", None) is not None and getattr(node, f"rep_{w}").failed for w in ("setup", "call"))


@pytest.fixture(scope="session", autouse=True)
def built_wasm():
    if not WASM.exists():
        pytest.exit(f"{WASM} is missing: run scripts/test (it builds the filter first)", returncode=2)
    return WASM


@pytest.fixture(scope="session")
def echo():
    log_dir = RUNS / "_session"
    shutil.rmtree(log_dir, ignore_errors=True)
    proc, port = start_echo(log_dir)
    yield port
    proc.stop()


class Rig:
    """What one test started; everything is stopped, and logs are printed on failure."""

    def __init__(self, log_dir: Path, echo_port: int):
        self.log_dir = log_dir
        self.echo_port = echo_port
        self.started = []

    @classmethod
    def fresh(cls, name: str, echo_port: int) -> "Rig":
        """A rig logging to tests/.runs/<name>, emptied first."""
        log_dir = RUNS / name.replace("/", "_")
        shutil.rmtree(log_dir, ignore_errors=True)
        log_dir.mkdir(parents=True)
        return cls(log_dir, echo_port)

    def idp(self, **kw) -> Idp:
        idp = Idp(self.log_dir, **kw)
        self.started.append(idp)
        return idp

    def github(self, **kw) -> Github:
        gh = Github(self.log_dir, **kw)
        self.started.append(gh)
        return gh

    def profile(self, name: str, **kw):
        from rig.profile import ProfileEnvoy
        envoy = ProfileEnvoy(self.log_dir, name, **kw)
        self.started.append(envoy)
        return envoy

    def envoy(self, plugin_config: dict, idp_port: int, start=True, **kw) -> Envoy:
        envoy = Envoy(self.log_dir, plugin_config, idp_port, self.echo_port, **kw)
        self.started.append(envoy)
        return envoy.start() if start else envoy

    def stop(self, print_logs: bool):
        for thing in reversed(self.started):
            proc = getattr(thing, "proc", None)
            if print_logs and proc is not None:
                print(f"\n===== {proc.name} log ({proc.log_path}) =====\n{proc.log()[-6000:]}")
            thing.stop()


@pytest.fixture
def rig(request, echo):
    r = Rig.fresh(request.node.name, echo)
    yield r
    r.stop(print_logs=_failed(request.node))
