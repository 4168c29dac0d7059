"""Tests of the two metrology paths (issue: both within the accuracy class, agreeing within 0.05 %)."""

from __future__ import annotations

import numpy as np
import pytest

from meshmeter.meter.ct import CurrentTransformer
from meshmeter.meter.metrology import (
    AdcChannel,
    Calibration,
    FrontEnd,
    Harmonic,
    LineCycleMeter,
    element_power,
    factory_calibration,
    registered_power_w,
    rising_zero_crossings,
    synthesize_element,
    true_power_w,
)

CT = CurrentTransformer()
CAL = factory_calibration(CT)
FE = FrontEnd()
FS = FE.sample_rate_hz
IDEAL_CT = CurrentTransformer(
    ratio_error_base=0.0, ratio_error_low_current=0.0, phase_base_min=0.0, phase_low_current_min=0.0
)


def run_waveform(
    *,
    voltage_v: float = 120.0,
    current_a: float = 30.0,
    phase_deg: float = 0.0,
    frequency_hz: float = 60.0,
    duration_s: float = 10.0,
    harmonics: tuple[Harmonic, ...] = (),
    ct: CurrentTransformer = CT,
    calibration: Calibration = CAL,
    front_end: FrontEnd = FE,
    block: int = 7919,
    ct_reversed: bool = False,
) -> tuple[float, float, LineCycleMeter, list]:
    """Synthesize one element, sample it and run the DSP in blocks.

    Returns (registered Wh, true Wh, dsp, blocks).
    """
    fs = front_end.sample_rate_hz
    n = int(fs * duration_s)
    sig = synthesize_element(
        n,
        fs,
        voltage_v=voltage_v,
        current_a=current_a,
        phase_deg=phase_deg,
        frequency_hz=frequency_hz,
        harmonics=harmonics,
        ct=ct,
        ct_reversed=ct_reversed,
        start_time_s=0.0037,
    )
    rng = np.random.default_rng(7)
    vc = front_end.voltage.sample(sig.voltage_v, rng)
    ic = front_end.current.sample(sig.current_secondary_a, rng)
    dsp = LineCycleMeter(front_end=front_end, calibration=calibration, elements=1, ct_ratio=ct.ratio)
    blocks = [dsp.process(vc[k : k + block], ic[k : k + block]) for k in range(0, n, block)]
    blocks.append(dsp.flush())
    energy = float(sum(b.energy_wh.sum() for b in blocks))
    return energy, sig.true_energy_wh, dsp, blocks


CONDITIONS = [
    (current, phase, tol)
    for current in (2.0, 3.0, 30.0, 60.0, 200.0)
    # manual §3.1: +/-0.5 % of registration at PF 1.0 and +/-0.75 % at PF 0.5, 2 to 200 A
    for phase, tol in ((0.0, 0.5), (60.0, 0.75), (-60.0, 0.75))
]


@pytest.mark.parametrize(("current_a", "phase_deg", "tolerance_percent"), CONDITIONS)
def test_both_paths_within_accuracy_class_and_agree(current_a, phase_deg, tolerance_percent) -> None:
    duration_s = 5.0
    registered, true, _, _ = run_waveform(current_a=current_a, phase_deg=phase_deg, duration_s=duration_s)
    profile = (
        float(registered_power_w(120.0, current_a, phase_deg, ct=CT, calibration=CAL)) * duration_s / 3600
    )
    true_profile = float(true_power_w(120.0, current_a, phase_deg)) * duration_s / 3600
    assert true == pytest.approx(true_profile, rel=1e-12)
    assert abs(registered / true - 1) * 100 <= tolerance_percent
    assert abs(profile / true - 1) * 100 <= tolerance_percent
    assert abs(registered / profile - 1) * 100 <= 0.05


def test_hand_worked_profile_energy() -> None:
    # ideal CT, unit calibration: 120 V x 30 A x PF 1.0 = 3600 W; 0.5 lagging -> 1800 W
    p = registered_power_w(120.0, 30.0, [0.0, 60.0, -60.0, 180.0], ct=IDEAL_CT, calibration=Calibration())
    assert np.allclose(p, [3600.0, 1800.0, 1800.0, -3600.0])


def test_profile_reactive_sign_and_apparent() -> None:
    ep = element_power(120.0, 10.0, [60.0, -60.0], ct=IDEAL_CT, calibration=Calibration())
    assert ep.reactive_var[0] == pytest.approx(1200.0 * np.sin(np.pi / 3))  # lagging positive
    assert ep.reactive_var[1] == pytest.approx(-1200.0 * np.sin(np.pi / 3))
    assert np.allclose(ep.apparent_va, 1200.0)


def test_profile_below_starting_current_registers_nothing() -> None:
    p = registered_power_w(132.0, [0.0, 0.05, 0.2], 0.0, ct=CT, calibration=CAL, starting_current_a=0.1)
    assert p[0] == 0.0
    assert p[1] == 0.0
    assert p[2] > 0.0


