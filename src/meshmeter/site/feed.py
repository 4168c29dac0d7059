"""The meters' output "10" fed to the MDTs' pulse inputs (manual §5.1): one feed for every kind of site.

:class:`RegisterFeed` holds each meter twin's total (delivered) register as a curve (run times, cumulative
energy) and answers the network's ``feed(number, t0, t1)`` (:data:`meshmeter.amr.network.PulseFeed`) with
the exact edges of that meter's output "10" in the window, as the MDT's pulse input sees them. The
campus feed (:class:`meshmeter.site.mesh.MeterFeed`) and the site file's
(:class:`meshmeter.site.run.SiteFeed`) only build the curves, each from its meters' runs.

The pulse weight is the one the MDT counts: :data:`meshmeter.amr.records.PULSE_WH` (10 Wh, output "10"),
the constant by which the MDT refuses edges of another output and the head-end turns counts into Wh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from meshmeter.amr.records import PULSE_WH
from meshmeter.meter.pulses import PulseEdges, pulse_edge_times, pulse_edge_times_rows
from meshmeter.meter.twin import RunResult

__all__ = ["Progress", "RegisterFeed", "register_curve"]

FloatArray = NDArray[np.float64]

Progress = Callable[[str, float, float], None]
"""``progress(stage, done, total)``: how far a long run has come (stages ``"meters"``, ``"mesh"``)."""


def register_curve(run: RunResult) -> tuple[FloatArray, FloatArray]:
    """
    A profile run's total (delivered) register as a curve, from zero at the run's clock zero.

    Parameters
    ----------
    run : RunResult
        A meter twin's profile run started at 0 on its clock.

    Returns
    -------
    times : ndarray of float
        0, then each step's end. [s]
    cumulative : ndarray of float
        The register at each of ``times``. [Wh]
    """
    times = np.concatenate(([0.0], run.step_end_s))
    cumulative = np.concatenate(([0.0], np.cumsum(run.delivered_wh)))
    return times, cumulative


class RegisterFeed:
    """
    Meters' registers as curves; each MDT's pulse input fed from its meter's output "10".

    Between two samples a register is linear in time (the profile's power is constant within a step),
    so the edges are exact (:func:`~meshmeter.meter.pulses.pulse_edge_times`). When the meters share one
    time grid and a window asked for starts and ends on it (the network asks for a day at a time), the
    first call for the window computes the edges of every meter at once
    (:func:`~meshmeter.meter.pulses.pulse_edge_times_rows`, the same edges to the bit) and the calls for
    the other meters take theirs from it.

    Parameters
    ----------
    times : sequence of ndarray
        Each meter's sample times on the run's clock, strictly increasing. [s]
    cumulative : sequence of ndarray
        Each meter's total register at its sample times, non-decreasing. [Wh]
    epoch_s : float
        Network time of the run's clock zero: ``feed(number, t0, t1)`` takes network times. [s]
    progress : Progress, optional
        Told at meter 0's call for each window (stage ``"mesh"``), out of ``duration_s``.
    duration_s : float
        The run's length, the ``"mesh"`` stage's total (the caller may set it later). [s]
    """

    def __init__(
        self,
        times: Sequence[FloatArray],
        cumulative: Sequence[FloatArray],
        *,
        epoch_s: float = 0.0,
        progress: Progress | None = None,
        duration_s: float = 0.0,
    ) -> None:
        if len(times) != len(cumulative):
            raise ValueError(f"times and cumulative must be as many, got {len(times)} and {len(cumulative)}")
        self.epoch_s = float(epoch_s)
        self.times: list[FloatArray] = list(times)
        self.cumulative: list[FloatArray] = list(cumulative)
        self.progress = progress
        self.duration_s = duration_s
        # one grid for all: the registers as rows of one matrix, for the edges of a window at once
        same = all(np.array_equal(t, self.times[0]) for t in self.times)
        self._grid = self.times[0] if self.times and same else None
        self._rows = np.array(self.cumulative) if self._grid is not None else None
        if self._rows is not None:
            self.cumulative = list(self._rows)  # views of the matrix's rows, not copies
        self._window: tuple[float, float] | None = None
        self._window_edges: list[PulseEdges] | None = None

    def __call__(self, number: int, t0_net: float, t1_net: float) -> PulseEdges:
        """The output-"10" edges of meter ``number`` in (t0, t1], on the network's clock. [s]"""
        if number == 0 and self.progress is not None:
            self.progress("mesh", min(t0_net - self.epoch_s, self.duration_s), self.duration_s)
        t0, t1 = t0_net - self.epoch_s, t1_net - self.epoch_s
        if self._window != (t0, t1):
            self._window = (t0, t1)
            self._window_edges = self._edges_of_all(t0, t1)
        if self._window_edges is not None:
            return self._window_edges[number]
        times, cumulative = self.times[number], self.cumulative[number]
        inside = (times > t0) & (times < t1)
        t = np.concatenate(([t0], times[inside], [t1]))
        e = np.interp(t, times, cumulative)
        return pulse_edge_times(t, e, PULSE_WH)

    def _edges_of_all(self, t0: float, t1: float) -> list[PulseEdges] | None:
        """Every meter's edges in (t0, t1] (run times) when both are on the grid, else None."""
        grid, rows = self._grid, self._rows
        if grid is None or rows is None:
            return None
        i0, i1 = (int(i) for i in np.searchsorted(grid, (t0, t1)))
        if not (i0 < i1 < grid.size and grid[i0] == t0 and grid[i1] == t1):
            return None
        # on the grid, the interpolation of __call__ gives the samples themselves
        return pulse_edge_times_rows(grid[i0 : i1 + 1], rows[:, i0 : i1 + 1], PULSE_WH)

    def first_pulse_s(self, number: int) -> float | None:
        """Run time at which meter ``number``'s output "10" first closes (at half a pulse), or None. [s]"""
        times, cumulative = self.times[number], self.cumulative[number]
        half_wh = PULSE_WH / 2
        k = int(np.searchsorted(cumulative, half_wh, side="left"))
        if k >= cumulative.size:
            return None
        if k == 0:
            return float(times[0])
        e0, e1 = cumulative[k - 1], cumulative[k]
        t0, t1 = times[k - 1], times[k]
        return float(t0 + (t1 - t0) * (half_wh - e0) / (e1 - e0))

    def energy_wh(self, number: int, t_net: float) -> float:
        """Meter ``number``'s total (delivered) register at a network time. [Wh]"""
        return float(np.interp(t_net - self.epoch_s, self.times[number], self.cumulative[number]))
