"""Every way in × every way out gives the same kWh and the same quality codes (issue 11's acceptance matrix).

The data is the NAESB Green Button sample ``test_usage_data.xml`` of ``../shared/reference/greenbutton``
(two weeks of one meter's quarter-hours in New York, 2012-03-01 to 2012-03-15, across the spring-forward
day), with three readings taken out so that VEE has a gap to estimate, and its ``ReadingQuality`` marks
taken off so that every door carries the same information. The same readings go in by each door:

- a CSV file, ``meshmeter ingest FILE``;
- JSON over HTTP, ``POST /intervals`` with an operator's token;
- MQTT messages on the real broker, taken by the ``MqttIngestor``;
- the Green Button file itself, ``meshmeter import FILE``;

and, for the simulated site (whose data is its own), ``meshmeter site simulate``. Each state — before VEE,
after ``meshmeter vee`` (the gap interpolated), after a person's edit — is read by every way out:
``GET /meters/{serial}/intervals`` at 15 minutes, hourly, daily and monthly (the dashboard's meter page
draws these), ``meshmeter export`` as CSV and as Green Button, ``meshmeter bill --save`` and ``GET /bills``.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from typer.testing import CliRunner

from meshmeter.api import Settings, create_app
from meshmeter.cli import app
from meshmeter.headend.greenbutton import parse_greenbutton
from meshmeter.headend.vee import edit_intervals
from meshmeter.intervals import QUALITY_RANK
from meshmeter.store import Store
from tests.api.conftest import TestClient
from tests.headend.conftest import mqtt_url  # noqa: F401 (a fixture, used by name)

REFERENCE = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "greenbutton" / "test_usage_data.xml"
)
ESPI = "http://naesb.org/espi"
NY = "America/New_York"
SERIAL = "MMGB00001"
START = datetime(2012, 3, 1, 5, tzinfo=UTC)  # local midnight, EST
END = datetime(2012, 3, 15, 4, tzinfo=UTC)  # local midnight, EDT
MONTH = (START, datetime(2012, 4, 1, 4, tzinfo=UTC))
"""March 2012 in New York, for monthly buckets."""
MARCH_2026 = (datetime(2026, 3, 1, 8, tzinfo=UTC), datetime(2026, 4, 1, 7, tzinfo=UTC))
GAP = (100, 101, 102)
"""Readings taken out of the sample: a 45-minute gap that VEE interpolates."""
EDITED = 500
"""The reading a person edits after VEE."""

runner = CliRunner()
ENV = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
Series = dict[int, tuple[int, int]]
"""Interval end [s] -> (energy [Wh], quality)."""


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), env=ENV)
    assert result.exit_code == 0, result.output
    return result.stdout


def sample() -> bytes:
    """The reference file with the gap's readings and every ReadingQuality taken out."""
    if not REFERENCE.is_file():
        pytest.skip(f"reference file {REFERENCE} is absent (../shared/reference is not checked out here)")
    root = etree.fromstring(REFERENCE.read_bytes())
    readings = root.findall(f".//{{{ESPI}}}IntervalReading")
    for quality in root.findall(f".//{{{ESPI}}}ReadingQuality"):
        quality.getparent().remove(quality)
    for k in GAP:
        readings[k].getparent().remove(readings[k])
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def readings(data: bytes) -> list[tuple[datetime, int]]:
    """(interval end, energy [Wh]) of the file's readings."""
    (reading,) = parse_greenbutton(data).meter_readings
    return [(r.end, int(r.scaled)) for r in reading.readings]


