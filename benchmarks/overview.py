"""The dashboard's overview page on the demo site, cold and warm (issue 15).

Run from the repository root with the package installed::

    python benchmarks/overview.py                      # the demo database made in a temporary directory
    python benchmarks/overview.py --database /tmp/r.sqlite --repeats 5 --json

The database is ``meshmeter demo --days 40 --no-serve`` (26 meters, tenants, stored bills); with
``--database`` naming a file that exists it is used as it is, else it is made there first. The page is
``GET /dashboard`` through Starlette's test client with the admin token (a role that sees bills, so the
tenants' month-to-date charges are on it).

* **cold**: a fresh app over a fresh store, the month's charges computed as if never before
  (:func:`meshmeter.services.charges.clear_charges_cache`), then the page: the first load after a start.
* **warm**: the page again, nothing stored in between: what an operator's reload costs.
* **charges**: :func:`meshmeter.services.charges.month_charges` of the site alone, cold and warm.

Each is the best of ``--repeats`` after one untimed warm-up of the process (imports, templates). The ratio
printed is cold / warm. No target is set; a test never asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from meshmeter.api import Settings, create_app
from meshmeter.api.dashboard.views import site_overview
from meshmeter.headend.alerts import active_alerts
from meshmeter.services.charges import clear_charges_cache, month_charges
from meshmeter.store import Store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ADMIN_TOKEN = "overview-bench-" + "c" * 40
DEMO_DAYS = 40


def demo_database(path: Path, days: int = DEMO_DAYS) -> Path:
    """``path``, made by ``meshmeter demo --days days --no-serve`` when it does not exist."""
    if not path.exists():
        command = ["demo", "--days", str(days), "--no-serve", "--database", str(path)]
        subprocess.run([sys.executable, "-m", "meshmeter", *command], check=True, stdout=subprocess.DEVNULL)
    return path


def best(run: Callable[[], Any], repeats: int, before: Callable[[], None] | None = None) -> float:
    """The shortest of ``repeats`` timed calls of ``run`` (``before`` untimed before each). [s]"""
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        gc.collect()
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench(path: Path, repeats: int) -> dict[str, Any]:
    """The figures (module docstring), in seconds."""
    url = f"sqlite:///{path}"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    settings = Settings(admin_token=SecretStr(ADMIN_TOKEN), environment="development")

    def page(client: TestClient) -> None:
        got = client.get("/dashboard", headers=headers)
        if got.status_code != 200:
            raise SystemExit(f"GET /dashboard answered {got.status_code}: {got.text[:300]}")

    def cold_page() -> None:
        clear_charges_cache()
        with Store(url) as store, TestClient(create_app(store, settings)) as client:
            page(client)

    with Store(url) as store:
        meters = len(store.meters())
        sites = store.sites()
        with TestClient(create_app(store, settings)) as client:
            page(client)  # the process's warm-up: imports, templates
            cold = []
            for _ in range(repeats):
                clear_charges_cache()
                gc.collect()
                t0 = time.perf_counter()
                page(client)
                cold.append(time.perf_counter() - t0)
            warm = best(lambda: page(client), repeats)
        now = datetime.now(UTC)
        overview = next(o for o in site_overview(store, now=now, alerts=active_alerts(store)) if o.site)
        site = overview.site
        assert site is not None

        def charges() -> None:
            month_charges(store, site, start=overview.month_start, end=overview.as_of)

        charges_cold = best(charges, repeats, before=clear_charges_cache)
        charges()
        charges_warm = best(charges, repeats)
    first = best(cold_page, 1)
    return {
        "database": str(path),
        "sites": len(sites),
        "meters": meters,
        "repeats": repeats,
        "first_load_s": first,
        "cold_s": min(cold),
        "warm_s": warm,
        "ratio": min(cold) / warm,
        "charges_cold_s": charges_cold,
        "charges_warm_s": charges_warm,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", type=Path, help="a SQLite file (made by meshmeter demo when missing)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each figure (best kept)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        path = demo_database(args.database or Path(tmp) / "demo.sqlite")
        figures = bench(path, args.repeats)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    ms = {k: 1000 * v for k, v in figures.items() if k.endswith("_s")}
    print(f"overview of {figures['database']}: {figures['sites']} site(s), {figures['meters']} meters")
    print(f"  first load (fresh app and store)  {ms['first_load_s']:8.1f} ms")
    print(f"  cold (charges recomputed)         {ms['cold_s']:8.1f} ms")
    print(f"  warm (nothing changed)            {ms['warm_s']:8.1f} ms")
    print(f"  ratio cold / warm                 {figures['ratio']:8.2f}")
    print(f"  month's charges alone: cold {ms['charges_cold_s']:.1f} ms, warm {ms['charges_warm_s']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
