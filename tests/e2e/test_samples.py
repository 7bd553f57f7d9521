"""The sample configs under envoy/ are hardened, and the hardening does what it claims.

Static checks (parsed YAML, every document of every file under envoy/):
  * every Envoy UpstreamTlsContext checks the server certificate's DNS SAN against the name
    it connects to (or uses auto_sni_san_validation), not only "signed by a trusted CA";
  * every HttpConnectionManager rejects requests whose header names contain "_";
  * Istio: a DestinationRule originates TLS to the IdP and checks its subjectAltNames, and
    an EnvoyFilter makes the gateway's HCM reject underscored headers;
  * Envoy Gateway: a BackendTLSPolicy with subjectAltNames for the IdP's Backend, and a
    ClientTrafficPolicy with headers.withUnderscoresAction: RejectRequest.

A real-Envoy check: the idp cluster's transport_socket, copied from the sample itself,
accepts an IdP certificate for the right name and refuses one for another name signed by
the same trusted CA (the forged-discovery attack), which the same socket without its SAN
matcher lets through.
"""
import copy
import http.client
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rig.harness import wait_envoy_ready
from rig.procs import ROOT, Proc, envoy_command, free_port, wait_for_port
from rig.samples import load_docs, walk

try:  # pinned in tests/requirements.txt; a missing one fails these tests, not the collection
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

SAMPLES = ROOT / "envoy"
RUNS = ROOT / "tests" / ".runs"
HCM_TYPE = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
UPSTREAM_TLS_TYPE = "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"

RIGHT_HOST = "idp.example.test"
WRONG_HOST = "evil.example.test"


# ---------------------------------------------------------------- YAML helpers

def sample_files() -> list:
    return sorted(SAMPLES.rglob("*.yaml")) + sorted(SAMPLES.rglob("*.yml"))


def typed(node, type_name: str) -> list:
    return [d for d in walk(node) if str(d.get("@type", "")).endswith("/" + type_name)]


def by_kind(docs: list, kind: str) -> list:
    return [d for d in docs if isinstance(d, dict) and d.get("kind") == kind]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# ---------------------------------------------------------------- static checks

def san_problem(ctx: dict):
    """Why this UpstreamTlsContext does not tie the certificate to the host name, or None."""
    if ctx.get("auto_sni_san_validation") is True:
        return None
    vc = (ctx.get("common_tls_context") or {}).get("validation_context") or {}
    if "trusted_ca" not in vc:
        return "no trusted_ca: the certificate is not verified at all"
    sni = ctx.get("sni")
    dns_exact = [m.get("matcher", {}).get("exact") for m in vc.get("match_typed_subject_alt_names") or []
                 if m.get("san_type") == "DNS"]
    if not dns_exact:
        return "no match_typed_subject_alt_names DNS matcher: any certificate from a trusted CA is accepted"
    if sni not in dns_exact:
        return f"SAN matcher {dns_exact} does not include the sni {sni!r}"
    return None


def test_every_upstream_tls_context_checks_the_server_name():
    found, problems = 0, []
    for path in sample_files():
        for doc in load_docs(path):
            for ctx in typed(doc, UPSTREAM_TLS_TYPE):
                found += 1
                why = san_problem(ctx)
                if why:
                    problems.append(f"{rel(path)} (sni {ctx.get('sni')!r}): {why}")
    assert not problems, "\n".join(problems)
    assert found >= 2, f"expected the UpstreamTlsContexts of envoy.yaml and login.yaml, found {found}"


def test_every_http_connection_manager_rejects_underscored_headers():
    found, problems = 0, []
    for path in sample_files():
        for doc in load_docs(path):
            for hcm in typed(doc, HCM_TYPE):
                found += 1
                action = (hcm.get("common_http_protocol_options") or {}).get("headers_with_underscores_action")
                if action != "REJECT_REQUEST":
                    problems.append(f"{rel(path)} HCM {hcm.get('stat_prefix', '(patch)')!r}: "
                                    f"headers_with_underscores_action is {action!r}, not REJECT_REQUEST")
    assert not problems, "\n".join(problems)
    # envoy.yaml, login.yaml and the Istio sample's EnvoyFilter patch
    assert found >= 3, f"expected at least 3 HttpConnectionManagers (one in an Istio EnvoyFilter), found {found}"


