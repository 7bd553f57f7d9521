"""Reading the sample configs: YAML documents, and every mapping in a parsed tree."""
from pathlib import Path

try:  # pinned in tests/requirements.txt; a missing one fails the tests that need it, not the collection
    import yaml
except ImportError:  # pragma: no cover
    yaml = None


def load_docs(path: Path) -> list:
    """The non-empty YAML documents of a file."""
    assert yaml is not None, "PyYAML is not installed: .venv/bin/pip install -r tests/requirements.txt"
    return [d for d in yaml.safe_load_all(Path(path).read_text()) if d is not None]


def walk(node):
    """Every mapping in a parsed YAML/JSON tree, depth first."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)
