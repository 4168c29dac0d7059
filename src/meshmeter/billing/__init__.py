"""Billing and energy management (``docs/billing.md``): URDB tariffs, tariff calendars, tenant bills
(California re-rating, Maryland allocation), their outputs and reproduction, CSI PBI production reports,
and energy-management figures. Pure functions over interval arrays; money as ``Decimal`` USD.
"""

from meshmeter.billing.allocation import allocate_cents, maryland_bills
from meshmeter.billing.bill import (
    ENGINE_VERSION,
    Bill,
    LineItem,
    bill_to_html,
    bill_to_json,
    bill_to_pdf,
    bills_to_csv,
    interval_digest,
    printed,
    shown_lines,
    shown_quantity,
    shown_rate,
)
from meshmeter.billing.calendar import (
    LocalCalendar,
    holiday_dates,
    interval_grid,
    local_calendar,
    period_index,
)
from meshmeter.billing.energy import (
    Comparison,
    average_load_profile,
    compare_periods,
    daily_consumption,
    monthly_consumption,
    top_consumers,
)
from meshmeter.billing.engine import (
    Tenant,
    align_intervals,
    bill_meter,
    bill_meters,
    split_tiers,
    tier_totals,
)
from meshmeter.billing.production import ProductionReport, production_report, production_report_csv
from meshmeter.billing.reproduce import rebill, verify_bill
from meshmeter.billing.tariff import (
    HolidayRules,
    Tariff,
    Tier,
    example_tariff,
    load_tariff,
    parse_period_names,
    parse_tariff,
    select_rate,
)

__all__ = [
    "ENGINE_VERSION",
    "Bill",
    "Comparison",
    "HolidayRules",
    "LineItem",
    "LocalCalendar",
    "ProductionReport",
    "Tariff",
    "Tenant",
    "Tier",
    "align_intervals",
    "allocate_cents",
    "average_load_profile",
    "bill_meter",
    "bill_meters",
    "bill_to_html",
    "bill_to_json",
    "bill_to_pdf",
    "bills_to_csv",
    "compare_periods",
    "daily_consumption",
    "example_tariff",
    "holiday_dates",
    "interval_digest",
    "interval_grid",
    "load_tariff",
    "local_calendar",
    "maryland_bills",
    "monthly_consumption",
    "parse_period_names",
    "parse_tariff",
    "period_index",
    "printed",
    "production_report",
    "production_report_csv",
    "rebill",
    "select_rate",
    "shown_lines",
    "shown_quantity",
    "shown_rate",
    "split_tiers",
    "tier_totals",
    "top_consumers",
    "verify_bill",
]