def test_istio_sample_checks_the_idp_certificate_and_rejects_underscored_headers():
    path = SAMPLES / "istio" / "wasmplugin.yaml"
    docs = load_docs(path)
    [plugin] = by_kind(docs, "WasmPlugin")
    idp_cluster = plugin["spec"]["pluginConfig"]["idp_cluster"]  # outbound|<port>||<host>
    _, port, _, host = idp_cluster.split("|")

    entries = [se for se in by_kind(docs, "ServiceEntry") if host in se["spec"]["hosts"]]
    assert entries, f"no ServiceEntry for {host} (the plugin's idp_cluster is {idp_cluster})"
    assert int(port) in [p["number"] for p in entries[0]["spec"]["ports"]]

    rules = [dr for dr in by_kind(docs, "DestinationRule") if dr["spec"].get("host") == host]
    assert rules, f"no DestinationRule for {host}: the gateway does not originate TLS to the IdP"
    policy = rules[0]["spec"].get("trafficPolicy") or {}
    tls_settings = [policy.get("tls")] + [p.get("tls") for p in policy.get("portLevelSettings") or []
                                          if p.get("port", {}).get("number") == int(port)]
    tls = next((t for t in reversed(tls_settings) if t), None)
    assert tls, f"DestinationRule for {host} sets no tls"
    assert tls.get("mode") == "SIMPLE", tls
    assert tls.get("sni") == host, tls
    assert host in (tls.get("subjectAltNames") or []), f"DestinationRule tls has no subjectAltNames [{host}]: {tls}"
    assert not tls.get("insecureSkipVerify"), tls

    selector = plugin["spec"]["selector"]["matchLabels"]
    filters = [f for f in by_kind(docs, "EnvoyFilter")
               if (f["spec"].get("workloadSelector") or {}).get("labels") == selector]
    assert filters, f"no EnvoyFilter for the plugin's workloads {selector}"
    patches = [p for f in filters for p in f["spec"]["configPatches"]
               if p.get("applyTo") == "NETWORK_FILTER"
               and typed(p.get("patch", {}).get("value", {}), HCM_TYPE)]
    assert patches, "no EnvoyFilter patch of the http_connection_manager"
    hcm = typed(patches[0]["patch"]["value"], HCM_TYPE)[0]
    assert hcm["common_http_protocol_options"]["headers_with_underscores_action"] == "REJECT_REQUEST"
    assert patches[0]["match"]["context"] == "GATEWAY"
    assert patches[0]["patch"]["operation"] == "MERGE"


def test_envoy_gateway_sample_checks_the_idp_certificate_and_rejects_underscored_headers():
    path = SAMPLES / "envoy-gateway" / "extension-policy.yaml"
    docs = load_docs(path)
    [ext] = by_kind(docs, "EnvoyExtensionPolicy")
    idp_cluster = ext["spec"]["wasm"][0]["config"]["idp_cluster"]
    # Envoy Gateway names the cluster of an HTTPRoute rule httproute/<namespace>/<name>/rule/<index>:
    # the way to give the filter a cluster that a Backend + BackendTLSPolicy configure.
    parts = idp_cluster.split("/")
    assert len(parts) == 5 and parts[0] == "httproute" and parts[3] == "rule", \
        f"idp_cluster {idp_cluster!r} is not the cluster of an HTTPRoute rule to a Backend with a BackendTLSPolicy"
    _, ns, route_name, _, index = parts
    routes = [r for r in by_kind(docs, "HTTPRoute")
              if r["metadata"]["name"] == route_name and r["metadata"].get("namespace", "default") == ns]
    assert routes, f"no HTTPRoute {ns}/{route_name} (idp_cluster {idp_cluster})"
    [backend_ref] = routes[0]["spec"]["rules"][int(index)]["backendRefs"]
    assert (backend_ref.get("group"), backend_ref.get("kind")) == ("gateway.envoyproxy.io", "Backend"), backend_ref

    [backend] = [b for b in by_kind(docs, "Backend") if b["metadata"]["name"] == backend_ref["name"]]
    hostnames = {e["fqdn"]["hostname"] for e in backend["spec"]["endpoints"]}
    assert len(hostnames) == 1, hostnames
    [host] = hostnames

    policies = [p for p in by_kind(docs, "BackendTLSPolicy")
                if any(t.get("kind") == "Backend" and t.get("name") == backend["metadata"]["name"]
                       for t in p["spec"]["targetRefs"])]
    assert policies, f"no BackendTLSPolicy for Backend {backend['metadata']['name']}: no TLS, no certificate check"
    validation = policies[0]["spec"]["validation"]
    assert validation.get("hostname") == host, validation
    assert {"type": "Hostname", "hostname": host} in (validation.get("subjectAltNames") or []), validation
    assert validation.get("wellKnownCACertificates") or validation.get("caCertificateRefs"), validation

    gateways = {ref["name"] for ref in routes[0]["spec"]["parentRefs"]}
    ctps = [c for c in by_kind(docs, "ClientTrafficPolicy")
            if any(t.get("kind") == "Gateway" and t.get("name") in gateways
                   for t in c["spec"].get("targetRefs") or [c["spec"].get("targetRef") or {}])]
    assert ctps, f"no ClientTrafficPolicy for the Gateway(s) {gateways}"
    assert ctps[0]["spec"]["headers"]["withUnderscoresAction"] == "RejectRequest"


