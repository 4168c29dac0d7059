"""The network page's mesh drawing at a phone's and a desktop's size, in Debian's chromium (issue 15).

Each device of the drawing has a label under its marker (the unit or the repeater's name, shortened on a
narrow screen); a label that would overlap one already drawn is left out, and the device's hover text
keeps its full name. Here the labels plotly drew (SVG ``text`` in the plot) are measured in the browser:
no two intersect, none covers another device's marker, none runs out of the plot area, and every device
drawn without a label has its full name (as the page's device table gives it) in its hover text. The
building is the demo's, cut to its DCAP, its four repeaters and seven MDTs (twelve devices, so that
every device asks for a label), two of them a metre apart on two floors: labels that would collide at
375 px and at 1280 px alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from meshmeter.api import Settings, create_app
from meshmeter.api.auth import SESSION_COOKIE
from meshmeter.api.dashboard.network_view import DeviceName, narrow_label, plot_label
from meshmeter.demo import run_site_demo
from meshmeter.services.names import MeterName
from meshmeter.site.config import parse_site
from meshmeter.site.example import demo_site_toml
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN, serve
from tests.dashboard.site import build_site
from tests.dashboard.tenant_world import START

pytestmark = [pytest.mark.browser]

SIZES = {"375x800": (375, 800), "1280x900": (1280, 900)}
KEPT = ("101", "201", "102", "202", "103", "104", "HOUSE")
"""The units whose meters (and MDTs) the cut building keeps: 101 and 201 stand a metre apart."""

_LABELS = """() => {
  const el = document.getElementById("network-graph");
  const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  const area = box(el.querySelector(".nsewdrag"));
  const markers = [], texts = [];
  for (const g of el.querySelectorAll(".scatterlayer .trace")) {
    const labels = g.querySelectorAll(".text .textpoint");
    g.querySelectorAll(".points path.point").forEach((point, i) => {
      markers.push(box(point));
      const text = labels[i] && labels[i].querySelector("text");
      if (text && text.textContent.trim() !== "") {
        texts.push({ text: text.textContent, box: box(text), marker: markers.length - 1 });
      }
    });
  }
  const points = el.data.filter(t => t.meta && t.meta.role === "devices").flatMap(t => t.customdata.map(
    (eui, i) => ({ eui64: eui, label: t.text[i], hover: t.hovertext[i] })));
  return { area: area, markers: markers, texts: texts, points: points };
}"""

_NAMES = """() => Object.fromEntries([...document.querySelectorAll("#devices tbody tr[data-eui64]")].map(
  tr => [tr.dataset.eui64, tr.querySelector("th[scope=row]").firstChild.textContent.trim()]))"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over the cut demo building (one day), served by uvicorn; its base URL."""
    config = parse_site(demo_site_toml())
    meters = tuple(m for m in config.meters if m.unit in KEPT)
    serials = {m.serial for m in meters}
    config = replace(
        config,
        meters=meters,
        accounts=tuple(a for a in config.accounts if a.meter in serials),
        incidents=(),
    )
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('graph') / 'site.sqlite'}")
    try:
        run_site_demo(store, config, start=START, days=1, bill=False)
        app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
        with serve(app) as url:
            yield url
    finally:
        store.close()


@pytest.fixture(scope="module")
def graphs(browser: Any, base_url: str, screenshots: Path) -> dict[str, dict[str, Any]]:
    """At each size: the drawn labels, the plot area, each device's label and hover text, and the
    device table's names; read once per size, for every test of this module."""
    return _read_graphs(browser, base_url, screenshots, "network_graph")


