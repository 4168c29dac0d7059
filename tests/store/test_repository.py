"""The repository on every backend: reference data, raw and validated intervals, reads, events, outbox."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from meshmeter.store import RawIntervalIn, Store, ValidatedIntervalIn
from meshmeter.store.schema import raw_intervals

T0 = datetime(2024, 1, 1, tzinfo=UTC)
Q = timedelta(minutes=15)
EUI = bytes.fromhex("0013a20041a1b2c3")
KEY = bytes(range(16))


@pytest.fixture
def meter(store: Store):
    site = store.create_site(name="Maple Court", timezone="America/Los_Angeles")
    return store.create_meter(
        serial="MM-0001",
        designation="MMC-200-1",
        ct_ratio=2000,
        install_date=date(2023, 12, 1),
        site_id=site.id,
    )


def _count_raw(store: Store) -> int:
    with store.engines.reader.connect() as c:
        return int(c.execute(select(func.count()).select_from(raw_intervals)).scalar_one())


def _day(n: int = 96, start: datetime = T0, energy_wh: int = 25):
    return [RawIntervalIn(start + (i + 1) * Q, energy_wh, (i + 1) * energy_wh) for i in range(n)]


# -- reference data --


def test_site_meter_mdt_tenant_account_round_trip(store: Store, meter):
    assert store.get_meter(serial="MM-0001") == meter
    assert store.get_meter(meter_id=meter.id) == meter
    assert store.get_meter(serial="nope") is None
    assert meter.ct_ratio == 2000.0
    assert meter.multiplier == 1.0
    assert meter.install_date == date(2023, 12, 1)
    assert store.get_site(site_id=meter.site_id).timezone == "America/Los_Angeles"

    mdt = store.create_mdt(eui64=EUI, kit="MMSMT-C02", key=KEY, meter_id=meter.id)
    assert store.get_mdt(eui64=EUI) == mdt
    assert store.get_mdt(eui64=bytes(8)) is None
    assert KEY.hex() not in repr(mdt)

    tenant = store.create_tenant(name="A. Tenant")
    assert store.get_tenant(tenant_id=tenant.id) == tenant
    account = store.create_account(tenant_id=tenant.id, meter_id=meter.id, unit="4B", move_in=T0)
    assert account.closed_at is None
    assert [(o.unit, o.move_in, o.move_out) for o in store.occupancies(account_id=account.id)] == [
        ("4B", T0, None)
    ]
    closed = store.close_account(account_id=account.id, move_out=T0 + timedelta(days=30))
    assert closed.closed_at == T0 + timedelta(days=30)
    assert store.accounts(meter_id=meter.id) == [closed]
    assert store.accounts(tenant_id=tenant.id) == [closed]
    assert store.occupancies(meter_id=meter.id)[0].move_out == T0 + timedelta(days=30)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ct_ratio": math.nan}, "ct_ratio"),
        ({"ct_ratio": 0}, "ct_ratio"),
        ({"multiplier": -1.0}, "multiplier"),
        ({"site_id": 999}, "site_id 999 is not a known site"),
        ({"install_date": datetime(2024, 1, 1, tzinfo=UTC)}, "install_date"),
        ({"serial": " "}, "serial"),
    ],
)
def test_bad_meter_refused(store: Store, kwargs, match):
    args = {"serial": "X-1", "designation": "MMC", "ct_ratio": 2000.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        store.create_meter(**args)
    assert store.get_meter(serial=args["serial"]) is None


def test_duplicate_serial_and_eui64_refused(store: Store, meter):
    with pytest.raises(ValueError, match="serial 'MM-0001' is already a meter"):
        store.create_meter(serial="MM-0001", designation="MMC", ct_ratio=2000)
    store.create_mdt(eui64=EUI, kit="MMSMT-C02", key=KEY)
    with pytest.raises(ValueError, match="eui64 0013a20041a1b2c3 is already an MDT"):
        store.create_mdt(eui64=EUI, kit="MMSMT-C02", key=KEY)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"eui64": b"\x00" * 7}, "eui64 must be 8 bytes"),
        ({"key": b"\x00" * 15}, "key must be 16 bytes"),
        ({"meter_id": 424242}, "meter_id 424242 is not a known meter"),
    ],
)
def test_bad_mdt_refused(store: Store, kwargs, match):
    with pytest.raises(ValueError, match=match):
        store.create_mdt(**{"eui64": EUI, "kit": "MMSMT-C02", "key": KEY, **kwargs})
    assert store.get_mdt(eui64=EUI) is None


def test_bad_site_timezone_refused(store: Store):
    with pytest.raises(ValueError, match="timezone must be an IANA time zone name"):
        store.create_site(name="S", timezone="Pacific Standard Time")


def test_account_move_out_before_move_in_refused(store: Store, meter):
    tenant = store.create_tenant(name="T")
    with pytest.raises(ValueError, match="move_out must be after move_in"):
        store.create_account(tenant_id=tenant.id, meter_id=meter.id, unit="1", move_in=T0, move_out=T0)
    with pytest.raises(ValueError, match="move_in must be timezone-aware"):
        store.create_account(tenant_id=tenant.id, meter_id=meter.id, unit="1", move_in=datetime(2024, 1, 1))
    assert store.accounts() == []


# -- raw intervals --


def test_raw_insert_is_idempotent(store: Store, meter):
    day = _day()
    assert store.insert_raw_intervals(meter_id=meter.id, rows=day, source="dcap") == 96
    assert store.insert_raw_intervals(meter_id=meter.id, rows=day, source="dcap") == 0
    # the same values from another path, and a batch overlapping the first: only the new ones count
    assert store.insert_raw_intervals(meter_id=meter.id, rows=day[:10], source="csv") == 0
    more = _day(n=192)
    assert store.insert_raw_intervals(meter_id=meter.id, rows=more, source="mqtt") == 96
    assert _count_raw(store) == 192
    got = store.raw_intervals(meter_id=meter.id, start=T0, end=T0 + timedelta(days=2))
    assert [r.interval_end for r in got] == [row.interval_end for row in more]
    assert {r.source for r in got[:96]} == {"dcap"}
    assert {r.revision for r in got} == {0}


def test_repeated_interval_in_one_batch_counts_once(store: Store, meter):
    row = (T0 + Q, 10, 10)
    assert store.insert_raw_intervals(meter_id=meter.id, rows=[row, row], source="http") == 1


def test_conflicting_raw_interval_is_kept_as_revision(store: Store, meter):
    end = T0 + Q
    assert store.insert_raw_intervals(meter_id=meter.id, rows=[(end, 20, 100)], source="dcap") == 1
    assert store.insert_raw_intervals(meter_id=meter.id, rows=[(end, 30, 110)], source="csv") == 1
    # sending either value again stores nothing
    assert store.insert_raw_intervals(meter_id=meter.id, rows=[(end, 30, 110)], source="csv") == 0
    assert store.insert_raw_intervals(meter_id=meter.id, rows=[(end, 20, 100)], source="dcap") == 0
    latest = store.raw_intervals(meter_id=meter.id, start=T0, end=end)
    assert [(r.revision, r.energy_wh, r.source) for r in latest] == [(1, 30, "csv")]
    every = store.raw_intervals(meter_id=meter.id, start=T0, end=end, all_revisions=True)
    assert [(r.revision, r.energy_wh, r.cumulative_wh) for r in every] == [(0, 20, 100), (1, 30, 110)]


def test_range_is_start_exclusive_end_inclusive(store: Store, meter):
    store.insert_raw_intervals(meter_id=meter.id, rows=_day(n=8), source="dcap")
    got = store.raw_intervals(meter_id=meter.id, start=T0 + Q, end=T0 + 3 * Q)
    assert [r.interval_end for r in got] == [T0 + 2 * Q, T0 + 3 * Q]


def test_time_round_trips_as_aware_utc(store: Store, meter):
    pacific = timezone(timedelta(hours=-8))
    end_local = datetime(2024, 3, 10, 1, 45, tzinfo=pacific)  # 09:45 UTC
    received = datetime(2024, 3, 10, 11, 0, 0, 750_000, tzinfo=timezone(timedelta(hours=2)))
    store.insert_raw_intervals(meter_id=meter.id, rows=[(end_local, 5)], source="http", received_at=received)
    (got,) = store.raw_intervals(meter_id=meter.id, start=end_local - Q, end=end_local)
    assert got.interval_end == datetime(2024, 3, 10, 9, 45, tzinfo=UTC)
    assert got.interval_end.utcoffset() == timedelta(0)
    assert got.interval_end.tzinfo is UTC
    assert got.received_at == datetime(2024, 3, 10, 9, 0, 0, tzinfo=UTC)  # sub-second dropped
    assert got.received_at.tzinfo is UTC
    assert got.cumulative_wh is None


@pytest.mark.parametrize(
    ("bad_row", "match"),
    [
        ((T0 + 5 * Q, math.nan, None), r"rows\[4\]\.energy_wh must be a non-negative integer"),
        ((T0 + 5 * Q, -1, None), r"rows\[4\]\.energy_wh"),
        ((T0 + 5 * Q, 2.5, None), r"rows\[4\]\.energy_wh"),
        ((T0 + 5 * Q, True, None), r"rows\[4\]\.energy_wh"),
        ((T0 + 5 * Q, 10, -5), r"rows\[4\]\.cumulative_wh"),
        ((datetime(2024, 1, 1, 1, 15), 10, None), r"rows\[4\]\.interval_end must be timezone-aware"),
        (
            (T0 + 5 * Q + timedelta(microseconds=1), 10, None),
            r"rows\[4\]\.interval_end must be a whole second",
        ),
        ((T0 + Q, 99, None), r"rows\[4\]\.interval_end .* appears twice"),
        ("garbage", r"rows\[4\] must be"),
    ],
)
def test_bad_raw_row_refuses_the_whole_batch(store: Store, meter, bad_row, match):
    rows: list = [(T0 + (i + 1) * Q, 10, None) for i in range(4)] + [bad_row] + [(T0 + 9 * Q, 10, None)]
    with pytest.raises(ValueError, match=match):
        store.insert_raw_intervals(meter_id=meter.id, rows=rows, source="http")
    assert _count_raw(store) == 0


def test_raw_for_unknown_meter_refused(store: Store, meter):
    with pytest.raises(ValueError, match="meter_id 9999 is not a known meter"):
        store.insert_raw_intervals(meter_id=9999, rows=_day(n=4), source="http")
    with pytest.raises(ValueError, match="meter_id must be a positive integer id"):
        store.insert_raw_intervals(meter_id=0, rows=_day(n=4), source="http")
    assert _count_raw(store) == 0


def test_naive_range_refused(store: Store, meter):
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        store.raw_intervals(meter_id=meter.id, start=datetime(2024, 1, 1), end=T0)
    with pytest.raises(ValueError, match="start must not be after end"):
        store.raw_intervals(meter_id=meter.id, start=T0 + Q, end=T0)


def test_year_of_intervals_in_one_call(store: Store, meter, request):
    """35,040 15-minute intervals of one meter (a non-leap year) in one call, and read back."""
    n = 365 * 96
    rows = [RawIntervalIn(T0 + (i + 1) * Q, i % 97, 1_000_000 + i) for i in range(n)]
    t_insert = time.perf_counter()
    assert store.insert_raw_intervals(meter_id=meter.id, rows=rows, source="dcap") == n
    t_insert = time.perf_counter() - t_insert
    t_read = time.perf_counter()
    got = store.raw_intervals(meter_id=meter.id, start=T0, end=T0 + n * Q)
    t_read = time.perf_counter() - t_read
    t_again = time.perf_counter()
    assert store.insert_raw_intervals(meter_id=meter.id, rows=rows, source="dcap") == 0
    t_again = time.perf_counter() - t_again
    assert len(got) == n
    assert [(r.interval_end, r.energy_wh, r.cumulative_wh) for r in got] == [tuple(r) for r in rows]
    backend = request.node.callspec.params["store"]
    figures = (
        f"{backend}: insert {n} rows {t_insert * 1e3:.0f} ms ({n / t_insert:,.0f} rows/s), "
        f"read back {t_read * 1e3:.0f} ms, re-insert (all duplicates) {t_again * 1e3:.0f} ms"
    )
    request.node.user_properties.append(("bulk_figures", figures))
    print("\n" + figures)


# -- validated intervals and the audit of edits --


def test_validated_intervals_and_audit(store: Store, meter):
    store.insert_raw_intervals(meter_id=meter.id, rows=_day(n=4, energy_wh=25), source="dcap")
    t1, t2, t3, t4, t5 = (T0 + (i + 1) * Q for i in range(5))
    at = datetime(2024, 1, 2, 6, 0, tzinfo=UTC)
    changed = store.put_validated_intervals(
        meter_id=meter.id,
        rows=[
            ValidatedIntervalIn(t1, 25, 0),  # raw passed: no audit
            ValidatedIntervalIn(t2, 25, 10),  # raw flagged questionable: no audit
            ValidatedIntervalIn(t3, 40, 7),  # edited: audited, old = raw 25
            ValidatedIntervalIn(t5, 30, 9),  # a gap interpolated: audited, old = None
        ],
        edited_by="vee",
        reason="vee run 1",
        edited_at=at,
    )
    assert changed == 4
    # again: nothing changes, nothing audited
    assert (
        store.put_validated_intervals(
            meter_id=meter.id, rows=[(t1, 25, 0), (t3, 40, 7)], edited_by="vee", reason="vee run 2"
        )
        == 0
    )
    # an operator overrides an estimate: audited with the old validated value
    assert (
        store.put_validated_intervals(
            meter_id=meter.id, rows=[(t5, 35, 7)], edited_by="alice", reason="site visit", edited_at=at
        )
        == 1
    )
    got = store.validated_intervals(meter_id=meter.id, start=T0, end=t5)
    assert [(g.interval_end, g.energy_wh, g.quality) for g in got] == [
        (t1, 25, 0),
        (t2, 25, 10),
        (t3, 40, 7),
        (t5, 35, 7),
    ]
    edits = store.interval_edits(meter_id=meter.id, start=T0, end=t5)
    assert [
        (
            e.interval_end,
            e.old_energy_wh,
            e.old_quality,
            e.new_energy_wh,
            e.new_quality,
            e.edited_by,
            e.reason,
        )
        for e in edits
    ] == [
        (t3, 25, None, 40, 7, "vee", "vee run 1"),
        (t5, None, None, 30, 9, "vee", "vee run 1"),
        (t5, 30, 9, 35, 7, "alice", "site visit"),
    ]
    assert {e.edited_at for e in edits} == {at}
    # raw data untouched
    raw = store.raw_intervals(meter_id=meter.id, start=T0, end=t4)
    assert [r.energy_wh for r in raw] == [25, 25, 25, 25]


@pytest.mark.parametrize(
    ("bad_row", "match"),
    [
        ((T0 + 2 * Q, 10, 3), r"rows\[1\]\.quality must be an ESPI code"),
        ((T0 + 2 * Q, math.nan, 0), r"rows\[1\]\.energy_wh"),
        ((datetime(2024, 1, 1, 0, 30), 10, 0), r"rows\[1\]\.interval_end must be timezone-aware"),
    ],
)
def test_bad_validated_row_refuses_the_whole_batch(store: Store, meter, bad_row, match):
    with pytest.raises(ValueError, match=match):
        store.put_validated_intervals(
            meter_id=meter.id, rows=[(T0 + Q, 10, 9), bad_row], edited_by="vee", reason="r"
        )
    assert store.validated_intervals(meter_id=meter.id, start=T0, end=T0 + timedelta(days=1)) == []
    assert store.interval_edits(meter_id=meter.id, start=T0, end=T0 + timedelta(days=1)) == []


# -- register reads, events, frame audit --


def test_register_reads(store: Store, meter):
    assert store.add_register_read(meter_id=meter.id, read_at=T0, energy_wh=1_000_000) is True
    assert store.add_register_read(meter_id=meter.id, read_at=T0, energy_wh=1_000_000) is False
    with pytest.raises(ValueError, match="energy_wh 1000001 conflicts"):
        store.add_register_read(meter_id=meter.id, read_at=T0, energy_wh=1_000_001)
    with pytest.raises(ValueError, match="energy_wh"):
        store.add_register_read(meter_id=meter.id, read_at=T0 + Q, energy_wh=math.inf)
    with pytest.raises(ValueError, match="read_at must be timezone-aware"):
        store.add_register_read(meter_id=meter.id, read_at=datetime(2024, 1, 2), energy_wh=1)
    reads = store.register_reads(meter_id=meter.id, start=T0 - Q, end=T0 + timedelta(days=1))
    assert [(r.read_at, r.energy_wh) for r in reads] == [(T0, 1_000_000)]


def test_events(store: Store, meter):
    event = store.add_event(kind="tamper", at=T0, meter_id=meter.id, eui64=EUI, detail={"cover_open": True})
    store.add_event(kind="comm_loss", at=T0 + Q, meter_id=meter.id, detail={"silent_s": 3600})
    store.add_event(kind="repeater_power_loss", at=T0 + 2 * Q)
    assert store.events(kind="tamper") == [event]
    assert [e.kind for e in store.events(meter_id=meter.id)] == ["tamper", "comm_loss"]
    assert [e.kind for e in store.events(start=T0)] == ["comm_loss", "repeater_power_loss"]
    with pytest.raises(ValueError, match="detail must be JSON"):
        store.add_event(kind="low_battery", at=T0, detail={"voltage_v": math.nan})
    with pytest.raises(ValueError, match="meter_id 777 is not a known meter"):
        store.add_event(kind="low_battery", at=T0, meter_id=777)
    assert len(store.events()) == 3


def test_frame_audit(store: Store):
    ok = store.audit_frame(eui64=EUI, frame_counter=7, accepted=True, received_at=T0)
    bad = store.audit_frame(eui64=EUI, frame_counter=7, accepted=False, reason="replay", received_at=T0)
    assert store.frame_audits(eui64=EUI) == [ok, bad]
    assert store.frame_audits(accepted=False) == [bad]
    with pytest.raises(ValueError, match="reason is required"):
        store.audit_frame(eui64=EUI, frame_counter=8, accepted=False)
    with pytest.raises(ValueError, match="frame_counter"):
        store.audit_frame(eui64=EUI, frame_counter=2**32, accepted=True)


# -- push outbox --


def test_outbox_enqueue_claim_deliver(store: Store):
    first = store.outbox_enqueue(channel="mqtt", idempotency_key="k1", payload={"wh": 1}, now=T0)
    second = store.outbox_enqueue(channel="webhook", idempotency_key="k2", payload=[1, 2], now=T0 + Q)
    assert first.attempts == 0
    assert first.delivered_at is None
    assert first.next_attempt_at == T0
    assert store.outbox_claim(now=T0 - Q) == []  # nothing due yet

    claimed = store.outbox_claim(now=T0 + Q, lease_s=60)
    assert [m.id for m in claimed] == [first.id, second.id]
    assert [m.attempts for m in claimed] == [1, 1]
    assert store.outbox_claim(now=T0 + Q) == []  # leased to the first claimant

    store.outbox_mark_delivered(message_id=first.id, at=T0 + Q)
    store.outbox_mark_failed(message_id=second.id, retry_at=T0 + 2 * Q, error="HTTP 503")
    assert store.outbox_get(message_id=first.id).delivered_at == T0 + Q
    assert store.outbox_get(message_id=second.id).last_error == "HTTP 503"
    assert store.outbox_pending() == 1
    assert store.outbox_claim(now=T0 + Q + timedelta(minutes=5)) == []

    retried = store.outbox_claim(now=T0 + 2 * Q, channel="webhook")
    assert [(m.id, m.attempts, m.payload) for m in retried] == [(second.id, 2, [1, 2])]
    # the sender dies: after the lease the message is due again (at-least-once)
    again = store.outbox_claim(now=T0 + 2 * Q + timedelta(seconds=61))
    assert [(m.id, m.attempts) for m in again] == [(second.id, 3)]
    store.outbox_mark_delivered(message_id=second.id)
    store.outbox_mark_delivered(message_id=second.id)  # idempotent
    assert store.outbox_pending() == 0
    with pytest.raises(ValueError, match="message_id 999 is not a known outbox message"):
        store.outbox_mark_delivered(message_id=999)


def test_outbox_idempotency_key_is_unique(store: Store):
    first = store.outbox_enqueue(
        channel="mqtt", idempotency_key="meter-1/2024-01-01T00:15Z", payload={"a": 1}
    )
    again = store.outbox_enqueue(
        channel="mqtt", idempotency_key="meter-1/2024-01-01T00:15Z", payload={"a": 1}
    )
    assert again == first
    with pytest.raises(ValueError, match=r"idempotency_key .* is already used by message"):
        store.outbox_enqueue(channel="mqtt", idempotency_key="meter-1/2024-01-01T00:15Z", payload={"a": 2})
    with pytest.raises(ValueError, match="payload must be JSON"):
        store.outbox_enqueue(channel="mqtt", idempotency_key="k9", payload={"a": math.nan})
    assert store.outbox_pending() == 1


def test_a_taken_serial_is_named_beside_a_bad_argument(store: Store, meter) -> None:
    """Every problem at once (the dashboard's register form and ``POST /meters`` show what the store says):
    before, a bad CT ratio hid that the serial was taken, to be found on the next try."""
    with pytest.raises(ValueError, match="ct_ratio") as refused:
        store.create_meter(serial="MM-0001", designation="MMC", ct_ratio=0)
    said = str(refused.value)
    assert "ct_ratio" in said
    assert "serial 'MM-0001' is already a meter" in said
    assert [m.serial for m in store.meters()] == ["MM-0001"]
