"""Issue 12 hardening: one document, every door, the meter's own limit (issue 12, "Plausibility limits
come from the meter's own ratings and apply to Green Button, JSON, CSV, MQTT and device readings alike").

The same interval — one Wh above what its meter can register, then exactly that — is sent by each door as
users drive them: ``meshmeter ingest FILE`` (JSON and CSV), ``POST /intervals`` (JSON and CSV) with an
operator's token, an MQTT message on the real broker taken by the ``MqttIngestor``, and ``meshmeter import
FILE --meter`` of a Green Button file. Every door refuses the first with ``energy_too_high``, naming the
row and field, the value and the limit, and stores nothing; every door stores the second.

The limits, worked by hand from the spec (certificate p.1: D dual, S single element, "2001" = 200:0.1 A;
manual §3.1: 138 V highest supply voltage, 220 A highest primary current for 200 A models, 0.11 A for
0.1 A secondaries, i.e. 110 % of the CT's rating on both sides):

- single element, 15 minutes: 1 × 138 V × 220 A × 0.25 h = 7,590 Wh;
- dual element, 15 minutes: 2 × 138 V × 220 A × 0.25 h = 15,180 Wh;
- dual element, hourly: 2 × 138 V × 220 A × 1 h = 60,720 Wh;
- dual element on 400:0.1 A CTs (outside the certificate; 110 % carried over, 440 A): 30,360 Wh.

Meters of other makes (issue 14) are bounded by the ratings their records carry, at every door alike,
E_max = elements × V_max (line to neutral) × I_max (primary) × t / 3600:

- Eastron SDM630MCT (V2) on 400:5 A CTs, 15 minutes: 3 × 289 V × 400 A × 0.25 h = 86,700 Wh. Three
  elements (three-phase four-wire), phase to neutral voltages 100-289 V AC, CT operated with 1 A or 5 A
  secondaries and primaries up to 6000 A (Eastron SDM630MCT V2 user manual §1.2;
  https://www.metermarket.co.uk/product/eastron-sdm630-mct-three-phase-multifunction-energy-meter;
  https://www.manualslib.com/manual/2995732/Eastron-Sdm630mct-Mod-Mid.html).
- Continental Control Systems WattNode WNC-3Y-208-MB on 200 A (0.333 V) CTs, hourly:
  3 × 120 V × 240 A × 1 h = 86,400 Wh. 120 V line to neutral ("Recommended WattNode Models", WattNode
  Modbus Installation and Operation Manual), CTs measured up to 120 % of their rated current
  (https://ctlsys.com/support/wattnode_module_modbus_-_models/, "CT Measurement Range: 1% - 120%").
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from typer.testing import CliRunner

from meshmeter.api import Settings, create_app
from meshmeter.cli import app
from meshmeter.headend.greenbutton import export_greenbutton
from meshmeter.store import Store
from tests.api.conftest import TestClient
from tests.headend.conftest import mqtt_url  # noqa: F401 (a fixture, used by name)

END = datetime(2026, 1, 1, 1, tzinfo=UTC)
STAMP = "2026-01-01T01:00:00Z"
EVER = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC))
ENV = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1", "TERM": "dumb"}
runner = CliRunner()


class Rated(NamedTuple):
    serial: str
    designation: str
    ct_ratio: float
    interval_s: int
    limit_wh: int
    manufacturer: str | None = None
    model: str | None = None
    elements: int | None = None
    voltage_max_v: float | None = None
    current_max_a: float | None = None

    def create(self, store: Store) -> int:
        """The meter registered as its record says."""
        return store.create_meter(
            serial=self.serial,
            designation=self.designation,
            ct_ratio=self.ct_ratio,
            interval_s=self.interval_s,
            manufacturer=self.manufacturer,
            model=self.model,
            elements=self.elements,
            voltage_max_v=self.voltage_max_v,
            current_max_a=self.current_max_a,
        ).id


SDM630MCT = Rated("SDM15", "SDM630MCT", 80, 900, 86_700, "Eastron", "SDM630MCT", 3, 289.0, 400.0)
WATTNODE = Rated(
    "WNC60", "WNC-3Y-208-MB", 1, 3600, 86_400, "Continental Control Systems", "WNC-3Y-208-MB", 3, 120.0, 240.0
)
METERS = [
    Rated("SINGLE15", "MM-S1202001-T-SCC", 2000, 900, 7_590),
    Rated("DUAL15", "MM-D1202001-T-SCC", 2000, 900, 15_180),
    Rated("DUAL60", "MM-D1202001-T-SCC", 2000, 3600, 60_720),
    Rated("DUAL15CT400", "MM-D1202001-T-SCC", 4000, 900, 30_360),
    SDM630MCT,
    WATTNODE,
]


class Answer(NamedTuple):
    """What a door did: stored it, or refused it with this reason, field and text."""

    stored: bool
    reason: str | None = None
    field: str | None = None
    text: str = ""


Door = Callable[[str, Rated, int, Path, pytest.FixtureRequest], Answer]


def json_body(m: Rated, energy_wh: int) -> str:
    return json.dumps({"meter": m.serial, "intervals": [{"interval_end": STAMP, "energy_wh": energy_wh}]})


def csv_body(m: Rated, energy_wh: int) -> str:
    return f"meter,interval_end,energy_wh\n{m.serial},{STAMP},{energy_wh}\n"


def by_cli(suffix: str, body: Callable[[Rated, int], str]) -> Door:
    def send(
        database: str, m: Rated, energy_wh: int, tmp_path: Path, request: pytest.FixtureRequest
    ) -> Answer:
        path = tmp_path / f"intervals-{energy_wh}.{suffix}"
        path.write_text(body(m, energy_wh), encoding="utf-8")
        result = runner.invoke(app, ["ingest", str(path), "--database", database], env=ENV)
        if result.exit_code == 0:
            return Answer(True)
        assert result.exit_code == 2, result.output  # bad input, no traceback
        reason = "energy_too_high" if "energy_too_high" in result.output else None
        return Answer(False, reason, None, result.output)

    return send


def by_http(content_type: str, body: Callable[[Rated, int], str]) -> Door:
    def send(
        database: str, m: Rated, energy_wh: int, tmp_path: Path, request: pytest.FixtureRequest
    ) -> Answer:
        with Store(database) as store:
            _, token = store.create_api_token(role="operator", label=f"loader {energy_wh}")
            with TestClient(create_app(store, Settings(environment="development"))) as client:
                answer = client.post(
                    "/intervals",
                    content=body(m, energy_wh).encode(),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
                )
        if answer.status_code in (200, 201):
            return Answer(True)
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        return Answer(False, problem["reason"], problem["field"], problem["detail"])

    return send


def by_mqtt(
    database: str, m: Rated, energy_wh: int, tmp_path: Path, request: pytest.FixtureRequest
) -> Answer:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from meshmeter.headend.mqtt import MqttIngestor, interval_topic, parse_mqtt_url

    url = request.getfixturevalue("mqtt_url")
    prefix = f"meshmeter-limits-{secrets.token_hex(6)}/v1"
    topic = interval_topic("limits", m.serial, topic_prefix=prefix)
    host, port, *_ = parse_mqtt_url(url)
    with Store(database) as store, MqttIngestor(store, url, topic_prefix=prefix) as ingestor:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"limits-{secrets.token_hex(4)}")
        client.connect(host, port)
        client.loop_start()
        try:
            client.publish(topic, json_body(m, energy_wh).encode(), qos=1).wait_for_publish(timeout=10)
        finally:
            client.disconnect()
            client.loop_stop()
        deadline = time.monotonic() + 20
        while ingestor.accepted + ingestor.rejected_total < 1:  # taken or refused, not only arrived
            assert time.monotonic() < deadline, f"the message was not handled ({ingestor.failed} failed)"
            time.sleep(0.02)
        if ingestor.accepted == 1:
            return Answer(True)
        ((reason, count),) = ingestor.rejected.items()
        assert count == 1
        return Answer(False, reason, None, ingestor.last_error or "")


def by_greenbutton(
    database: str, m: Rated, energy_wh: int, tmp_path: Path, request: pytest.FixtureRequest
) -> Answer:
    with Store(database) as store:
        source = store.create_meter(
            serial=f"SRC{energy_wh}", designation="MM-1", ct_ratio=2000, interval_s=m.interval_s
        )
        store.insert_raw_intervals(meter_id=source.id, rows=[(END, energy_wh)], source="test")
        data = export_greenbutton(
            store, meter_serial=source.serial, start=END - timedelta(seconds=m.interval_s), end=END
        )
    path = tmp_path / f"usage-{energy_wh}.xml"
    path.write_bytes(data)
    result = runner.invoke(app, ["import", str(path), "--meter", m.serial, "--database", database], env=ENV)
    if result.exit_code == 0:
        return Answer(True)
    assert result.exit_code == 2, result.output
    return Answer(
        False, "energy_too_high" if "energy_too_high" in result.output else None, None, result.output
    )


DOORS: dict[str, Door] = {
    "cli-json": by_cli("json", json_body),
    "cli-csv": by_cli("csv", csv_body),
    "http-json": by_http("application/json", json_body),
    "http-csv": by_http("text/csv", csv_body),
    "mqtt": by_mqtt,
    "greenbutton": by_greenbutton,
}
FIELDS = {
    "cli-json": "intervals[0].energy_wh",
    "cli-csv": "line 2: energy_wh",
    "mqtt": "intervals[0].energy_wh",
}
FIELDS |= {"http-json": FIELDS["cli-json"], "http-csv": FIELDS["cli-csv"]}


def stored(database: str, serial: str) -> list[tuple[datetime, int]]:
    with Store(database) as store:
        meter = store.get_meter(serial=serial)
        assert meter is not None
        rows = store.raw_intervals(meter_id=meter.id, start=EVER[0], end=EVER[1], all_revisions=True)
        return [(r.interval_end, r.energy_wh) for r in rows]


@pytest.mark.parametrize(
    "door",
    [pytest.param(name, marks=pytest.mark.mqtt) if name == "mqtt" else name for name in DOORS],
)
@pytest.mark.parametrize("m", METERS, ids=[m.serial for m in METERS])
def test_every_door_refuses_one_wh_above_the_meters_limit_and_takes_the_limit(
    tmp_path: Path, request: pytest.FixtureRequest, door: str, m: Rated
) -> None:
    database = f"sqlite:///{tmp_path / 'meshmeter.db'}"
    with Store(database) as store:
        m.create(store)
    send = DOORS[door]

    refused = send(database, m, m.limit_wh + 1, tmp_path, request)
    assert not refused.stored
    assert refused.reason == "energy_too_high", refused.text
    if refused.field is not None:
        assert refused.field == FIELDS[door]
    text = " ".join(refused.text.split())  # the CLI's console may wrap a long line
    assert f"{m.limit_wh + 1} Wh, above {m.limit_wh} Wh" in text
    assert m.serial in text
    if door in FIELDS:
        assert f"{FIELDS[door]} is {m.limit_wh + 1} Wh" in text
    assert stored(database, m.serial) == []

    assert send(database, m, m.limit_wh, tmp_path, request) == Answer(True)
    assert stored(database, m.serial) == [(END, m.limit_wh)]


# ---------------------------------------------------------------------------------------------------
# one value, two meters: a Mini Meter refuses what a 400 A three-element meter takes
# ---------------------------------------------------------------------------------------------------

BETWEEN_WH = 50_000
"""Above the dual element Mini Meter's 15,180 Wh in 15 minutes (2 × 138 V × 220 A × 0.25 h), under the
SDM630MCT's 86,700 Wh (3 × 289 V × 400 A × 0.25 h)."""