def test_gain_error_shows_in_registration() -> None:
    cal = Calibration(gain=CAL.gain * 1.01, phase_compensation_min=CAL.phase_compensation_min)
    good = registered_power_w(120.0, 30.0, 0.0, ct=CT, calibration=CAL)
    bad = registered_power_w(120.0, 30.0, 0.0, ct=CT, calibration=cal)
    assert float(bad / good) == pytest.approx(1.01)


def test_phase_error_affects_only_low_power_factor() -> None:
    # a 0.5 deg phase-compensation error: cos(60.5)/cos(60) - 1 = -1.5 % at PF 0.5 lag, ~0 at PF 1
    cal = Calibration(gain=CAL.gain, phase_compensation_min=CAL.phase_compensation_min + 30.0)
    ratio_unity = registered_power_w(120, 30, 0.0, ct=CT, calibration=cal) / registered_power_w(
        120, 30, 0.0, ct=CT, calibration=CAL
    )
    ratio_lag = registered_power_w(120, 30, 60.0, ct=CT, calibration=cal) / registered_power_w(
        120, 30, 60.0, ct=CT, calibration=CAL
    )
    assert abs(float(ratio_unity) - 1) < 1e-4
    assert float(ratio_lag) == pytest.approx(np.cos(np.deg2rad(60.5)) / np.cos(np.deg2rad(60.0)), rel=1e-6)


@pytest.mark.parametrize("frequency_hz", [50.0, 60.0])
def test_per_cycle_metrics(frequency_hz: float) -> None:
    _, _, dsp, blocks = run_waveform(
        current_a=30.0, phase_deg=60.0, frequency_hz=frequency_hz, ct=IDEAL_CT, calibration=Calibration()
    )
    complete = np.concatenate([b.complete for b in blocks])
    freq = np.concatenate([b.frequency_hz for b in blocks])[complete]
    vrms = np.concatenate([b.voltage_v[0] for b in blocks])[complete]
    irms = np.concatenate([b.current_a[0] for b in blocks])[complete]
    pf = np.concatenate([b.power_factor[0] for b in blocks])[complete]
    q = np.concatenate([b.reactive_var[0] for b in blocks])[complete]
    assert complete.sum() >= 10 * frequency_hz - 2  # one window per line cycle
    assert np.allclose(freq, frequency_hz, rtol=1e-4)
    assert np.allclose(vrms, 120.0, rtol=2e-4)
    assert np.allclose(irms, 30.0, rtol=2e-4)
    assert np.allclose(pf, 0.5, atol=2e-4)
    assert np.allclose(q, 3600.0 * np.sin(np.pi / 3), rtol=5e-4)
    assert dsp.frequency_hz == pytest.approx(frequency_hz, rel=1e-4)


def test_harmonics_measured_as_a_real_meter() -> None:
    # 5 % third-harmonic voltage, 30 % third-harmonic current in phase with it:
    # P = 120*30 + (6)*(9) = 3654 W; Vrms = 120*sqrt(1+0.05^2); Irms = 30*sqrt(1+0.3^2)
    h3 = Harmonic(order=3, voltage_fraction=0.05, current_fraction=0.3, phase_deg=0.0)
    registered, true, _, blocks = run_waveform(
        current_a=30.0, harmonics=(h3,), ct=IDEAL_CT, calibration=Calibration(), duration_s=2.0
    )
    assert true == pytest.approx(3654.0 * 2.0 / 3600.0)
    assert registered == pytest.approx(true, rel=2e-4)
    complete = np.concatenate([b.complete for b in blocks])
    vrms = np.concatenate([b.voltage_v[0] for b in blocks])[complete]
    irms = np.concatenate([b.current_a[0] for b in blocks])[complete]
    assert np.allclose(vrms, 120.0 * np.sqrt(1 + 0.05**2), rtol=2e-4)
    assert np.allclose(irms, 30.0 * np.sqrt(1 + 0.3**2), rtol=2e-4)


def test_dc_offsets_are_removed() -> None:
    fe = FrontEnd(
        voltage=AdcChannel(full_scale_peak=400.0, offset_codes=40_000.0),
        current=AdcChannel(full_scale_peak=0.25, offset_codes=-25_000.0),
    )
    with_offset, true, _, _ = run_waveform(front_end=fe, phase_deg=60.0, duration_s=10.0)
    without, _, _, _ = run_waveform(phase_deg=60.0, duration_s=10.0)
    assert with_offset == pytest.approx(without, rel=2e-4)
    assert with_offset == pytest.approx(true, rel=1e-3)


def test_result_does_not_depend_on_block_size() -> None:
    one, _, _, _ = run_waveform(block=10**9, phase_deg=30.0)
    many, _, _, _ = run_waveform(block=101, phase_deg=30.0)
    assert many == pytest.approx(one, rel=1e-5)  # blocks only move the DC tracker updates


