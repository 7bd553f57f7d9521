"""schema/oidc-gate.schema.json (made by scripts/schema from the config types and the README's
key table; scripts/test checks it is current) validates every sample's plugin config: plain
Envoy, the profiles, Istio's pluginConfig, Envoy Gateway's config and the json blocks of the
IdP pages (envoy/idps/*.md); and it refuses what the
filter refuses (an unknown key, at any depth)."""
import json

import pytest

from rig.procs import ROOT
from rig.samples import load_docs, walk

try:
    import jsonschema
    import yaml
except ImportError:  # pragma: no cover
    jsonschema = yaml = None

SCHEMA = ROOT / "schema" / "oidc-gate.schema.json"
IDPS = ("google", "entra", "okta", "auth0", "keycloak", "cognito", "dex", "gitlab")


def validator():
    if jsonschema is None:
        pytest.fail("jsonschema/PyYAML missing: .venv/bin/pip install -r tests/requirements.txt")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def sample_configs():
    """(where, plugin config) for every sample that carries one."""
    found = []
    for path in sorted((ROOT / "envoy").rglob("*.yaml")):
        for doc in load_docs(path):
            rel = path.relative_to(ROOT)
            for f in walk(doc):
                if f.get("name") == "envoy.filters.http.wasm":
                    found.append((f"{rel}", json.loads(f["typed_config"]["config"]["configuration"]["value"])))
            if doc.get("kind") == "WasmPlugin":
                found.append((f"{rel} WasmPlugin", doc["spec"]["pluginConfig"]))
            if doc.get("kind") == "EnvoyExtensionPolicy":
                for w in doc["spec"]["wasm"]:
                    found.append((f"{rel} EnvoyExtensionPolicy", w["config"]))
    for path in sorted((ROOT / "envoy" / "idps").glob("*.md")):
        for n, block in enumerate(json_blocks(path.read_text())):
            found.append((f"{path.relative_to(ROOT)} json[{n}]", json.loads(block)))
    return found


def json_blocks(markdown: str) -> list:
    """The ```json blocks of a Markdown page (each IdP page's filter configs)."""
    return [rest.split("\n```")[0] for rest in markdown.split("```json\n")[1:]]


def test_every_sample_config_validates_against_the_schema():
    v = validator()
    configs = sample_configs()
    where = {w.split()[0] for w, _ in configs}
    for expected in ("envoy/envoy.yaml", "envoy/login.yaml", "envoy/istio/wasmplugin.yaml",
                     "envoy/envoy-gateway/extension-policy.yaml", "envoy/examples/flipt/envoy-github.yaml",
                     "envoy/examples/flyte/envoy.yaml", "envoy/examples/kubeflow/envoy.yaml",
                     "envoy/examples/flower/envoy.yaml", "envoy/examples/flipt/envoy.yaml",
                     *(f"envoy/idps/{idp}.md" for idp in IDPS)):
        assert expected in where, f"no plugin config found in {expected}"
    for w, cfg in configs:
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in v.iter_errors(cfg)]
        assert not errors, f"{w}: {errors}"


def test_the_schema_refuses_what_the_filter_refuses_and_documents_each_key():
    v = validator()
    ok = {"issuer": "https://idp.example.com", "idp_cluster": "idp", "bearer": {"audiences": ["api"]}}
    assert v.is_valid(ok)
    assert not v.is_valid({**ok, "bearer": {"audence": ["api"]}}), "a typo in a nested key"
    assert not v.is_valid({**ok, "sesion": {}}), "a typo at the top"
    assert not v.is_valid({**ok, "client_secret": {"env": "X", "value": "y"}})
    assert not v.is_valid({**ok, "session": {"keys": [{"env": 5}]}})
    schema = json.loads(SCHEMA.read_text())
    top = schema["properties"]
    assert top["clock_skew"]["default"] == "60s" and "leeway" in top["clock_skew"]["description"]
    assert top["bearer"]["properties"]["introspection"].get("description")
    assert all("description" in p for p in top.values()), [k for k, p in top.items() if "description" not in p]
