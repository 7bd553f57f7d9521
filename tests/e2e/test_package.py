"""What platform teams install, installed the ways they install it (scripts/package, dist/).

  * Registry round trip: dist/oci is pushed to a real OCI registry (Debian's docker-registry,
    the CNCF distribution server) with a real client (skopeo) and pulled back; the manifest
    digest is the one scripts/package printed, and the image reads the way Istio's and
    Envoy Gateway's fetchers read it (last layer tar+gzip, the file named plugin.wasm),
    byte-identical to the module.
  * Remote fetch: a real Envoy loads the module from an http:// URL with its sha256 (the path
    Istio's http(s) URLs and Envoy Gateway's HTTP code source end in) and the filter runs; with
    a wrong sha256 Envoy refuses the module, fails closed and lets nothing through.
  * Envoy Gateway sends an empty string as the plugin config when none is set: Envoy refuses
    the filter, the log names the missing keys, and it never serves.
"""
import functools
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import threading
import urllib.request
from pathlib import Path

import pytest

from rig import envoycfg
from rig.harness import Envoy, request
from rig.procs import ROOT, Proc, envoy_command, free_port, wait_for_port

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class Package:
    def __init__(self, out: str):
        def line(label):
            m = re.search(rf"^\[package\] {label}: (\S+)$", out, re.M)
            assert m, f"no {label!r} line in scripts/package's output:\n{out}"
            return m.group(1)
        self.sha256 = line("module sha256")
        self.digest = line("manifest digest")
        self.module = ROOT / re.search(r"^\[package\] (dist/oidc-gate-\S+\.wasm) ", out, re.M).group(1)
        self.version = re.fullmatch(r"oidc-gate-(.+)\.wasm", self.module.name).group(1)
        self.oci = ROOT / "dist" / "oci"


