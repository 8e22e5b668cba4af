"""The layers of the package, checked on its source: who may import whom."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bokehme"

#: What each layer may import from bokehme, bottom up; a module always may
#: import from its own layer.
ALLOWED = {
    "imaging": set(),
    "process": set(),
    "models": {"imaging"},
    "io": {"imaging"},
    "options": {"imaging"},
    "pipeline": {"imaging", "options"},
    "job": {"imaging", "io", "options", "pipeline"},
    "video": {"imaging", "io", "job", "options", "pipeline"},
    "live": {"io", "options", "video"},
    "batch": {"io", "job", "models", "options", "process", "video"},
    "cli": {"batch", "imaging", "io", "job", "live", "models", "options", "pipeline", "process", "video"},
}

#: Third-party packages the pure array code may use: no image files, no models, no terminal
#: (OpenCV for its filters on arrays; it comes with mediapipe).
ARRAY_LIBRARIES = {"numpy", "scipy", "torch", "cv2"}


def modules():
    return sorted(path for path in PACKAGE.rglob("*.py"))


def layer_of(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def module_name(path):
    parts = ("bokehme",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path):
    """(module imported, names taken from it) for each import of a file, resolved to absolute names."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((base, [alias.name for alias in node.names]))
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_layer_imports_only_the_layers_below_it(path):
    layer = layer_of(path)
    if layer in ("__init__", "__main__"):
        return  # the package's front door re-exports everything
    allowed = ALLOWED[layer] | {layer}
    for module, names in imports(path):
        if module == "bokehme":
            # ``from .. import __version__`` or a submodule (``from ..imaging import scrub``)
            targets = [name for name in names if name != "__version__"]
        elif module.startswith("bokehme."):
            targets = [module.split(".")[1]]
        else:
            continue
        for target in targets:
            assert target in allowed, f"{path.name} ({layer}) imports {module} {names}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "imaging").glob("*.py")), ids=lambda p: p.name)
def test_pure_array_code_uses_array_libraries_only(path):
    for module, _ in imports(path):
        top = module.split(".")[0]
        if top and top != "bokehme" and top not in ARRAY_LIBRARIES:
            # The standard library is fine: no files, models or terminal in it that we use
            # (threads split array work that is too small for the libraries' own; os only
            # gives a forked child threads of its own).
            assert top in ("math", "dataclasses", "typing", "functools", "concurrent", "__future__", "os"), \
                f"{path.name} imports {module}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_takes_another_modules_private_names(path):
    own = module_name(path)
    tree = ast.parse(path.read_text())
    bokehme_aliases = set()
    for module, names in imports(path):
        if module.startswith("bokehme") and module != own:
            private = [name for name in names if name.startswith("_") and not name.startswith("__")]
            assert not private, f"{path.name} imports private {private} from {module}"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("bokehme")):
            bokehme_aliases.update(alias.asname or alias.name for alias in node.names)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in bokehme_aliases and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            pytest.fail(f"{path.name} reaches into {node.value.id}.{node.attr}")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    assert len(path.read_text().splitlines()) <= 520