def z(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- the ways in ---------------------------------------------------------------------------------------


def by_csv(database: str, data: bytes, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    path = tmp_path / "own.csv"
    lines = ["meter,interval_end,energy_wh", *(f"{SERIAL},{z(t)},{wh}" for t, wh in readings(data))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run("ingest", str(path), "--database", database)


def by_http(database: str, data: bytes, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    body = {
        "meter": SERIAL,
        "intervals": [{"interval_end": z(t), "energy_wh": wh} for t, wh in readings(data)],
    }
    with Store(database) as store:
        _, token = store.create_api_token(role="operator", label="loader")
        client = TestClient(create_app(store, Settings(environment="development")))
        answer = client.post("/intervals", json=body, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code in (200, 201), answer.text


def by_mqtt(database: str, data: bytes, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from meshmeter.headend.mqtt import MqttIngestor, interval_topic, parse_mqtt_url

    url = request.getfixturevalue("mqtt_url")
    prefix = f"meshmeter-matrix-{secrets.token_hex(6)}/v1"
    topic = interval_topic("matrix", SERIAL, topic_prefix=prefix)
    rows = readings(data)
    days = [rows[k : k + 96] for k in range(0, len(rows), 96)]  # a message a day, as a gateway would send
    host, port, *_ = parse_mqtt_url(url)
    with Store(database) as store, MqttIngestor(store, url, topic_prefix=prefix) as ingestor:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"matrix-{secrets.token_hex(4)}")
        client.connect(host, port)
        client.loop_start()
        try:
            for day in days:
                message = {
                    "meter": SERIAL,
                    "intervals": [{"interval_end": z(t), "energy_wh": wh} for t, wh in day],
                }
                client.publish(topic, json.dumps(message).encode(), qos=1).wait_for_publish(timeout=10)
        finally:
            client.disconnect()
            client.loop_stop()
        deadline = time.monotonic() + 60  # a bound on waiting, not a timing: CI machines are busy
        # `messages` counts a message as it arrives, `accepted` once it is stored: wait for every message to
        # be handled (stored or refused), not only to arrive, before comparing.
        while ingestor.accepted + ingestor.rejected_total + ingestor.failed < len(days):
            assert time.monotonic() < deadline, f"{ingestor.accepted} of {len(days)} messages stored"
            time.sleep(0.02)
        assert ingestor.accepted == len(days), ingestor.last_error


def by_greenbutton(database: str, data: bytes, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    path = tmp_path / "usage.xml"
    path.write_bytes(data)
    run("import", str(path), "--meter", SERIAL, "--database", database)


DOORS: dict[str, Callable[[str, bytes, Path, pytest.FixtureRequest], None]] = {
    "csv": by_csv,
    "http": by_http,
    "mqtt": by_mqtt,
    "greenbutton": by_greenbutton,
}


# -- the ways out --------------------------------------------------------------------------------------


def api_buckets(
    database: str, serial: str, resolution: str, start: datetime, end: datetime, tz: str = NY
) -> list[dict[str, Any]]:
    with Store(database) as store:
        _, token = store.create_api_token(role="read-only", label="reader")
        client = TestClient(create_app(store, Settings(environment="development")))
        answer = client.get(
            f"/meters/{serial}/intervals",
            params={"start": z(start), "end": z(end), "resolution": resolution, "tz": tz},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def from_api(database: str, serial: str, start: datetime, end: datetime, tz: str = NY) -> Series:
    out: Series = {}
    for b in api_buckets(database, serial, "15min", start, end, tz):
        if b["count"]:
            t = int(datetime.fromisoformat(b["interval_end"]).timestamp())
            out[t] = (b["energy_wh"], b["quality"])
    return out


def from_csv_export(database: str, serial: str, start: datetime, end: datetime) -> Series:
    text = run("export", "--meter", serial, "--start", z(start), "--end", z(end), "--database", database)
    return {
        int(datetime.fromisoformat(r["interval_end"]).timestamp()): (int(r["energy_wh"]), int(r["quality"]))
        for r in csv.DictReader(io.StringIO(text))
    }


def from_greenbutton_export(
    database: str, serial: str, start: datetime, end: datetime, tmp_path: Path
) -> Series:
    out_file = tmp_path / f"export-{secrets.token_hex(3)}.xml"
    run("export", "--meter", serial, "--start", z(start), "--end", z(end), "--format", "greenbutton",
        "--timezone", NY, "-o", str(out_file), "--database", database)  # fmt: skip
    (reading,) = parse_greenbutton(out_file.read_bytes()).meter_readings
    return {
        int(r.end.timestamp()): (int(r.scaled), r.qualities[0] if r.qualities else 0)
        for r in reading.readings
    }


def check_coarser(
    database: str,
    serial: str,
    series: Series,
    start: datetime,
    end: datetime,
    months: tuple[datetime, datetime],
    tz: str = NY,
) -> None:
    """Hourly, daily and monthly buckets are the 15-minute view's sums with its least trusted quality."""
    for resolution, lo_bound, hi_bound in (
        ("hourly", start, end),
        ("daily", start, end),
        ("monthly", *months),
    ):
        for b in api_buckets(database, serial, resolution, lo_bound, hi_bound, tz):
            lo = int(datetime.fromisoformat(b["interval_start"]).timestamp())
            hi = int(datetime.fromisoformat(b["interval_end"]).timestamp())
            inside = [v for t, v in series.items() if lo < t <= hi]
            assert b["count"] == len(inside), (resolution, b)
            if inside:
                assert b["energy_wh"] == sum(e for e, _ in inside), (resolution, b)
                assert b["quality"] == max((q for _, q in inside), key=QUALITY_RANK.__getitem__), (
                    resolution,
                    b,
                )


def every_way_out(
    database: str,
    serial: str,
    start: datetime,
    end: datetime,
    tmp_path: Path,
    months: tuple[datetime, datetime],
    tz: str = NY,
) -> Series:
    """The 15-minute view as every way out gives it; asserts they agree, and returns it."""
    api = from_api(database, serial, start, end, tz)
    assert from_csv_export(database, serial, start, end) == api
    assert from_greenbutton_export(database, serial, start, end, tmp_path) == api
    check_coarser(database, serial, api, start, end, months, tz)
    return api


def check_bill(database: str, serial: str, series: Series, start_date: str, end_date: str) -> None:
    """``meshmeter bill --save`` and ``GET /bills/{id}`` bill the view's billed kWh and flag its estimates."""
    result = runner.invoke(
        app,
        [
            "bill",
            "--tariff",
            "example:tiered-flat-example",
            "--meter",
            serial,
            "--start",
            start_date,
            "--end",
            end_date,
            "--json",
            "--save",
            "--database",
            database,
        ],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["energy_wh"] == sum(e for e, q in series.values() if q in (0, 7, 8, 9))
    assert doc["estimated_wh"] == sum(e for e, q in series.values() if q in (8, 9))
    with Store(database) as store:
        _, token = store.create_api_token(role="billing", label="biller")
        client = TestClient(create_app(store, Settings(environment="development")))
        headers = {"Authorization": f"Bearer {token}"}
        listed = client.get("/bills", params={"meter": serial}, headers=headers)
        assert listed.status_code == 200, listed.text
        (stored,) = [b for b in listed.json()["data"] if b["total"] == doc["total"]]
        one = client.get(f"/bills/{stored['id']}", headers=headers)
        assert one.status_code == 200, one.text
        assert one.json()["energy_wh"] == doc["energy_wh"]


# -- the matrix ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_way_in_gives_the_same_view_by_every_way_out(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    data = sample()
    expected = {int(t.timestamp()): wh for t, wh in readings(data)}
    states: dict[str, dict[str, Series]] = {"before": {}, "vee": {}, "edit": {}}
    doors = dict(DOORS)
    for name, door in doors.items():
        database = f"sqlite:///{tmp_path / f'{name}.sqlite'}"
        site_id = run(
            "site", "add", "--name", "Green Button", "--timezone", NY, "--database", database
        ).strip()
        run("meter", "add", "--serial", SERIAL, "--site-id", site_id, "--database", database)
        try:
            door(database, data, tmp_path, request)
        except pytest.skip.Exception:  # no broker here (in CI the mqtt_url fixture fails instead)
            continue
        before = every_way_out(database, SERIAL, START, END, tmp_path, MONTH)
        assert before == {t: (wh, 14) for t, wh in expected.items()}, name  # received, not validated
        run("vee", "--meter", SERIAL, "--start", z(START), "--end", z(END), "--database", database)
        after = every_way_out(database, SERIAL, START, END, tmp_path, MONTH)
        check_bill(database, SERIAL, after, "2012-03-01", "2012-03-15")
        with Store(database) as store:
            meter = store.get_meter(serial=SERIAL)
            assert meter is not None
            t = datetime.fromtimestamp(sorted(after)[EDITED], UTC)
            edit_intervals(store, meter_id=meter.id, rows=[(t, 1234)], edited_by="clerk", reason="meter test")
        edited = every_way_out(database, SERIAL, START, END, tmp_path, MONTH)
        states["before"][name], states["vee"][name], states["edit"][name] = before, after, edited

    assert {"csv", "http", "greenbutton"} <= set(states["before"])
    for state, by_door in states.items():
        first = next(iter(by_door.values()))
        for name, series in by_door.items():
            assert series == first, (state, name)
    after = states["vee"]["csv"]
    gap = sorted(set(after) - set(expected))
    assert len(gap) == len(GAP)  # the gap, estimated ...
    assert {after[t][1] for t in gap} == {9}  # ... by linear interpolation
    assert {q for t, (_, q) in after.items() if t not in gap} == {0}
    edited = states["edit"]["csv"]
    changed = {t for t in edited if edited[t] != after[t]}
    assert [edited[t] for t in changed] == [(1234, 7)]


@pytest.mark.slow
def test_a_simulated_site_gives_one_view_by_every_way_out(tmp_path: Path) -> None:
    """The simulated site's own data: every way out agrees, before and after VEE."""
    from meshmeter.site.example import demo_site_toml

    site_file = tmp_path / "site.toml"
    site_file.write_text(demo_site_toml(), encoding="utf-8")
    database = f"sqlite:///{tmp_path / 'sim.sqlite'}"
    start = datetime(2026, 3, 7, 8, tzinfo=UTC)  # local midnight in Los Angeles, before the change
    run("site", "simulate", str(site_file), "--days", "2", "--start", z(start), "--database", database)
    with Store(database) as store:
        serials = [m.serial for m in store.meters()][:2]
    for serial in serials:
        view = every_way_out(database, serial, *MARCH_2026, tmp_path, MARCH_2026, "America/Los_Angeles")
        inside = {t: q for t, (_, q) in view.items() if t > start.timestamp()}
        assert len(inside) == 192  # two days of quarter-hours (the MDT's record at the start is before them)
        assert set(inside.values()) <= {0, 7, 8, 9, 10}  # the simulation ran VEE over its window