# ---------------------------------------------------------------- the SAN check, in a real Envoy

SERVER = r"""
import http.server, json, ssl, sys
cert, key, port, issuer = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/.well-known/openid-configuration":
            body = json.dumps({"issuer": issuer, "jwks_uri": issuer + "/jwks"}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
        else:
            body = b"not found"
            self.send_response(404)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("tls idp ready", flush=True)
server.serve_forever()
"""

OPENSSL_CONF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:${ENV::SAN_HOST}
authorityKeyIdentifier = keyid
"""


def openssl(*args, cwd: Path, env=None):
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "SAN_HOST": "unused", **(env or {})})
    assert out.returncode == 0, f"openssl {' '.join(args)}:\n{out.stderr}"


def make_certs(d: Path) -> dict:
    """A CA, and a server certificate from it for each host name; files in d."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "openssl.cnf").write_text(OPENSSL_CONF)
    conf = ["-config", "openssl.cnf"]
    ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    openssl("genpkey", *ec, "-out", "ca.key", cwd=d)
    openssl("req", *conf, "-x509", "-new", "-key", "ca.key", "-subj", "/CN=oidc-gate test CA", "-days", "2",
            "-extensions", "ca", "-out", "ca.crt", cwd=d)
    certs = {"ca": d / "ca.crt"}
    for serial, host in enumerate([RIGHT_HOST, WRONG_HOST], start=1):
        openssl("genpkey", *ec, "-out", f"{host}.key", cwd=d)
        openssl("req", *conf, "-new", "-key", f"{host}.key", "-subj", f"/CN={host}", "-out", f"{host}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{host}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", str(serial),
                "-days", "2", "-extfile", "openssl.cnf", "-extensions", "leaf", "-out", f"{host}.crt",
                cwd=d, env={"SAN_HOST": host})
        certs[host] = (d / f"{host}.crt", d / f"{host}.key")
    return certs


def substitute(node, old: str, new: str):
    if isinstance(node, dict):
        return {k: substitute(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, old, new) for v in node]
    return new if node == old else node


def sample_idp_transport_socket(path: Path) -> tuple:
    """(transport_socket, host) of the cluster the sample's plugin config names as idp_cluster."""
    [config] = load_docs(path)
    [wasm] = [f for f in walk(config) if f.get("name") == "envoy.filters.http.wasm"]
    plugin = json.loads(wasm["typed_config"]["config"]["configuration"]["value"])
    [cluster] = [c for c in config["static_resources"]["clusters"] if c["name"] == plugin["idp_cluster"]]
    [host] = {e["endpoint"]["address"]["socket_address"]["address"]
              for ep in cluster["load_assignment"]["endpoints"] for e in ep["lb_endpoints"]}
    return cluster["transport_socket"], host


def as_test_socket(socket: dict, sample_host: str, ca: Path, keep_san: bool = True) -> dict:
    """The sample's socket, pointed at the test CA and the test IdP name."""
    socket = substitute(copy.deepcopy(socket), sample_host, RIGHT_HOST)
    [vc] = [d["validation_context"] for d in walk(socket) if "validation_context" in d]
    assert "trusted_ca" in vc, vc
    vc["trusted_ca"] = {"filename": str(ca)}
    if not keep_san:
        vc.pop("match_typed_subject_alt_names", None)
        for d in walk(socket):
            d.pop("auto_sni_san_validation", None)
    return socket