def test_reversed_ct_registers_negative_power() -> None:
    registered, true, _, _ = run_waveform(ct_reversed=True)
    assert registered == pytest.approx(-true, rel=1e-3)


def test_no_load_creep_at_110_percent_voltage() -> None:
    # voltage at 110 % of 120 V, no current but ADC noise: nothing registers
    fe = FrontEnd(current=AdcChannel(full_scale_peak=0.25, noise_rms_codes=50.0))
    registered, true, _, _ = run_waveform(voltage_v=132.0, current_a=0.0, front_end=fe, duration_s=20.0)
    assert true == 0.0
    assert registered == 0.0


def test_starting_current_registers() -> None:
    registered, true, _, _ = run_waveform(current_a=0.2, duration_s=10.0)
    assert registered > 0.0
    assert registered == pytest.approx(true, rel=0.02)


def test_lower_adc_resolution_still_meters() -> None:
    fe = FrontEnd(
        sample_rate_hz=8000.0, voltage=AdcChannel(400.0, bits=16), current=AdcChannel(0.25, bits=16)
    )
    registered, true, _, _ = run_waveform(front_end=fe, current_a=60.0, duration_s=2.0)
    assert registered == pytest.approx(true, rel=5e-3)


def test_no_voltage_gives_partial_windows_not_a_hang() -> None:
    dsp = LineCycleMeter(elements=1)
    block = dsp.process(np.zeros(4000), np.zeros(4000))
    assert block.n_cycles > 0
    assert not block.complete.any()
    assert np.all(block.energy_wh == 0.0)


def test_zero_crossings_found_exactly() -> None:
    t = np.arange(400) / 4000.0
    x = np.sin(2 * np.pi * 60.0 * t - 0.3)
    idx = rising_zero_crossings(x, decimation=4)
    expected = [k for k in range(1, 400) if x[k - 1] < 0 <= x[k]]
    assert idx.tolist() == expected


def test_empty_flush() -> None:
    block = LineCycleMeter().flush()
    assert block.n_cycles == 0


def test_mismatched_shapes_refused_and_state_unchanged() -> None:
    dsp = LineCycleMeter(elements=1)
    with pytest.raises(ValueError, match="same shape"):
        dsp.process(np.zeros(10), np.zeros(11))
    assert dsp.samples_seen == 0


def test_nan_codes_refused() -> None:
    dsp = LineCycleMeter(elements=1)
    v = np.zeros(100)
    v[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        dsp.process(v, np.zeros(100))
    assert dsp.samples_seen == 0


def test_wrong_element_count_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        LineCycleMeter(elements=2).process(np.zeros(10), np.zeros(10))
    with pytest.raises(ValueError, match="elements"):
        LineCycleMeter(elements=3)


@pytest.mark.parametrize("rate", [0.0, -4000.0, np.nan])
def test_bad_sample_rate_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="sample_rate_hz"):
        FrontEnd(sample_rate_hz=rate)
    with pytest.raises(ValueError, match="sample_rate_hz"):
        synthesize_element(10, rate, voltage_v=120.0, current_a=1.0, phase_deg=0.0)


def test_bad_adc_refused() -> None:
    with pytest.raises(ValueError, match="bits"):
        AdcChannel(400.0, bits=4)
    with pytest.raises(ValueError, match="rng"):
        AdcChannel(400.0, noise_rms_codes=1.0).sample(np.zeros(3))
    with pytest.raises(ValueError, match="signal"):
        AdcChannel(400.0).sample([np.inf])


def test_adc_clips_at_full_scale() -> None:
    ch = AdcChannel(full_scale_peak=1.0, bits=8)
    assert ch.sample([2.0, -2.0, 0.5]).tolist() == [127.0, -128.0, 64.0]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"voltage_v": np.nan}, "voltage_v"),
        ({"current_a": np.inf}, "current_a"),
        ({"phase_deg": np.nan}, "phase_deg"),
        ({"frequency_hz": 0.0}, "frequency_hz"),
    ],
)
def test_profile_bad_input_refused(kwargs: dict, name: str) -> None:
    args = {"voltage_v": 120.0, "current_a": 1.0, "phase_deg": 0.0, "frequency_hz": 60.0} | kwargs
    with pytest.raises(ValueError, match=name):
        registered_power_w(**args, ct=CT, calibration=CAL)


def test_calibration_refuses_bad_gain() -> None:
    with pytest.raises(ValueError, match="gain"):
        Calibration(gain=0.0)


def test_harmonic_refuses_bad_order() -> None:
    with pytest.raises(ValueError, match="order"):
        Harmonic(order=1)


def test_profile_vector_equals_scalar() -> None:
    currents = np.array([2.0, 30.0, 200.0])
    vec = registered_power_w(120.0, currents, 60.0, ct=CT, calibration=CAL)
    scalars = [float(registered_power_w(120.0, c, 60.0, ct=CT, calibration=CAL)) for c in currents]
    assert np.allclose(vec, scalars, rtol=1e-14)
