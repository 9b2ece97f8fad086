"""The layout: which package may import which (each package's docstring says the same in words).

A module's package is the first two parts of its name (transforms.stages, pipeline.processes);
`pipeline` alone is the job's top: options, graph, main, summary, progress, demo.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> the project packages it may import besides itself
ALLOWED = {
    "transforms.common": set(),
    "transforms.outputs": {"transforms.common"},
    "transforms.shuffle": {"transforms.common"},
    "transforms.delivery": {"transforms.common", "transforms.outputs"},
    "transforms.stages": {"transforms.common", "transforms.outputs", "transforms.shuffle"},
    "pipeline.processes": {"transforms.common", "transforms.shuffle", "transforms.delivery"},
    "pipeline.report": {"pipeline", "transforms.common", "transforms.outputs", "transforms.delivery"},
    "pipeline": {"pipeline.processes", "pipeline.report", "transforms.common", "transforms.outputs",
                 "transforms.shuffle", "transforms.delivery", "transforms.stages", "sandbox"},
    "sandbox": set(),
}
PROJECT = ("transforms", "pipeline", "sandbox")


def package_of(module: str) -> str:
    """The package of ALLOWED a module belongs to, the longest that names it:
    'transforms.stages.parse' -> 'transforms.stages'; 'pipeline.main.run' -> 'pipeline';
    'transforms.delivery.destinations.base' -> 'transforms.delivery'."""
    owners = [package for package in ALLOWED if module == package or module.startswith(package + ".")]
    return max(owners, key=len) if owners else module.split(".")[0]


def imported_modules(source: str) -> list[str]:
    """Every project module a source imports: `from transforms.common import counters` gives
    'transforms.common.counters'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in PROJECT:
                found.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names if alias.name.split(".")[0] in PROJECT)
    return found


def violations(module: str, source: str) -> list[str]:
    """'A imports B' for each import of `source` (the module `module`) that its package may not make."""
    own = package_of(module)
    return [f"{module} imports {target}" for target in imported_modules(source)
            if package_of(target) != own and package_of(target) not in ALLOWED[own]]


def project_modules():
    for top in PROJECT:
        for path in sorted((ROOT / top).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            yield name, path


def test_every_package_has_a_rule():
    packages = {package_of(name) for name, _ in project_modules()}
    assert packages - {"transforms"} <= set(ALLOWED), packages - set(ALLOWED)


@pytest.mark.parametrize("name,path", list(project_modules()), ids=lambda value: str(value))
def test_imports_follow_the_layout(name, path):
    assert violations(name, path.read_text()) == []


def test_every_package_says_what_lives_there():
    for name, path in project_modules():
        if path.name == "__init__.py" and name != "sandbox":
            assert ast.get_docstring(ast.parse(path.read_text())), f"{name} has no docstring"


@pytest.mark.parametrize("module,source", [
    ("transforms.stages.parse", "from pipeline.processes.worker import main"),
    ("transforms.delivery.sink", "from transforms.stages.enrich import AttachAccountId"),
    ("transforms.delivery.sink", "import transforms.stages.parse"),
    ("transforms.common.tags", "from transforms.outputs import dead_letter"),
    ("pipeline.processes.worker", "from transforms.stages import read"),
    ("sandbox.server", "from transforms.delivery.destinations import gainsight_px"),
])
def test_a_forbidden_import_is_found(module, source):
    assert violations(module, source) == [f"{module} imports {imported_modules(source)[0]}"]


def test_an_allowed_import_is_not_flagged():
    assert violations("transforms.stages.enrich", "from transforms.outputs.checkpoint import load_settled\n"
                                                  "from transforms.shuffle import spill") == []