def test_ingest_takes_for_the_sdm630mct_what_it_refuses_for_a_mini_meter(tmp_path: Path) -> None:
    from meshmeter.headend.ingest import IngestError, ingest_json

    mini = Rated("MINI", "MM-D1202001-T-SCC", 2000, 900, 15_180)
    database = f"sqlite:///{tmp_path / 'meshmeter.db'}"
    with Store(database) as store:
        for m in (mini, SDM630MCT):
            m.create(store)
        with pytest.raises(IngestError) as refused:
            ingest_json(store, json_body(mini, BETWEEN_WH), source="test")
        assert refused.value.reason == "energy_too_high"
        assert f"{BETWEEN_WH} Wh, above 15180 Wh" in str(refused.value)
        assert ingest_json(store, json_body(SDM630MCT, BETWEEN_WH), source="test").stored == 1
    assert stored(database, mini.serial) == []
    assert stored(database, SDM630MCT.serial) == [(END, BETWEEN_WH)]


def test_a_meters_new_ratings_move_its_limit_at_the_next_ingest(tmp_path: Path) -> None:
    """A real meter registered before issue 14 under free text is judged as the default Mini Meter until
    its ratings are recorded (``Store.update_meter_kind``); then the same document is taken."""
    from meshmeter.headend.ingest import IngestError, ingest_json

    m = Rated("OLD", "MM-1", 2000, 900, 15_180)
    database = f"sqlite:///{tmp_path / 'meshmeter.db'}"
    with Store(database) as store:
        meter_id = m.create(store)
        with pytest.raises(IngestError, match="above 15180 Wh"):
            ingest_json(store, json_body(m, BETWEEN_WH), source="test")
        store.update_meter_kind(
            meter_id=meter_id,
            manufacturer=SDM630MCT.manufacturer,
            model=SDM630MCT.model,
            elements=SDM630MCT.elements,
            voltage_max_v=SDM630MCT.voltage_max_v,
            current_max_a=SDM630MCT.current_max_a,
        )
        assert ingest_json(store, json_body(m, BETWEEN_WH), source="test").stored == 1


