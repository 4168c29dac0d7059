"""The store's repository: the :class:`Store`, whose keyword-only methods are the only way in or out.

Every write runs in one transaction (SQLite: the one writer connection, ``BEGIN IMMEDIATE``): its arguments
are checked first, and bad input (NaN, a negative or non-integer energy, a naive datetime, an unknown
meter) is refused with a ``ValueError`` naming the field; nothing of a refused call is written.

Raw intervals are never overwritten. A repeated interval with the same values is ignored (idempotent
ingest); one whose values conflict with every value already stored for it is kept beside them as the next
*revision*. Reads return the latest revision unless asked for all (``docs/store.md``).

:class:`Store` is composed here from one mixin per resource, each in its own module over the shared
connections of :class:`~meshmeter.store.base.StoreBase` (``docs/store.md``, "Code layout"):

========================================  ===========================================================
:mod:`meshmeter.store.registry`           sites, meters, MDTs
:mod:`meshmeter.store.tenancy`            tenants, units, accounts, occupancies and their history
:mod:`meshmeter.store.meterlife`          a meter's life: install, removal, exchange, multiplier, CT ratio
:mod:`meshmeter.store.raw`                raw intervals and their revisions (ingest, reads)
:mod:`meshmeter.store.validated`          validated intervals, their audit, VEE runs, the validated view
:mod:`meshmeter.store.formats`            saved ingest formats
:mod:`meshmeter.store.events`             register reads, events, the audit of frames
:mod:`meshmeter.store.outbox`             the push outbox
:mod:`meshmeter.store.tokens`             API tokens
:mod:`meshmeter.store.reports`            network reports
:mod:`meshmeter.store.bills`              stored bills
:mod:`meshmeter.store.tariffs`            the tariff of each account, from a date on
:mod:`meshmeter.store.driver`             the hot SQL per driver; ``executemany`` and ``COPY`` paths
:mod:`meshmeter.store.columns`            codecs of the compact columns (counters, binary ``COPY``)
:mod:`meshmeter.store._validate`          the checks of every argument
========================================  ===========================================================

The names this module gave before the split are imported back here, so that
``from meshmeter.store.repository import ...`` keeps working for each of them.
"""

from __future__ import annotations

from meshmeter.store._validate import MAX_INT64, check_interval_columns, check_range
from meshmeter.store.base import StoreBase, UnknownMeterError
from meshmeter.store.base import _now as _now
from meshmeter.store.bills import _BILL_MODES as _BILL_MODES
from meshmeter.store.bills import BillConflictError, BillsMixin, StoredBill
from meshmeter.store.bills import _bill_decimal as _bill_decimal
from meshmeter.store.bills import _bill_member as _bill_member
from meshmeter.store.bills import _bill_row as _bill_row
from meshmeter.store.bills import _stored_bill as _stored_bill
from meshmeter.store.columns import _DAY_S as _DAY_S
from meshmeter.store.columns import _DERIVED as _DERIVED
from meshmeter.store.columns import _INTERVAL_S as _INTERVAL_S
from meshmeter.store.columns import _PG_COPY_HEADER as _PG_COPY_HEADER
from meshmeter.store.columns import _PG_CUMULATIVE_AT as _PG_CUMULATIVE_AT
from meshmeter.store.columns import _PG_EPOCH_S as _PG_EPOCH_S
from meshmeter.store.columns import _PG_ROW as _PG_ROW
from meshmeter.store.columns import _RAW_COLUMNS_SQL as _RAW_COLUMNS_SQL
from meshmeter.store.columns import IntArray as IntArray
from meshmeter.store.columns import _decode_cumulative as _decode_cumulative
from meshmeter.store.columns import _pg_binary_columns as _pg_binary_columns
from meshmeter.store.columns import _pg_binary_rows as _pg_binary_rows
from meshmeter.store.driver import _HOT_SQL as _HOT_SQL
from meshmeter.store.driver import SQLITE_ROWS_PER_INSERT as SQLITE_ROWS_PER_INSERT
from meshmeter.store.driver import _batch_id as _batch_id
from meshmeter.store.driver import _driver as _driver
from meshmeter.store.driver import _driver_columns as _driver_columns
from meshmeter.store.driver import _epoch_column as _epoch_column
from meshmeter.store.driver import _in_window as _in_window
from meshmeter.store.driver import _int_columns as _int_columns
from meshmeter.store.driver import _main_columns as _main_columns
from meshmeter.store.driver import _pg_copy_columns as _pg_copy_columns
from meshmeter.store.driver import _revision_columns as _revision_columns
from meshmeter.store.driver import _slices as _slices
from meshmeter.store.driver import _sqlite_insert as _sqlite_insert
from meshmeter.store.driver import _write_new_rows as _write_new_rows
from meshmeter.store.events import EventsMixin
from meshmeter.store.formats import IngestFormatsMixin
from meshmeter.store.meterlife import MeterLifeMixin
from meshmeter.store.outbox import OutboxMixin
from meshmeter.store.raw import RawIntervalsMixin
from meshmeter.store.registry import RegistryMixin
from meshmeter.store.registry import _meter as _meter
from meshmeter.store.reports import NetworkReportsMixin
from meshmeter.store.sources import SourcesMixin
from meshmeter.store.tariffs import AccountTariffsMixin
from meshmeter.store.tenancy import FIRST_ACCOUNT_NUMBER, TenancyMixin
from meshmeter.store.tokens import API_TOKEN_PREFIX, TokensMixin, hash_api_token
from meshmeter.store.tokens import _api_token as _api_token
from meshmeter.store.validated import AUDIT_FREE_QUALITIES, ValidatedIntervalsMixin

__all__ = [
    "API_TOKEN_PREFIX",
    "AUDIT_FREE_QUALITIES",
    "FIRST_ACCOUNT_NUMBER",
    "BillConflictError",
    "Store",
    "StoredBill",
    "UnknownMeterError",
    "hash_api_token",
]

_check_columns = check_interval_columns  # the names these checks had here, now in meshmeter.store._validate
_range = check_range
_MAX_INT64 = MAX_INT64


class Store(
    SourcesMixin,
    RegistryMixin,
    TenancyMixin,
    MeterLifeMixin,
    RawIntervalsMixin,
    ValidatedIntervalsMixin,
    IngestFormatsMixin,
    EventsMixin,
    OutboxMixin,
    TokensMixin,
    NetworkReportsMixin,
    BillsMixin,
    AccountTariffsMixin,
    StoreBase,
):
    """
    The durable store of one database (SQLite or PostgreSQL).

    Parameters
    ----------
    url : str or URL, optional
        The database (:func:`meshmeter.store.engine.database_url`): default ``$MESHMETER_DATABASE_URL``,
        else ``sqlite:///meshmeter.db``.
    migrate : bool, optional
        Bring the schema to the latest version on opening (default True).
    echo : bool, optional
        Log every statement.

    Notes
    -----
    Methods take keyword arguments only. Intervals are selected by their end: a range ``start, end``
    holds the intervals with ``start < interval_end <= end``, i.e. those that lie within (start, end].

    Each group of methods is a mixin of its own module (see the module's table); they share this
    object's connections (:class:`~meshmeter.store.base.StoreBase`), so a method of one resource that
    needs another's rows reads them in the same transaction.
    """
