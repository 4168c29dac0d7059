"""The package's exceptions: one root, specific subclasses.

Bad arguments raise ``ValueError`` naming the argument and the bad value; where the
package has a more specific error it subclasses both :class:`MeshmeterError` and
``ValueError`` so that callers may catch either.
"""

from __future__ import annotations

from collections.abc import Sequence


class MeshmeterError(Exception):
    """Root of every error meshmeter raises on purpose."""


class DesignationError(MeshmeterError, ValueError):
    """A model designation that is not one of the catalog's.

    Parameters
    ----------
    designation : str
        The text that was offered.
    field : str
        The name of the field that is wrong (e.g. ``"element"``).
    value : str
        The offending value of that field.
    allowed : tuple of str
        The values the field may take.
    """

    def __init__(self, designation: str, field: str, value: str, allowed: tuple[str, ...]) -> None:
        self.designation = designation
        self.field = field
        self.value = value
        self.allowed = tuple(allowed)
        shown = ", ".join(repr(a) for a in self.allowed)
        super().__init__(
            f"{designation!r} is not a valid designation: field {field!r} is {value!r}; allowed: {shown}"
        )


class RatingError(MeshmeterError, ValueError):
    """A quantity outside the catalog ratings (certificate p.1, manual §3.1)."""


class SealError(MeshmeterError):
    """An operation on a seal that its state does not allow (e.g. breaking a broken seal)."""


class _ReasonedError(MeshmeterError):
    """An error with a short machine-readable ``reason``, by which a receiver counts rejections."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


class FrameError(_ReasonedError, ValueError):
    """A frame from the air that cannot be decoded: truncated, wrong length, unknown type, bad count.

    Parameters
    ----------
    reason : str
        Short machine-readable cause, by which a receiver counts its rejections (``"malformed"``).
    detail : str, optional
        What exactly is wrong, for people.
    """


class SecurityError(_ReasonedError):
    """A frame that fails its security checks (IEEE 802.15.4-2006 §7.5.8.2.3).

    Parameters
    ----------
    reason : str
        Short machine-readable cause, by which a receiver counts its rejections: ``"bad_mic"``,
        ``"unknown_device"``, ``"security_level"``.
    detail : str, optional
        What exactly is wrong, for people.
    """


class TariffError(MeshmeterError, ValueError):
    """A tariff document (OpenEI URDB form) with an unsupported or malformed field (``docs/billing.md``).

    Parameters
    ----------
    field : str
        The field at fault, as a path into the document (e.g. ``"energyratestructure[1][0].rate"``).
    detail : str
        What is wrong with it.
    problems : sequence of (str, str), optional
        Every ``(field, detail)`` found when a document has several; ``field`` and ``detail`` are then the
        first of them and the message names them all. Default: the one problem ``(field, detail)``.
    """

    def __init__(self, field: str, detail: str, *, problems: Sequence[tuple[str, str]] = ()) -> None:
        self.problems: tuple[tuple[str, str], ...] = tuple(problems) or ((field, detail),)
        if len(self.problems) == 1:
            message = f"tariff field {field!r}: {detail}"
        else:
            shown = "; ".join(f"field {f!r}: {d}" for f, d in self.problems)
            message = f"tariff has {len(self.problems)} problems: {shown}"
        super().__init__(message)
        self.field = field
        self.detail = detail

    @classmethod
    def of(cls, problems: Sequence[tuple[str, str]]) -> TariffError:
        """One error naming every ``(field, detail)`` of ``problems`` (at least one)."""
        if not problems:
            raise ValueError("problems must name at least one (field, detail)")
        return cls(problems[0][0], problems[0][1], problems=problems)


class BillMismatchError(MeshmeterError):
    """A bill that its own recorded inputs do not reproduce (``docs/billing.md``)."""


class NotFoundError(MeshmeterError, ValueError):
    """Something named that the store does not hold: a meter, a site, a saved format (``what`` says which).

    Parameters
    ----------
    what : str
        The kind of thing (``"meter"``, ``"site"``).
    name : str
        How it was named.
    hint : str, optional
        How to make it, for people.
    """

    def __init__(self, what: str, name: object, hint: str = "") -> None:
        self.what = what
        self.name = name
        suffix = f" ({hint})" if hint else ""
        super().__init__(f"{what} {name!r} is not in the store{suffix}")


class NothingToBillError(MeshmeterError, ValueError):
    """A bill asked for where no interval of the period is billable yet (none validated): run VEE first."""


class PlanError(MeshmeterError, ValueError):
    """A test plan that cannot be used: unreadable, not TOML, or a field missing or wrong.

    Parameters
    ----------
    source : str
        Where the plan came from (a built-in name or a file path).
    field : str
        The field that is wrong, as a dotted path (``"grid[0].current_a"``).
    message : str
        What is wrong with it.
    """

    def __init__(self, source: str, field: str, message: str) -> None:
        self.source = source
        self.field = field
        super().__init__(f"plan {source}: field {field!r}: {message}")


class UnknownMeterError(MeshmeterError, ValueError):
    """A meter id or serial number that the store does not know."""


class BillConflictError(MeshmeterError):
    """A bill of the same account, meter, period and tariff is stored with other figures."""


class CorrectionConflictError(BillConflictError):
    """A correction of a bill that the bill's state refuses: nothing changed under it since it (or its last
    correction) was issued, or another correction was issued meanwhile (``docs/billing.md``)."""


class SchemaVersionError(MeshmeterError):
    """The database's schema is newer than this code knows (an older meshmeter on a newer database)."""

    def __init__(self, database_version: int, code_version: int) -> None:
        self.database_version = database_version
        self.code_version = code_version
        super().__init__(
            f"the database schema is at version {database_version}, newer than version {code_version} "
            "that this meshmeter knows; upgrade meshmeter (a schema is never downgraded)"
        )