def test_vees_rating_check_flags_for_the_mini_meter_only(tmp_path: Path) -> None:
    from meshmeter.headend.vee import VeeConfig, run_vee

    mini = Rated("MINI", "MM-D1202001-T-SCC", 2000, 900, 15_180)
    step = timedelta(minutes=15)
    values = [500] * 8 + [BETWEEN_WH, SDM630MCT.limit_wh + 1] + [500] * 2
    with Store(f"sqlite:///{tmp_path / 'meshmeter.db'}") as store:
        findings = {}
        for m in (mini, SDM630MCT):
            meter_id = m.create(store)
            rows = [(END + step * (k + 1), wh, None) for k, wh in enumerate(values)]
            store.insert_raw_intervals(meter_id=meter_id, rows=rows, source="test")
            report = run_vee(
                store,
                meter_id=meter_id,
                start=END,
                end=END + step * len(values),
                config=VeeConfig(spike_rule="rating"),
            )
            findings[m.serial] = [f.reason for f in report.findings]
    assert findings == {
        "MINI": [
            f"{BETWEEN_WH} Wh is above the rated maximum of 15180 Wh",
            "86701 Wh is above the rated maximum of 15180 Wh",
        ],
        "SDM15": ["86701 Wh is above the rated maximum of 86700 Wh"],
    }