def bootstrap(admin_port: int, port: int, clusters: dict) -> dict:
    """A listener routing /<name>/... to cluster <name> (prefix stripped)."""
    routes = [{"match": {"prefix": f"/{name}/"}, "route": {"cluster": name, "prefix_rewrite": "/"}} for name in clusters]
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [{
                "name": "front",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/" + HCM_TYPE,
                        "stat_prefix": "front",
                        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]},
                        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
                    },
                }]}],
            }],
            "clusters": [{
                "name": name,
                "type": "STATIC",
                "connect_timeout": "2s",
                "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": upstream_port}}}}]}]},
                "transport_socket": socket,
            } for name, (upstream_port, socket) in clusters.items()],
        },
    }


def get(port: int, path: str):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"host": "front"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def admin_stats(admin_port: int, name_filter: str) -> dict:
    status, text = get(admin_port, f"/stats?filter={name_filter}")
    assert status == 200, text
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition(": ")
        if value.strip().isdigit():
            out[name] = int(value)
    return out


def plain_envoy_samples() -> list:
    """The samples that are Envoy bootstraps with an idp cluster (envoy.yaml, login.yaml)."""
    if yaml is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason="PyYAML is not installed"))]
    out = []
    for path in sorted(SAMPLES.glob("*.yaml")):
        docs = load_docs(path)
        if len(docs) == 1 and "static_resources" in docs[0] and typed(docs[0], UPSTREAM_TLS_TYPE):
            out.append(pytest.param(path, id=path.name))
    return out


@pytest.fixture
def log_dir(request):
    d = RUNS / request.node.name.replace("/", "_")
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


@pytest.mark.parametrize("sample", plain_envoy_samples())
def test_sample_idp_tls_refuses_a_trusted_certificate_for_another_name(sample, log_dir):
    assert shutil.which("openssl"), "the openssl CLI is needed to make the test certificates"
    certs = make_certs(log_dir / "pki")
    socket, sample_host = sample_idp_transport_socket(sample)

    started = []
    try:
        # The real IdP, and an impostor holding a certificate from the same trusted CA.
        servers = {}
        for host in (RIGHT_HOST, WRONG_HOST):
            port = free_port()
            cert, key = certs[host]
            proc = Proc(f"tls-{host}", [sys.executable, "-c", SERVER, cert, key, port, f"https://{RIGHT_HOST}"],
                        log_dir)
            started.append(proc)
            proc.wait_for_log("tls idp ready")
            servers[host] = port

        checked = as_test_socket(socket, sample_host, certs["ca"])
        unchecked = as_test_socket(socket, sample_host, certs["ca"], keep_san=False)
        clusters = {
            "right": (servers[RIGHT_HOST], checked),
            "wrong": (servers[WRONG_HOST], checked),
            "unchecked": (servers[WRONG_HOST], unchecked),  # the sample's socket minus its SAN check
        }
        port, admin_port = free_port(), free_port()
        config_path = log_dir / "envoy.json"
        config_path.write_text(json.dumps(bootstrap(admin_port, port, clusters), indent=1))
        envoy = Proc("envoy", envoy_command() + ["-c", config_path, "--concurrency", "1", "--disable-hot-restart",
                                                 "-l", "info", "--component-log-level", "connection:debug"], log_dir)
        started.append(envoy)
        wait_envoy_ready(admin_port, envoy)
        wait_for_port(port, 10, envoy.popen)

        discovery = "/.well-known/openid-configuration"
        status, body = get(port, "/right" + discovery)
        assert status == 200, f"the IdP with a certificate for {RIGHT_HOST} was refused: {body}\n{envoy.log()[-3000:]}"
        assert json.loads(body)["issuer"] == f"https://{RIGHT_HOST}"

        status, body = get(port, "/wrong" + discovery)
        assert status == 503, f"a certificate for {WRONG_HOST} was accepted for {RIGHT_HOST}: {status} {body}"

        stats = admin_stats(admin_port, r"ssl\.fail_verify")
        assert stats.get("cluster.wrong.ssl.fail_verify_san", 0) >= 1, stats  # refused for its name ...
        assert stats.get("cluster.wrong.ssl.fail_verify_error", 0) == 0, stats  # ... not for its CA
        assert stats.get("cluster.right.ssl.fail_verify_san", 0) == 0, stats

        # Without the SAN check, the impostor's discovery document goes through: this is what
        # the matcher in the sample prevents.
        status, body = get(port, "/unchecked" + discovery)
        assert status == 200, f"the control case failed, so the test proves nothing: {status} {body}"
        assert json.loads(body)["issuer"] == f"https://{RIGHT_HOST}"
    finally:
        for proc in reversed(started):
            proc.stop()