@pytest.fixture(scope="module")
def small_graphs(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, screenshots: Path
) -> Iterator[dict[str, dict[str, Any]]]:
    """The same read of the small simulated site (``tests/dashboard/site.py``): four MDTs whose meters
    measure no unit yet, and a repeater at the drawing's left edge."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('small-graph') / 'site.sqlite'}")
    try:
        build_site(store)
        app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
        with serve(app) as url:
            yield _read_graphs(browser, url, screenshots, "network_graph_small")
    finally:
        store.close()


def _read_graphs(browser: Any, base_url: str, screenshots: Path, stem: str) -> dict[str, dict[str, Any]]:
    ctx = browser.new_context(base_url=base_url)
    ctx.add_cookies([{"name": SESSION_COOKIE, "value": ADMIN_TOKEN, "url": base_url}])
    out = {}
    try:
        for size, (width, height) in SIZES.items():
            page = ctx.new_page()
            page.set_viewport_size({"width": width, "height": height})
            answer = page.goto("/dashboard/network")
            assert answer is not None
            assert answer.status == 200
            page.wait_for_selector("#network-graph[data-ready=true]")
            out[size] = {**page.evaluate(_LABELS), "names": page.evaluate(_NAMES)}
            page.locator("#network-graph").screenshot(path=str(screenshots / f"{stem}_{size}.png"))
            page.close()
        return out
    finally:
        ctx.close()


def _overlap(a: list[float], b: list[float]) -> bool:
    """Whether boxes ``a`` and ``b`` (left, top, right, bottom) share more than a hair of area. [px]"""
    return min(a[2], b[2]) - max(a[0], b[0]) > 0.5 and min(a[3], b[3]) - max(a[1], b[1]) > 0.5


@pytest.mark.parametrize("size", list(SIZES))
def test_labels_do_not_overlap(graphs: dict[str, dict[str, Any]], size: str) -> None:
    g = graphs[size]
    texts = g["texts"]
    labelled = [p["label"] for p in g["points"] if p["label"]]
    assert len(g["points"]) == len(g["names"]) == 12
    assert sorted(t["text"] for t in texts) == sorted(labelled), "the drawn labels are not the graph's"
    assert len(texts) >= 4, f"at {size} hardly a label is drawn: {texts}"
    clashes = [
        (a["text"], b["text"])
        for i, a in enumerate(texts)
        for b in texts[i + 1 :]
        if _overlap(a["box"], b["box"])
    ]
    assert clashes == [], f"labels overlap at {size}: {clashes}"
    covered = [
        (t["text"], k)
        for t in texts
        for k, marker in enumerate(g["markers"])
        if k != t["marker"] and _overlap(t["box"], marker)
    ]
    assert covered == [], f"labels cover another device's marker at {size}: {covered}"


def _outside(g: dict[str, Any]) -> list[tuple[str, list[int]]]:
    """The drawn labels that run out of the plot area, with their boxes."""
    left, top, right, bottom = g["area"]
    return [
        (t["text"], [round(v) for v in t["box"]])
        for t in g["texts"]
        if t["box"][0] < left - 0.5 or t["box"][2] > right + 0.5
        or t["box"][1] < top - 0.5 or t["box"][3] > bottom + 0.5
    ]  # fmt: skip


@pytest.mark.parametrize("size", list(SIZES))
def test_labels_stay_in_the_plot(graphs: dict[str, dict[str, Any]], size: str) -> None:
    out = _outside(graphs[size])
    assert out == [], (
        f"labels leave the plot area {[round(v) for v in graphs[size]['area']]} at {size}: {out}"
    )


@pytest.mark.parametrize("size", list(SIZES))
def test_the_small_sites_labels_stay_in_the_plot_and_name_one_device_each(
    small_graphs: dict[str, dict[str, Any]], size: str
) -> None:
    """Seen on the phone's drawing of the small site: "Unit" under each of its four MDTs (meters of no
    unit: the first word of "Unit meter"), and "Repeater 1" cut to "peater 1" at the left edge."""
    g = small_graphs[size]
    out = _outside(g)
    assert out == [], f"labels leave the plot area {[round(v) for v in g['area']]} at {size}: {out}"
    labels = [p["label"] for p in g["points"] if p["label"]]
    assert len(labels) == len(g["points"]) == 6, labels  # six devices: every one has room for its label
    assert len(set(labels)) == len(labels), f"labels shared by several devices at {size}: {labels}"
    for p in g["points"]:
        assert p["label"] in g["names"][p["eui64"]], p


@pytest.mark.parametrize("size", list(SIZES))
def test_a_device_left_unlabelled_keeps_its_name_in_the_hover(
    graphs: dict[str, dict[str, Any]], size: str
) -> None:
    g = graphs[size]
    names = g["names"]
    unlabelled = [p for p in g["points"] if not p["label"]]
    assert unlabelled, f"at {size} every label fits: the building no longer tests the pruning"
    for p in g["points"]:
        assert p["hover"].split("<br>")[0] == names[p["eui64"]], p


@pytest.mark.parametrize("size", list(SIZES))
def test_each_label_names_one_device(graphs: dict[str, dict[str, Any]], size: str) -> None:
    """A label drawn is a part of its device's full name, and no two devices share one ("Unit" under
    every MDT of a phone's drawing named none of them)."""
    g = graphs[size]
    labelled = [p for p in g["points"] if p["label"]]
    labels = [p["label"] for p in labelled]
    assert len(set(labels)) == len(labels), f"labels shared by several devices at {size}: {labels}"
    for p in labelled:
        assert p["label"] in g["names"][p["eui64"]], p


@pytest.mark.parametrize(
    ("label", "unit", "short", "wide"),
    [
        ("R1 corridor west", None, "R1", "R1 corridor west"),
        ("DCAP electrical room", None, "DCAP", "DCAP electrical room"),
        ("Repeater 2", None, "Repeater 2", "Repeater 2"),  # the first word is only the kind
        ("DCAP", None, "DCAP", "DCAP"),
        ("MDT of Unit 101", "101", "101", "Unit 101"),
        # a meter of no unit: its name says its serial, which tells it from the others ("Unit" said none)
        ("MDT of Unit meter MM26000001", "", "MM26000001", "Unit meter MM26000001"),
        # two MDTs on one meter: the EUI-64's last digits tell them apart, on a phone too
        ("MDT of Unit 202 (…0011)", "202", "202 (…0011)", "Unit 202 (…0011)"),
    ],
)
def test_narrow_label(label: str, unit: str | None, short: str, wide: str) -> None:
    meter = None
    if unit is not None:
        meter = MeterName(
            1, "MM26000001", "unit", "MM-D1202001-T-SCC", 1, "Oak", unit or None, None, None, None
        )
    kind = "mdt" if meter is not None else "repeater"
    assert narrow_label(DeviceName("00" * 8, kind, label, meter)) == short
    assert plot_label(DeviceName("00" * 8, kind, label, meter)) == wide
