"""The repository stands alone (issue 15): README.md and docs/*.md send a reader nowhere outside it.

Every relative link of README.md and docs/*.md resolves to a file of the repository (and, with a ``#``, to a
heading of that page); no page names a path outside the repository (``../shared``, ``../anything``, the
house's files of elsewhere), or a ``docs/`` page or a ``src/``, ``tests/`` path that does not exist. The
README's quick start is true, it lists every docs page, docs/architecture.md draws every package, and
docs/meter.md states the ratings that ``catalog.ratings`` holds.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.catalog.ratings import MINI_METER_RATINGS
from meshmeter.cli import app

ROOT = Path(__file__).resolve().parents[1]

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_INLINE_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^()\s<>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PARENT_PATH = re.compile(r"(?<![\w.])\.\./[^\s`)\]'\"<>,;]*")
_ELSEWHERE = re.compile(r"\b(?:DESIGN|STYLE|HOUSE-NOTES)\.md\b|\bshared/(?:spec|reference|hooks)\b|/work/")
_DOCS_PAGE = re.compile(r"(?<![\w/.-])docs/([\w.-]+\.md)\b")
_REPO_PATH = re.compile(r"`((?:src|tests|docs|benchmarks|\.ci)/[\w./-]+)`")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def pages(root: Path) -> list[Path]:
    """README.md and every docs/*.md of a repository."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text (links and code marks dropped), lower case, punctuation
    dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings (repeats numbered as GitHub numbers them)."""
    found: set[str] = set()
    for heading in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        name, n = base, 0
        while name in found:
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


def _link_problems(root: Path, page: Path, target: str) -> list[str]:
    """What is wrong with one link target of a page (nothing for a URL with a scheme)."""
    where = page.relative_to(root).as_posix()
    if _SCHEME.match(target):
        return []
    path_part, _, fragment = target.partition("#")
    destination = (page.parent / path_part).resolve() if path_part else page.resolve()
    if not destination.is_relative_to(root.resolve()):
        return [f"{where}: link {target!r} points outside the repository"]
    if not destination.exists():
        return [f"{where}: link {target!r} leads to no file of the repository"]
    if fragment and destination.suffix == ".md" and fragment not in anchors(destination):
        return [f"{where}: link {target!r}: {destination.name} has no heading #{fragment}"]
    return []


def problems(root: Path) -> list[str]:
    """Every way README.md and docs/*.md send a reader outside the repository or to nothing, one line each."""
    found: list[str] = []
    for page in pages(root):
        where = page.relative_to(root).as_posix()
        text = page.read_text(encoding="utf-8")
        prose = _FENCE.sub("", text)
        targets = [m.group(1) for m in _INLINE_LINK.finditer(prose)]
        targets += _REFERENCE_LINK.findall(prose)
        for target in targets:
            found += _link_problems(root, page, target)
        # What a page names outside its links is read from the repository's root, as the pages write it.
        mentions = _REFERENCE_LINK.sub("", _INLINE_LINK.sub("", text))
        found += [f"{where}: points outside the repository: {m}" for m in _PARENT_PATH.findall(mentions)]
        found += [f"{where}: names a file outside the repository: {m}" for m in _ELSEWHERE.findall(mentions)]
        for name in _DOCS_PAGE.findall(mentions):
            if not (root / "docs" / name).is_file():
                found.append(f"{where}: names docs/{name}, which does not exist")
        for path in _REPO_PATH.findall(mentions):
            if not (root / path).exists():
                found.append(f"{where}: names {path}, which does not exist")
    return found


def test_readme_and_docs_send_the_reader_nowhere_outside_the_repository() -> None:
    found = problems(ROOT)
    assert not found, "\n".join(found)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_check_names_every_problem_of_a_page(tmp_path: Path) -> None:
    """A repository whose README and docs hold each kind of fault: each is named, once, with its page."""
    _write(tmp_path / "src" / "pkg" / "mod.py", "")
    _write(tmp_path / "docs" / "conventions.md", "# Conventions\n\n## Pulse outputs\n")
    _write(
        tmp_path / "README.md",
        "# Project\n\nThe spec is in `../shared/spec/`, the house in [design](../shared/DESIGN.md).\n"
        "Units: [conventions](docs/conventions.md#pulse-outputs), [more](docs/conventions.md#nothing-here).\n"
        "See `docs/meter.md` and `src/pkg/mod.py` and `src/pkg/gone.py`; online: [x](https://example.org/a/../b).\n",
    )
    _write(
        tmp_path / "docs" / "meter.md",
        "# Meter\n\n[conventions](conventions.md), [code](../src/pkg/mod.py), [missing](vee.md),\n"
        "[above](../../elsewhere.md), [here](#meter), [nowhere](#no-such-heading).\n\n"
        "```sh\ncat ../shared/STYLE.md   # [not a link](absent.md)\n```\n",
    )
    assert problems(tmp_path) == [
        "README.md: link '../shared/DESIGN.md' points outside the repository",
        "README.md: link 'docs/conventions.md#nothing-here': conventions.md has no heading #nothing-here",
        "README.md: points outside the repository: ../shared/spec/",
        "README.md: names a file outside the repository: shared/spec",
        "README.md: names src/pkg/gone.py, which does not exist",
        "docs/meter.md: link 'vee.md' leads to no file of the repository",
        "docs/meter.md: link '../../elsewhere.md' points outside the repository",
        "docs/meter.md: link '#no-such-heading': meter.md has no heading #no-such-heading",
        "docs/meter.md: points outside the repository: ../shared/STYLE.md",
        "docs/meter.md: names a file outside the repository: STYLE.md",
    ]


def test_a_page_that_stands_alone_has_no_problem(tmp_path: Path) -> None:
    _write(tmp_path / "docs" / "meter.md", "# The meter\n\n## Ratings (manual §3.1)\n")
    _write(
        tmp_path / "README.md",
        "# P\n\n[meter](docs/meter.md#ratings-manual-31), `docs/meter.md`, [web](https://example.org/).\n",
    )
    assert problems(tmp_path) == []


def test_every_docs_page_is_listed_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {m.group(1).partition("#")[0] for m in _INLINE_LINK.finditer(readme)}
    missing = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if f"docs/{p.name}" not in linked]
    assert not missing, f"README.md's Documentation section does not link: {', '.join(missing)}"


def test_the_quick_start_is_true() -> None:
    """The README's two commands are there as written, and what they name exists: the ``meshmeter`` script,
    its ``demo`` command with the options the README gives, and the ``test`` extra."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e . && meshmeter demo\n" in readme
    assert "pip install -e '.[test]' && python -m pytest\n" in readme
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["meshmeter"] == "meshmeter.cli:main"
    assert any(r.startswith("pytest") for r in project["optional-dependencies"]["test"])
    result = CliRunner().invoke(app, ["demo", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--no-serve", "--days"):
        assert option in result.output


def test_the_architecture_draws_every_package() -> None:
    """Each package and top-level module of ``meshmeter`` is drawn in docs/architecture.md's house."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    house = text.split("src/meshmeter/", 1)[1].split("```", 1)[0]
    drawn = set(re.findall(r"^  (\w+)(?:/|\.py)", house, re.MULTILINE))
    source = ROOT / "src" / "meshmeter"
    packages = {p.name for p in source.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in source.glob("*.py")} - {"__init__", "__main__"}
    assert sorted((packages | modules) - drawn) == []


def _meter_page() -> str:
    return (ROOT / "docs" / "meter.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("field", "stated"),
    [
        ("supply", "{r.supply_min_v:g} V to {r.supply_max_v:g} V AC"),
        (
            "nominal",
            "{r.nominal_voltage_ln_v:g} V L1–N; {r.voltage_ll_v[0]:g} or {r.voltage_ll_v[1]:g} V L1–L2",
        ),
        ("burden", "| {r.max_input_power_va:g} VA |"),
        ("class", "| {r.class_current_a:g} A (Class 200) |"),
        ("TA", "| {r.test_amperes_a:g} A |"),
        ("primary", "{r.max_current_primary_a:g} A for 200 A models"),
        ("secondary", "{r.max_current_secondary_a:g} A for 0.1 A-secondary models"),
        ("frequency", "{r.frequency_min_hz:g}–{r.frequency_max_hz:g} Hz"),
        ("power factor", "{r.pf_min:g} to 1.0, leading or lagging"),
        (
            "accuracy 1.0",
            "± {r.accuracy_percent_pf_1:g} % of registration, {r.accuracy_min_current_a:g} A to",
        ),
        (
            "accuracy 0.5",
            "± {r.accuracy_percent_pf_05:g} % of registration, {r.accuracy_min_current_a:g} A to",
        ),
        ("accuracy range", "to {r.accuracy_max_current_a:g} A |"),
        ("temperature", "−{0:g} °C to +{r.operating_temperature_max_c:g} °C"),
        ("pollution", "| {r.rated_pollution_degree}: normally only non-conductive"),
        ("humidity", "| {r.rated_relative_humidity_percent:g} % |"),
        ("load LED", "**Kt = {r.load_led_kt_wh:g}**"),
        ("outputs", "`10` | {r.pulse_output_kh_wh[0]} Wh (Kh = {r.pulse_output_kh_wh[0]})"),
    ],
)
def test_the_meter_page_states_the_ratings_the_code_holds(field: str, stated: str) -> None:
    """docs/meter.md and ``MINI_METER_RATINGS`` give the same numbers: a change to one shows in the other."""
    text = stated.format(-MINI_METER_RATINGS.operating_temperature_min_c, r=MINI_METER_RATINGS)
    assert text in _meter_page(), f"{field}: docs/meter.md does not say {text!r}"