@pytest.fixture(scope="module")
def package():
    """scripts/package, run here so that dist/ is never stale (scripts/test has run it just
    before: then this is a no-op build and a rewrite of the same bytes)."""
    done = subprocess.run([ROOT / "scripts" / "package"], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr
    pkg = Package(done.stdout)
    assert hashlib.sha256(pkg.module.read_bytes()).hexdigest() == pkg.sha256
    assert (ROOT / "dist" / "SHA256SUMS").read_text() == f"{pkg.sha256}  {pkg.module.name}\n"
    return pkg


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # never a silent skip: CI must have them
        pytest.fail(f"{name} is missing: scripts/setup installs it (Debian: apt-get install docker-registry skopeo)")
    return path


def plugin_wasm(layer_tar_gz: bytes) -> bytes:
    """The module, found the way Istio's and Envoy Gateway's compat fetchers find it."""
    with tarfile.open(fileobj=io.BytesIO(layer_tar_gz), mode="r:gz") as tar:
        members = tar.getmembers()
        assert [(m.name, m.uid, m.gid, m.mode, m.isfile()) for m in members] == [("plugin.wasm", 0, 0, 0o644, True)]
        return tar.extractfile(members[0]).read()


def check_manifest(raw: bytes, pkg: Package) -> dict:
    assert f"sha256:{hashlib.sha256(raw).hexdigest()}" == pkg.digest
    manifest = json.loads(raw)
    assert manifest["mediaType"] == OCI_MANIFEST and manifest["schemaVersion"] == 2
    assert manifest["config"]["mediaType"] == OCI_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [OCI_LAYER]
    assert manifest["annotations"]["module.wasm.image/variant"] == "compat"
    return manifest


class Registry:
    """docker-registry on 127.0.0.1, storage in the test's run dir, stopped by PID."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        config = log_dir / "registry.yml"
        config.write_text(json.dumps({  # YAML is a superset of JSON
            "version": 0.1,
            "log": {"level": "info"},
            "storage": {"filesystem": {"rootdirectory": str(log_dir / "registry-data")}},
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": "test-only"},
        }))
        self.proc = Proc("registry", [tool("docker-registry"), "serve", config], log_dir)
        wait_for_port(self.port, 15, self.proc.popen)

    def stop(self):
        self.proc.stop()


def skopeo(log_dir: Path, *args) -> bytes:
    policy = log_dir / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    cmd = [tool("skopeo"), "--policy", str(policy), *args]
    done = subprocess.run(cmd, capture_output=True, timeout=60, env={**os.environ, "REGISTRIES_CONFIG_PATH": "/dev/null"})
    with open(log_dir / "skopeo.log", "ab") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode() + done.stdout + done.stderr)
    assert done.returncode == 0, f"{cmd}:\n{done.stderr.decode()}"
    return done.stdout


def test_oci_image_round_trips_through_a_real_registry(rig, package):
    reg = Registry(rig.log_dir)
    rig.started.append(reg)
    ref = f"127.0.0.1:{reg.port}/oidc-gate:{package.version}"
    skopeo(rig.log_dir, "copy", "--dest-tls-verify=false", f"oci:{package.oci}:{package.version}", f"docker://{ref}")

    # What the registry serves is the manifest scripts/package wrote, byte for byte.
    raw = skopeo(rig.log_dir, "inspect", "--raw", "--tls-verify=false", f"docker://{ref}")
    manifest = check_manifest(raw, package)

    # Pulled the way go-containerregistry (Istio, Envoy Gateway) pulls it: the manifest by
    # tag (its digest is what their sha256 field is checked against), then the last layer.
    base = f"http://127.0.0.1:{reg.port}/v2/oidc-gate"
    req = urllib.request.Request(f"{base}/manifests/{package.version}", headers={"accept": OCI_MANIFEST})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers["docker-content-digest"] == package.digest
        assert r.headers["content-type"] == OCI_MANIFEST
        assert r.read() == raw
    with urllib.request.urlopen(f"{base}/blobs/{manifest['layers'][-1]['digest']}", timeout=10) as r:
        assert plugin_wasm(r.read()) == package.module.read_bytes()

    # And back into an OCI layout with skopeo: same digest, same module.
    pulled = rig.log_dir / "pulled"
    skopeo(rig.log_dir, "copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{pulled}:{package.version}")
    index = json.loads((pulled / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [package.digest]
    layer = json.loads((pulled / "blobs" / "sha256" / package.digest.split(":")[1]).read_bytes())["layers"][0]
    assert plugin_wasm((pulled / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_bytes()) == package.module.read_bytes()


class ModuleServer:
    """Serves dist/ over HTTP on 127.0.0.1 (a thread of the test), counting fetches."""

    def __init__(self, directory: Path, log_dir: Path):
        self.paths = []
        log = open(log_dir / "module-server.log", "a")
        paths = self.paths

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, fmt, *args):
                paths.append(self.path)
                log.write(fmt % args + "\n")
                log.flush()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self._log = log

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._log.close()


def gate_config(idp):
    return {
        "issuer": idp.issuer,
        "idp_cluster": "idp",
        "client_id": "web",
        "bearer": {"audiences": ["api://orders"]},
        "identity_headers": {"x-user-id": "sub"},
        "bypass": [{"prefix": "/healthz"}],
    }


def packaged_envoy(rig, module: Path, plugin_config, idp_port, server=None, sha256=None, raw_config=None):
    """An Envoy like the rig's, running the packaged module: fetched from `server` with
    `sha256` when given, and with `raw_config` as the plugin's configuration string when given."""
    envoy = Envoy(rig.log_dir, plugin_config, idp_port, rig.echo_port)  # its config is rewritten below
    rig.started.append(envoy)
    wasm = envoycfg.wasm_filter(module, plugin_config)
    clusters = [envoycfg.cluster("idp", idp_port), envoycfg.cluster("echo", rig.echo_port)]
    if server is not None:
        wasm["typed_config"]["config"]["vm_config"]["code"] = {"remote": {
            "http_uri": {"uri": f"http://127.0.0.1:{server.port}/{module.name}", "cluster": "wasm_server", "timeout": "5s"},
            "sha256": sha256,
            "retry_policy": {"num_retries": 2, "retry_back_off": {"base_interval": "0.1s", "max_interval": "0.2s"}},
        }}
        clusters.append(envoycfg.cluster("wasm_server", server.port))
    if raw_config is not None:
        wasm["typed_config"]["config"]["configuration"]["value"] = raw_config
    listeners = [envoycfg.listener("gate", envoy.port, "echo", [wasm])]
    envoy.config_path.write_text(json.dumps(envoycfg.bootstrap(envoy.admin_port, listeners, clusters), indent=1))
    return envoy


def admin_stat(envoy, name: str) -> int:
    text = request(envoy.admin_port, "GET", f"/stats?filter=^{re.escape(name)}$").body.decode()
    return int(text.split(": ")[1])


def validate(config_path: Path):
    return subprocess.run(envoy_command() + ["--mode", "validate", "-c", config_path, "-l", "warning"],
                          capture_output=True, text=True, timeout=60)


def test_envoy_fetches_the_module_over_http_with_its_sha256_and_the_filter_runs(rig, package):
    idp = rig.idp().start()
    server = ModuleServer(package.module.parent, rig.log_dir)
    rig.started.append(server)
    envoy = packaged_envoy(rig, package.module, gate_config(idp), idp.port, server, package.sha256)
    envoy.start()

    assert server.paths == [f"/{package.module.name}"]
    assert admin_stat(envoy, "wasm.remote_load_fetch_successes") == 1
    assert "oidc-gate 0.1.0: configured for issuers" in envoy.proc.own_log(), "the version, logged once at start"
    # 401 with the filter's own challenge: an Envoy without the filter would have proxied.
    r = envoy.get("/orders")
    assert r.status == 401, r
    assert r.headers["www-authenticate"] == 'Bearer realm="oidc-gate"'
    r = envoy.get("/orders", {"authorization": f"Bearer {idp.client_credentials()}", "x-user-id": "admin"})
    assert r.status == 200, r
    assert r.json()["headers"]["x-user-id"] == "service"


def test_a_wrong_sha256_makes_envoy_refuse_the_module_and_fail_closed(rig, package):
    idp = rig.idp().start()
    server = ModuleServer(package.module.parent, rig.log_dir)
    rig.started.append(server)
    wrong = hashlib.sha256(b"not the module").hexdigest()
    envoy = packaged_envoy(rig, package.module, gate_config(idp), idp.port, server, wrong)

    # --mode validate fetches nothing, so it cannot tell: the config is "OK".
    checked = validate(envoy.config_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert server.paths == []

    # A real start: the listener stays closed while Envoy fetches (1 + num_retries times),
    # each download fails the hash; then Envoy goes LIVE with the filter failed closed.
    envoy.start()
    assert server.paths == [f"/{package.module.name}"] * 3
    log = envoy.proc.own_log()
    assert "Retry limit exceeded for fetching data from remote data source." in log
    assert "Plugin oidc-gate failed to load" in log
    assert "Plugin configured to fail closed failed to load" in log
    assert "configured for issuers" not in log
    assert admin_stat(envoy, "wasm.remote_load_fetch_failures") == 1
    assert admin_stat(envoy, "wasm.remote_load_fetch_successes") == 0

    valid = {"authorization": f"Bearer {idp.client_credentials()}"}
    for path, headers in [("/orders", None), ("/orders", valid), ("/healthz", None)]:
        r = envoy.get(path, headers)
        assert (r.status, r.body) == (503, b""), (path, r)
    assert envoy.proc.alive()
    assert admin_stat(envoy, "cluster.echo.upstream_rq_total") == 0


def test_an_empty_plugin_config_is_refused_and_envoy_never_serves(rig, package):
    # Envoy Gateway's wasm[].config unset: configuration is a StringValue "". The IdP is
    # never reached: the filter refuses before any callout.
    envoy = packaged_envoy(rig, package.module, {}, free_port(), raw_config="")

    checked = validate(envoy.config_path)
    assert checked.returncode != 0
    assert "oidc-gate: config error: issuer: required" in checked.stdout + checked.stderr

    envoy.start(wait=False)
    assert envoy.proc.popen.wait(timeout=30) != 0
    log = envoy.proc.own_log()
    assert "oidc-gate: config error: issuer: required" in log
    assert "oidc-gate: config error: idp_cluster: required" in log
    assert "oidc-gate: refusing the configuration" in log
    assert "Unable to create Wasm plugin oidc-gate" in log
    # It exited without ever listening: nothing was served, so nothing was let through.
    with pytest.raises(OSError):
        request(envoy.port, "GET", "/orders", timeout=2)
