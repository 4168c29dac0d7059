"""What each alert means and what to do about it, in words: one table for every door (issue 15).

``meshmeter alerts`` (its table and ``--json``), the dashboard overview's attention list
(:func:`meshmeter.services.attention.site_attention`, also ``meshmeter status``), the meter page's events
(:func:`meshmeter.api.dashboard.meter_record.event_lines`) and ``GET /alerts`` read :data:`ALERT_WORDS`,
so that the command, the pages and the API say the same thing of the same alert. Every kind of
:class:`meshmeter.headend.alerts.AlertKind` has its words; a kind added without them fails the tests.
Reads nothing; no HTTP, no HTML, no printing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meshmeter.headend.alerts import Alert, AlertKind

__all__ = ["ALERT_WORDS", "AlertWords", "alert_meaning", "describe"]


@dataclass(frozen=True, slots=True)
class AlertWords:
    """What an alert of one kind means and what to do about it."""

    meaning: str
    """What is wrong, as a heading that the alert's particulars can follow (:func:`alert_meaning`):
    ``MDT battery low``."""
    action: str
    """What to do, in words, with the manual's clause: ``replace the MDT's battery (manual §5)``."""
    cleared: str
    """What its clearing says, after the meaning: ``closed`` (the cover), ``heard again``."""
    tone: str
    """How serious: ``bad`` (the meter's data is wrong or missing now) or ``warn`` (look soon)."""


ALERT_WORDS: Mapping[AlertKind, AlertWords] = {
    AlertKind.TAMPER: AlertWords(
        "Enclosure cover opened (tamper switch)",
        "inspect the meter and its seals, then close the cover (manual §2.5.2)",
        "closed",
        "bad",
    ),
    AlertKind.REVERSE_PHASE: AlertWords(
        "Reverse phase",
        "check that CT's orientation and its leads (LINE side toward the incoming line, white lead to "
        "X2), see the meter's wiring diagnosis (manual §4.5.1, §7)",
        "cleared",
        "bad",
    ),
    AlertKind.COMM_LOSS: AlertWords(
        "Not reporting",
        "check the MDT's power and the radio path (CIT)",
        "heard again",
        "bad",
    ),
    AlertKind.LOW_BATTERY: AlertWords(
        "MDT battery low",
        "replace the MDT's battery (manual §5)",
        "replaced",
        "warn",
    ),
    AlertKind.REPEATER_POWER_LOSS: AlertWords(
        "Repeater lost its power",
        "restore the repeater's supply; the MDTs that reach the DCAP through it may fall silent",
        "restored",
        "warn",
    ),
    AlertKind.SOURCE_COMM_LOSS: AlertWords(
        "No reading from its source",
        "check the source device's power and its link to the collector (Sources page)",
        "heard again",
        "warn",
    ),
    AlertKind.SUBMETER_EXCESS: AlertWords(
        "Sub-meters add up to more than this master meter",
        "check the sub-meters' CTs and wiring (manual §7); run meshmeter reconcile",
        "back within tolerance",
        "warn",
    ),
    AlertKind.REMAINDER_JUMP: AlertWords(
        "Unmetered remainder jumped",
        "look for an unmetered load or a sub-meter that stopped; run meshmeter reconcile",
        "back to normal",
        "warn",
    ),
}
"""Each alert kind's meaning and what to do (manual §2.5.2, §3.2, §5, §7; ``docs/alerts.md``)."""


def _elements(detail: Mapping[str, Any]) -> str:
    """`` on element 2 (CT2)``: the reversed elements named with their CTs; empty when unknown."""
    found = detail.get("elements")
    if not isinstance(found, list) or not found:
        return ""
    named = [f"{e} (CT{e})" for e in found]
    return (" on element " if len(named) == 1 else " on elements ") + " and ".join(named)


def alert_meaning(alert: Alert) -> str:
    """
    The alert's meaning (:data:`ALERT_WORDS`) with its particulars (:func:`describe`).
    """
    return describe(alert.kind, alert.detail)


def describe(kind: AlertKind, detail: Mapping[str, Any]) -> str:
    """
    The meaning of an alert of ``kind`` (:data:`ALERT_WORDS`) with the particulars of its ``detail``: the
    reversed elements, the battery left, the silent source, the day judged.

    ``Reverse phase on element 2 (CT2)``, ``MDT battery low (9 % left)``, ``No reading from its source
    (tasmota-101)``, ``Unmetered remainder jumped on 2026-03-07``; the meaning alone for an alert with
    nothing more to say.
    """
    words = ALERT_WORDS[kind].meaning
    if kind is AlertKind.REVERSE_PHASE:
        return words + _elements(detail)
    if kind is AlertKind.LOW_BATTERY:
        left = detail.get("fraction_left")
        if isinstance(left, int | float) and not isinstance(left, bool):
            return f"{words} ({100 * float(left):.0f} % left)"
    if kind is AlertKind.SOURCE_COMM_LOSS and isinstance(detail.get("source"), str):
        return f"{words} ({detail['source']})"
    if kind in (AlertKind.SUBMETER_EXCESS, AlertKind.REMAINDER_JUMP) and detail.get("day"):
        return f"{words} on {detail['day']}"
    return words
