"""Starting and stopping the rig's processes: each on 127.0.0.1, on a free port, stopped by PID."""
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WASM = ROOT / "target" / "wasm32-wasip1" / "release" / "oidc_gate.wasm"
VENV = ROOT / ".venv"
IDP_DIR = ROOT / "tests" / "idp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class Proc:
    """A child process whose output goes to a log file; stopped by its PID."""

    def __init__(self, name: str, cmd: list, log_dir: Path, env=None, cwd=None):
        self.name = name
        self.cmd = [str(c) for c in cmd]
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self._offset = self._log.tell()  # a restarted process appends: look only at its own lines
        self.popen = subprocess.Popen(
            self.cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def own_log(self) -> str:
        """What this process (not an earlier one with the same name) wrote."""
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, "rb") as f:
            f.seek(self._offset)
            return f.read().decode(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.own_log():
                return
            if not self.alive():
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.log()[-3000:]}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: {text!r} not seen in {timeout}s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.alive():
            try:
                os.kill(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._log.close()


def envoy_command() -> list:
    """ENVOY_BIN when set, else func-e when on PATH, else the project's venv."""
    if os.environ.get("ENVOY_BIN"):
        return [os.environ["ENVOY_BIN"]]
    if shutil.which("func-e"):
        return ["func-e", "run"]
    venv_envoy = VENV / "bin" / "envoy"
    if venv_envoy.exists():
        return [str(venv_envoy)]
    raise RuntimeError("no Envoy: run scripts/setup, or set ENVOY_BIN")


def start_idp(log_dir: Path, keys_file: Path, port: int = 0, extra=()) -> tuple:
    """Starts the test IdP; returns (Proc, issuer)."""
    proc = Proc("idp", ["node", IDP_DIR / "idp.mjs", "--port", port, "--keys", keys_file, *extra], log_dir, cwd=IDP_DIR)
    proc.wait_for_log("idp ready ")
    issuer = next(line.split()[-1] for line in proc.own_log().splitlines() if line.startswith("idp ready "))
    return proc, issuer


def start_echo(log_dir: Path) -> tuple:
    port = free_port()
    proc = Proc("echo", ["python3", Path(__file__).parent / "echo.py", port], log_dir)
    proc.wait_for_log("echo ready")
    return proc, port
