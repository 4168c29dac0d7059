"""The house of ``docs/architecture.md``: lower packages never import upper ones.

Every ``import meshmeter.X`` in the package's source, read with ``ast`` (imports under ``TYPE_CHECKING``
count too: they are dependencies all the same), is checked against what each package may import.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "meshmeter"

_BOTTOM = {"errors", "intervals"}
MAY_IMPORT: dict[str, set[str]] = {
    "errors": set(),
    "intervals": {"errors"},
    "catalog": {"errors"},
    "meter": _BOTTOM | {"catalog"},
    "amr": _BOTTOM | {"catalog", "meter"},
    "site": _BOTTOM | {"catalog", "meter", "amr"},
    "store": _BOTTOM,
    "headend": _BOTTOM | {"catalog", "meter", "amr", "store"},
    "collect": _BOTTOM | {"catalog", "store", "headend"},
    "billing": _BOTTOM,
    "evaluation": _BOTTOM | {"catalog", "meter"},
    "services": _BOTTOM | {"catalog", "meter", "amr", "site", "store", "headend", "collect", "billing"},
    "demo": _BOTTOM | {"catalog", "meter", "amr", "site", "store", "headend", "billing", "services"},
    "api": _BOTTOM
    | {"catalog", "meter", "amr", "site", "store", "headend", "collect", "billing", "evaluation", "services"},
    "cli": _BOTTOM
    | {
        "catalog",
        "meter",
        "amr",
        "site",
        "store",
        "headend",
        "collect",
        "billing",
        "evaluation",
        "services",
        "api",
        "demo",
    },
    "__init__": {"errors"},
    "__main__": {"cli"},
}
"""What each package (or top-level module) of ``meshmeter`` may import of the others."""


def imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for path in SOURCE.rglob("*.py"):
        package = path.relative_to(SOURCE).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "meshmeter" and len(parts) > 1 and parts[1] != package:
                    found[package].add(parts[1])
    return found


def test_every_package_is_in_the_house() -> None:
    packages = {
        p.name.removesuffix(".py")
        for p in SOURCE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    assert packages - {"py"} <= set(MAY_IMPORT), (
        f"draw the new package in docs/architecture.md and here: {packages - set(MAY_IMPORT)}"
    )


def test_lower_packages_never_import_upper_ones() -> None:
    wrong = {package: sorted(used - MAY_IMPORT[package]) for package, used in imports().items()}
    assert {k: v for k, v in wrong.items() if v} == {}