class UnknownFormatError(MeshmeterError, ValueError):
    """An ingest format name that is neither built in nor saved in the store."""


class MappingError(MeshmeterError, ValueError):
    """
    A mapping that cannot be applied; ``problems`` lists every problem (one line each).
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("the mapping is not usable: " + "; ".join(self.problems))


class MqttConnectionError(MeshmeterError, ConnectionError):
    """The broker cannot be reached, refused the connection, or refused the subscription."""


class SiteFileError(MeshmeterError, ValueError):
    """
    A site file that cannot be used, with where: the line and the field.

    Parameters
    ----------
    message : str
        What is wrong.
    line : int or None
        1-based line of the field in the file (None when the field is absent and has no table).
    field : str
        The field, as a path: ``meters[2].mdt.position_m`` (arrays of tables counted from 0).
    source : str
        The file's name, for the message.
    """

    def __init__(self, message: str, *, line: int | None, field: str, source: str = "<site>") -> None:
        self.message = message
        self.line = line
        self.field = field
        self.source = source
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


class KitCapabilityError(MeshmeterError, ValueError):
    """A kit asked for what it does not have: an MDT on a 6PSMT kit, a temperature on a C02."""


class ServiceUnavailableError(MeshmeterError):
    """
    A service that the work needs cannot be used now: the database, the MQTT broker, a webhook target.

    The message says what failed and what to do; the ``meshmeter`` command exits with status 3.
    """


class DatabaseUnavailableError(ServiceUnavailableError):
    """The database cannot be reached (refused, unknown host, authentication) or its file cannot be opened."""


class DatabaseLockedError(DatabaseUnavailableError):
    """A SQLite database whose write lock another process held for longer than the store's busy timeout."""


class PendingError(MeshmeterError):
    """
    Work left pending (e.g. push messages not yet delivered); the ``meshmeter`` command exits with status 1.

    Parameters
    ----------
    message : str
        What is pending, and why.
    pending : int
        How many items are left. [1]
    """

    def __init__(self, message: str, *, pending: int) -> None:
        self.pending = pending
        super().__init__(message)


class TenancyError(MeshmeterError, ValueError):
    """
    A tenancy operation refused (open, move in, move out, transfer, close; ``docs/store.md``,
    "Tenants, units, accounts and occupancies"); ``problems`` names every problem found, one line each,
    and nothing was stored.

    Parameters
    ----------
    problems : list of str
        What is wrong, each a sentence naming the thing (``account_id 9 is not a known account``).
    unknown : bool, optional
        True when at least one problem is an id that names nothing (the API answers 404, else 409).
    """

    def __init__(self, problems: list[str], *, unknown: bool = False) -> None:
        self.problems = list(problems)
        self.unknown = unknown
        super().__init__("; ".join(self.problems))


class MeterLifeError(TenancyError):
    """
    A change in a meter's life refused (install, removal, exchange, multiplier or CT ratio change;
    ``docs/billing.md``, "A meter's life"): ``problems`` names every problem found, and nothing was stored.
    An exchange re-points a unit to another meter, so it is refused as tenancy operations are (the API
    answers 404 when an id or serial names nothing, else 409, with the problems listed).
    """


class PayloadError(_ReasonedError, ValueError):
    """A device's message or answer that gives no reading: counted per source by ``reason``, never stored.

    Parameters
    ----------
    reason : str
        Short machine-readable cause (:class:`meshmeter.collect.readings.Rejection`): ``"malformed"``,
        ``"unknown_device"``, ``"backwards"``, ``"jump"``, ``"scale"`` ...
    detail : str, optional
        What exactly is wrong, for people.
    """


class DeviceError(MeshmeterError, ConnectionError):
    """A device that did not answer, or answered with an error (a Modbus exception code), named in words.

    Parameters
    ----------
    message : str
        What happened and what to check, for people.
    reason : str, optional
        Short machine-readable cause: ``"timeout"``, ``"refused"``, ``"exception_2"`` (illegal data
        address) ...
    """

    def __init__(self, message: str, reason: str = "no_answer") -> None:
        super().__init__(message)
        self.reason = reason
