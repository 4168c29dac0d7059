"""What the Tariffs page shows: every account of a site, names first, with its tariff in force and since
when, and the choices of its form (``docs/dashboard.md``, "Tariffs").

No HTTP and no HTML here: the page's route (:mod:`meshmeter.api.routes.account_tariffs`) renders what
:func:`tariffs_page` gives, and its form sets tariffs through
:func:`meshmeter.services.account_tariffs.set_tariffs`, as the API and ``meshmeter tariff set`` do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from meshmeter.billing.tariff import EXAMPLE_TARIFFS
from meshmeter.services.account_tariffs import AccountTariffLine, account_tariff_lines

if TYPE_CHECKING:
    from meshmeter.store import AccountTariff, Site, Store

__all__ = ["EXAMPLE_NAMES", "TariffsPage", "tariffs_page"]

EXAMPLE_NAMES: dict[str, str] = {
    "e-tou-c-example": "Residential time-of-use, peak 4-9 pm (illustrative)",
    "tiered-flat-example": "Residential tiered flat rate (illustrative)",
}
"""The example tariffs as the form's choices name them."""

assert tuple(EXAMPLE_NAMES) == EXAMPLE_TARIFFS, "every example tariff has its name on the page"


@dataclass(frozen=True)
class TariffsPage:
    """The Tariffs page of a site: its accounts with their tariffs, and every setting made."""

    site: Site | None
    lines: list[AccountTariffLine]
    now: datetime

    @property
    def open_lines(self) -> list[AccountTariffLine]:
        """The accounts that may take a tariff (open ones)."""
        return [line for line in self.lines if not line.closed]

    @property
    def without(self) -> int:
        """Open accounts with no tariff in force. [1]"""
        return sum(1 for line in self.open_lines if line.in_force is None)

    @property
    def settings(self) -> list[tuple[AccountTariffLine, AccountTariff]]:
        """Every setting of the site's accounts, the latest set first."""
        out = [(line, s) for line in self.lines for s in line.history]
        return sorted(out, key=lambda pair: pair[1].id, reverse=True)


def tariffs_page(store: Store, site: Site | None, *, now: datetime) -> TariffsPage:
    """The Tariffs page of ``site`` at ``now`` (nothing when the store has no site)."""
    lines = [] if site is None else account_tariff_lines(store, site_id=site.id, at=now)
    return TariffsPage(site, lines, now)
