"""Sources of real readings in the site file (issue 14): ``[[sources]]`` with their ``[[sources.channels]]``,
stored with the site by ``meshmeter site simulate`` through the one ``add_source`` every door uses.

The channel counts a Tasmota counter on the Mini Meter's output "100": 100 Wh per pulse (manual §3.2,
Table 2B; output "10" is marked not for field wiring, ``docs/installer-pulse-wiring.md``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.cli import app
from meshmeter.site.config import SiteFileError, parse_site
from meshmeter.store import Store
from tests.site.test_config import MINIMAL, line_of

SOURCES = """
[[sources]]
name = "tasmota-1a"
kind = "mqtt"
format = "tasmota_counter"
address = "mqtt://127.0.0.1:1883"
[sources.settings]
timezone = "America/Los_Angeles"
[[sources.channels]]
device = "unit1a"
channel = "C1"
meter = "MM00000001"
unit = "pulse"
wh_per_unit = 100
"""


def test_a_site_file_names_its_sources() -> None:
    config = parse_site(MINIMAL + SOURCES)
    (source,) = config.sources
    assert (source.name, source.kind, source.format, source.address) == (
        "tasmota-1a",
        "mqtt",
        "tasmota_counter",
        "mqtt://127.0.0.1:1883",
    )
    assert source.settings == {"timezone": "America/Los_Angeles"}
    assert source.channels == (
        {"device": "unit1a", "channel": "C1", "meter": "MM00000001", "unit": "pulse", "wh_per_unit": 100},
    )


@pytest.mark.parametrize(
    ("old", "new", "field", "needle"),
    [
        ('meter = "MM00000001"', 'meter = "MM00000009"', "sources[0].channels[0].meter", "is not the serial"),
        ('device = "unit1a"\n', "", "sources[0].channels[0].device", "is missing"),
        ('unit = "pulse"', 'unit = "pulse"\ncolour = "red"', "sources[0].channels[0].colour", "not a known"),
        ('kind = "mqtt"', "kind = 3", "sources[0].kind", "non-empty string"),
    ],
)
def test_a_bad_source_names_its_line_and_field(old: str, new: str, field: str, needle: str) -> None:
    text = MINIMAL + SOURCES.replace(old, new)
    with pytest.raises(SiteFileError, match=needle) as caught:
        parse_site(text)
    assert caught.value.field == field
    assert caught.value.line is not None
    assert caught.value.line >= line_of(text, "[[sources]]")


def test_a_meter_fed_twice_is_refused() -> None:
    again = SOURCES.replace('name = "tasmota-1a"', 'name = "tasmota-1b"')
    with pytest.raises(SiteFileError, match=r"is fed by sources\[0\]\.channels\[0\] already") as caught:
        parse_site(MINIMAL + SOURCES + again)
    assert caught.value.field == "sources[1].channels[0].meter"


def _simulate(tmp_path: Path, text: str) -> tuple[int, str, str]:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'site.db'}"
    args = ["site", "simulate", str(path), "--days", "1", "--start", "2026-06-01T07:00Z", "--quiet"]
    result = CliRunner().invoke(app, [*args, "--database", db])
    return result.exit_code, result.stdout + (result.stderr or ""), db


def test_the_simulated_site_stores_its_sources(tmp_path: Path) -> None:
    code, out, db = _simulate(tmp_path, MINIMAL + SOURCES)
    assert code == 0, out
    with Store(db) as store:
        (site,) = store.sites()
        (source,) = store.sources(site_id=site.id)
        (channel,) = store.source_channels(source_id=source.id)
        meter = store.get_meter(serial="MM00000001")
    assert meter is not None
    assert (source.name, source.format, channel.meter_id, channel.resets) == (
        "tasmota-1a",
        "tasmota_counter",
        meter.id,
        True,
    )
    assert str(channel.wh_per_unit) == "100"


def test_a_meter_a_source_feeds_gets_no_twin_data(tmp_path: Path) -> None:
    """The source is the meter's one feed: the twin stores no interval, register read or element
    measurement of it (before, it stored both feeds, and the source's readings became revisions of
    invented intervals); the meter beside it, fed by nobody, is the twin's as before."""
    code, out, db = _simulate(tmp_path, MINIMAL + SOURCES)
    assert code == 0, out
    with Store(db) as store:
        fed, twin = store.get_meter(serial="MM00000001"), store.get_meter(serial="MM00000002")
        assert fed is not None
        assert twin is not None
        lo, hi = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
        assert store.raw_intervals(meter_id=fed.id, start=lo, end=hi) == []
        assert store.register_reads(meter_id=fed.id, start=lo, end=hi) == []
        assert store.events(meter_id=fed.id, kind="element_measurements") == []
        assert store.raw_intervals(meter_id=twin.id, start=lo, end=hi)
        assert store.register_reads(meter_id=twin.id, start=lo, end=hi)
    # disabled, the source feeds nothing: the twin feeds the meter
    (tmp_path / "off").mkdir()
    code, out, db = _simulate(
        tmp_path / "off",
        MINIMAL
        + SOURCES.replace(
            'address = "mqtt://127.0.0.1:1883"', 'address = "mqtt://127.0.0.1:1883"\nenabled = false'
        ),
    )
    assert code == 0, out
    with Store(db) as store:
        fed = store.get_meter(serial="MM00000001")
        assert fed is not None
        assert store.raw_intervals(meter_id=fed.id, start=lo, end=hi)


def test_a_source_the_collector_cannot_run_is_refused_whole(tmp_path: Path) -> None:
    text = MINIMAL + SOURCES.replace('format = "tasmota_counter"', 'format = "zigbee2mqtt"').replace(
        "wh_per_unit = 100", "wh_per_unit = -5"
    )
    code, out, db = _simulate(tmp_path, text)
    assert code == 2
    assert "sources[0] (tasmota-1a): format" in out
    assert "zigbee2mqtt" in out
    with Store(db) as store:
        assert store.sites() == []  # nothing of the site stored
