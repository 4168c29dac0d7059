"""Interval reads kept for the next reader (issue 12, defect 9): an answer is served again only while the
meter's intervals are unchanged, whoever writes them (the API, the CLI in another process, VEE, an edit);
its ETag gives 304 to a client that has it; memory stays bounded."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from meshmeter.api import Settings, create_app
from meshmeter.api.cache import CachedAnswer, ReadCache
from tests.api.conftest import ADMIN, ADMIN_TOKEN, T0, TestClient

URL = "/meters/M1/intervals"
DAY = {"start": "2024-03-01T08:00:00Z", "end": "2024-03-02T08:00:00Z"}
"""M1's first local day (site_data: 96 quarter-hours of 100 Wh from T0)."""


def _get(client, headers=None, **params):
    return client.get(URL, params=params or DAY, headers={**ADMIN, **(headers or {})})


def _cache(client) -> ReadCache:
    cache: ReadCache = client.app.state.read_cache
    return cache


def test_a_second_read_is_served_from_the_cache_with_the_same_etag(client, site_data):
    first = _get(client)
    second = _get(client)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert first.headers["etag"] == second.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    assert (_cache(client).misses, _cache(client).hits) == (1, 1)


def test_if_none_match_gives_304_without_a_body_until_the_data_changes(client, store, site_data):
    etag = _get(client).headers["etag"]
    again = _get(client, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert _get(client, headers={"If-None-Match": f'W/{etag}, "other"'}).status_code == 304
    assert _get(client, headers={"If-None-Match": '"other"'}).status_code == 200
    store.put_validated_intervals(
        meter_id=site_data["m1"], rows=[(T0 + timedelta(minutes=15), 90, 7)], edited_by="ops", reason="test"
    )
    changed = _get(client, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["data"][0]["energy_wh"] == 90


def test_each_parameter_is_part_of_the_key(client, site_data):
    answers = [
        _get(client),
        _get(client, **DAY, resolution="hourly"),
        _get(client, **DAY, format="csv"),
        _get(client, **DAY, tz="America/Los_Angeles"),
        _get(client, start="2024-03-01T08:00:00Z", end="2024-03-01T09:00:00Z"),
    ]
    assert all(a.status_code == 200 for a in answers)
    assert len({a.headers["etag"] for a in answers}) == len(answers)
    assert len({a.content for a in answers}) == len(answers)
    assert answers[2].headers["content-type"].startswith("text/csv")
    assert answers[2].headers["content-disposition"].startswith("attachment;")


def test_an_ingest_through_the_api_is_seen_by_the_next_read(client, site_data):
    before = _get(client).json()
    assert before["data"][0]["energy_wh"] == 100
    # a revised value of the day's first quarter-hour (a new revision), as a DCAP would send it again
    sent = client.post(
        "/meters/M1/intervals",
        json={"intervals": [{"interval_end": "2024-03-01T08:15:00Z", "energy_wh": 130}]},
        headers=ADMIN,
    )
    assert sent.status_code == 201, sent.text
    after = _get(client).json()
    assert after["data"][0]["energy_wh"] == 130


def test_a_resend_of_stored_rows_keeps_the_cached_answer(client, site_data):
    etag = _get(client).headers["etag"]
    sent = client.post(
        "/meters/M1/intervals",
        json={
            "intervals": [{"interval_end": "2024-03-01T08:15:00Z", "energy_wh": 100, "cumulative_wh": 100}]
        },
        headers=ADMIN,
    )
    assert sent.status_code == 200, sent.text  # nothing new: no write, no new version
    assert _get(client, headers={"If-None-Match": etag}).status_code == 304


def _store_url(store) -> str:
    return str(store.engines.writer.url.render_as_string(hide_password=False))


def test_vee_run_by_the_cli_in_another_process_changes_the_answer(client, store, site_data):
    """The writer is another process on the same database: the version is in the database, not in the
    server's memory."""
    assert {d["quality"] for d in _get(client).json()["data"]} == {14}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "meshmeter",
            "vee",
            "--meter",
            "M1",
            "--start",
            DAY["start"],
            "--end",
            DAY["end"],
            "--database",
            _store_url(store),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert {d["quality"] for d in _get(client).json()["data"]} == {0}


def _version(store, meter_id: int) -> int:
    meter = store.get_meter(meter_id=meter_id)
    assert meter is not None
    return int(meter.data_version)


def test_the_version_changes_only_when_the_view_may_have(store, site_data):
    m1 = site_data["m1"]
    version = _version(store, m1)
    end = T0 + timedelta(minutes=15)
    store.insert_raw_intervals(meter_id=m1, rows=[(end, 100, 100)], source="test")  # a duplicate
    assert _version(store, m1) == version
    store.insert_raw_intervals(meter_id=m1, rows=[(end, 101, None)], source="test")  # a revision
    assert _version(store, m1) == version + 1
    store.put_validated_intervals(meter_id=m1, rows=[(end, 101, 7)], edited_by="ops", reason="test")
    assert _version(store, m1) == version + 2
    store.put_validated_intervals(meter_id=m1, rows=[(end, 101, 7)], edited_by="ops", reason="test")
    assert _version(store, m1) == version + 2  # the same again: no change
    store.record_vee_run(meter_id=m1, start=T0, end=T0 + timedelta(days=1), batch_watermark=1, ran_by="t")
    assert _version(store, m1) == version + 3
    assert _version(store, site_data["m2"]) == 0  # another meter: untouched


def test_with_no_cache_answers_are_the_same_and_still_carry_an_etag(store, site_data):
    app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development", read_cache_mb=0))
    with TestClient(app) as client:
        first, second = _get(client), _get(client)
        assert first.content == second.content
        assert first.headers["etag"] == second.headers["etag"]
        assert len(_cache(client)) == 0
        assert _get(client, headers={"If-None-Match": first.headers["etag"]}).status_code == 304


@pytest.mark.parametrize("value", ["-1", "abc", "inf"])
def test_a_bad_cache_size_is_refused_at_start_up(monkeypatch, value):
    monkeypatch.setenv("MESHMETER_READ_CACHE_MB", value)
    with pytest.raises(ValueError, match="read_cache_mb"):
        Settings()


def test_the_cache_keeps_at_most_its_bytes_least_recently_used_first():
    cache = ReadCache(1000)
    for k in range(10):
        cache.put(k, CachedAnswer(bytes(200), "application/json"))
        assert cache.size_bytes <= 1000
    assert len(cache) == 5
    assert cache.get(0) is None  # the oldest went first
    assert cache.get(5) is not None
    cache.put(10, CachedAnswer(bytes(200), "application/json"))  # 6 was now the least recently used
    assert cache.get(6) is None
    assert cache.get(5) is not None
    cache.put("big", CachedAnswer(bytes(251), "application/json"))  # over a quarter: not kept
    assert cache.get("big") is None
    off = ReadCache(0)
    off.put(1, CachedAnswer(b"x", "text/plain"))
    assert off.get(1) is None
    with pytest.raises(ValueError, match="max_bytes"):
        ReadCache(-1)
