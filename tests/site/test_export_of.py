"""A site file names a meter's export register (``export_of``, issue 13): the simulated site stores it as
that meter's export register, and a bad one names its line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.cli import app
from meshmeter.site.config import SiteFileError, parse_site
from meshmeter.store import Store
from tests.site.test_config import MINIMAL

EXPORT = MINIMAL.replace(
    'kind = "solar"\n',
    'kind = "solar"\nexport_of = "MM00000001"\n',
    1,
)
"""The small site with its solar meter MM00000002 as the export register of Ada's meter MM00000001."""


def test_a_site_file_names_an_export_register() -> None:
    config = parse_site(EXPORT)
    by_serial = {m.serial: m for m in config.meters}
    assert by_serial["MM00000002"].export_of == "MM00000001"
    assert by_serial["MM00000002"].role == "production"
    assert by_serial["MM00000001"].export_of is None


def test_the_simulated_site_stores_the_export_register(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(EXPORT, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'site.db'}"
    result = CliRunner().invoke(
        app,
        [
            "site",
            "simulate",
            str(path),
            "--days",
            "1",
            "--start",
            "2026-06-01T07:00Z",
            "--quiet",
            "--database",
            db,
        ],
    )
    assert result.exit_code == 0, result.stderr or result.stdout
    with Store(db) as store:
        unit = store.get_meter(serial="MM00000001")
        solar = store.get_meter(serial="MM00000002")
        assert unit is not None
        assert solar is not None
        assert solar.export_of_meter_id == unit.id
        assert store.export_register(meter_id=unit.id) == solar


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        # names a meter that is not in the file
        ('export_of = "MM00000001"', 'export_of = "MM00000009"', "is not the serial of one of the"),
        # names itself (not a meter listed before it)
        ('export_of = "MM00000001"', 'export_of = "MM00000002"', "listed before it"),
        # an export register of kind unit
        ('kind = "solar"\nexport_of', 'kind = "house"\nexport_of', "an export register is kind solar"),
    ],
)
def test_a_bad_export_of_names_its_line_and_field(old: str, new: str, needle: str) -> None:
    with pytest.raises(SiteFileError, match=needle) as info:
        parse_site(EXPORT.replace(old, new, 1))
    assert info.value.field == "meters[1].export_of"
    assert info.value.line is not None