# ---------------------------------------------------------------------------------------------------
# a record's own ratings, read and checked
# ---------------------------------------------------------------------------------------------------


def test_a_records_own_ratings_are_its_limit_and_a_partial_record_is_refused() -> None:
    from meshmeter.catalog.limits import RatedMeter, max_interval_energy_wh

    sdm = RatedMeter(
        designation="SDM630MCT", ct_ratio=80, elements=3, voltage_max_v=289.0, current_max_a=400.0
    )
    assert max_interval_energy_wh(sdm) == 86_700  # 3 × 289 V × 400 A × 0.25 h
    assert max_interval_energy_wh(sdm, interval_s=3600) == 346_800
    # a single element meter's decimal ratings are read as written: 1 × 230.1 V × 0.11 A × 1 h = 25.311 Wh
    assert (
        max_interval_energy_wh(
            RatedMeter(elements=1, voltage_max_v=230.1, current_max_a=0.11, interval_s=3600)
        )
        == 25
    )
    with pytest.raises(ValueError, match=r"meter\.voltage_max_v must be .* got None") as info:
        max_interval_energy_wh(RatedMeter(elements=3, current_max_a=400.0))
    assert "meter.current_max_a" not in str(info.value)
    with pytest.raises(ValueError, match=r"meter\.elements must be .* got 4") as info:
        max_interval_energy_wh(RatedMeter(elements=4, voltage_max_v=0.0, current_max_a=400.0))
    assert "meter.voltage_max_v must be a positive finite number with the other ratings, got 0.0" in str(
        info.value
    )
