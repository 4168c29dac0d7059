"""Tests of the 915 MHz channel: path loss, obstruction, shadowing, link budget, packet success, ETX, LQI."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from meshmeter.amr.radio import (
    BOLTZMANN_DBM_HZ,
    DEFAULT_CONFIG,
    RadioConfig,
    airtime_s,
    bit_error_rate,
    eb_n0_db,
    etx,
    free_space_path_loss_db,
    link_budget_matrix,
    link_shadowing_db,
    log_distance_path_loss_db,
    lqi,
    noise_floor_dbm,
    obstruction_loss_db,
    packet_fading_db,
    packet_success_probability,
    rssi_dbm,
    snr_db,
)

F_HZ = 915.0e6
# 20 log10(4 pi f / c) at 1 m: 20 log10(4 pi * 915e6 / 299792458) = 20 log10(38.354) = 31.676 dB
FSPL_1M_DB = 31.676


# --- path loss -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("distance_m", "expected_db"),
    [
        (1.0, FSPL_1M_DB),
        (10.0, FSPL_1M_DB + 20.0),  # +20 dB per decade
        (100.0, FSPL_1M_DB + 40.0),  # 71.68 dB
        (0.5, FSPL_1M_DB - 6.0206),  # half the distance: -20 log10 2
    ],
)
def test_free_space_path_loss_hand_worked(distance_m: float, expected_db: float) -> None:
    assert free_space_path_loss_db(distance_m, F_HZ) == pytest.approx(expected_db, abs=1e-3)


def test_free_space_path_loss_doubles_frequency_adds_6_db() -> None:
    assert free_space_path_loss_db(10.0, 2 * F_HZ) - free_space_path_loss_db(10.0, F_HZ) == pytest.approx(
        20 * math.log10(2)
    )


def test_free_space_vector_equals_scalar() -> None:
    d = np.array([1.0, 3.0, 30.0, 300.0])
    vec = free_space_path_loss_db(d, F_HZ)
    assert vec.shape == (4,)
    for i, di in enumerate(d):
        assert vec[i] == free_space_path_loss_db(float(di), F_HZ)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_free_space_refuses_bad_distance(bad: float) -> None:
    with pytest.raises(ValueError, match="distance_m"):
        free_space_path_loss_db(bad, F_HZ)


@pytest.mark.parametrize("bad", [0.0, -915e6, float("nan")])
def test_free_space_refuses_bad_frequency(bad: float) -> None:
    with pytest.raises(ValueError, match="frequency_hz"):
        free_space_path_loss_db(10.0, bad)


@pytest.mark.parametrize(
    ("distance_m", "exponent", "expected_db"),
    [
        (1.0, 3.0, FSPL_1M_DB),  # at the reference distance: free space
        (100.0, 2.0, FSPL_1M_DB + 40.0),  # n = 2 is free space
        (100.0, 3.0, FSPL_1M_DB + 60.0),  # 91.68 dB: 20 dB over n = 2 at two decades
        (10.0, 2.8, FSPL_1M_DB + 28.0),
        (0.3, 3.0, FSPL_1M_DB),  # inside d0: the loss at d0
        (0.0, 3.0, FSPL_1M_DB),  # co-located devices stay finite
    ],
)
def test_log_distance_hand_worked(distance_m: float, exponent: float, expected_db: float) -> None:
    assert log_distance_path_loss_db(distance_m, F_HZ, exponent) == pytest.approx(expected_db, abs=1e-3)


def test_log_distance_reference_distance() -> None:
    # d0 = 10 m: FSPL(10 m) + 30 log10(100 / 10)
    expected = FSPL_1M_DB + 20.0 + 30.0
    assert log_distance_path_loss_db(100.0, F_HZ, 3.0, reference_m=10.0) == pytest.approx(expected, abs=1e-3)


def test_log_distance_vector_and_monotone() -> None:
    d = np.geomspace(1.0, 1000.0, 50)
    loss = log_distance_path_loss_db(d, F_HZ, 2.8)
    assert np.all(np.diff(loss) > 0)
    assert loss[7] == log_distance_path_loss_db(float(d[7]), F_HZ, 2.8)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"distance_m": -1.0}, "distance_m"),
        ({"distance_m": float("nan")}, "distance_m"),
        ({"frequency_hz": 0.0}, "frequency_hz"),
        ({"exponent": -2.0}, "exponent"),
        ({"exponent": float("nan")}, "exponent"),
        ({"reference_m": 0.0}, "reference_m"),
    ],
)
def test_log_distance_refuses_bad_input(kwargs: dict[str, float], name: str) -> None:
    args: dict[str, float] = {"distance_m": 10.0, "frequency_hz": F_HZ, "exponent": 3.0, "reference_m": 1.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        log_distance_path_loss_db(**args)


# --- obstruction ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("walls", "box", "metal_wall", "expected_db"),
    [
        (0, 0, 0, 0.0),
        (3, 0, 0, 9.0),  # 3 walls x 3 dB
        (0, 1, 0, 20.0),  # one end in a metal box
        (0, True, 0, 20.0),
        (0, 2, 0, 40.0),  # both ends in metal boxes
        (0, 0, 1, 8.0),  # one end near a metal wall
        (2, 1, 1, 6.0 + 20.0 + 8.0),
    ],
)
def test_obstruction_loss_defaults(walls: int, box: int, metal_wall: int, expected_db: float) -> None:
    assert obstruction_loss_db(walls, box, metal_wall) == pytest.approx(expected_db)


def test_obstruction_loss_uses_config() -> None:
    config = RadioConfig(wall_loss_db=5.0, metal_box_loss_db=25.0, metal_wall_loss_db=10.0)
    assert obstruction_loss_db(2, 1, 1, config) == pytest.approx(10.0 + 25.0 + 10.0)


def test_obstruction_loss_vector() -> None:
    out = obstruction_loss_db(np.array([0, 1, 2]), np.array([False, True, False]), 0)
    np.testing.assert_allclose(out, [0.0, 23.0, 6.0])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"walls": -1}, "walls"),
        ({"walls": 1.5}, "walls"),
        ({"metal_box": 3}, "metal_box"),
        ({"metal_wall": -1}, "metal_wall"),
    ],
)
def test_obstruction_loss_refuses_bad_input(kwargs: dict[str, Any], name: str) -> None:
    args: dict[str, Any] = {"walls": 0, "metal_box": 0, "metal_wall": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        obstruction_loss_db(**args)


# --- shadowing ------------------------------------------------------------------------------------------


def test_shadowing_symmetric_and_deterministic() -> None:
    a = link_shadowing_db(3, 17, seed=42, sigma_db=6.0)
    assert a == link_shadowing_db(17, 3, seed=42, sigma_db=6.0)
    assert a == link_shadowing_db(3, 17, seed=42, sigma_db=6.0)
    assert float(a) != 0.0


def test_shadowing_changes_with_seed_and_pair() -> None:
    base = link_shadowing_db(np.arange(100), 1000, seed=1, sigma_db=6.0)
    other_seed = link_shadowing_db(np.arange(100), 1000, seed=2, sigma_db=6.0)
    other_pair = link_shadowing_db(np.arange(100), 1001, seed=1, sigma_db=6.0)
    assert np.all(base != other_seed)
    assert np.all(base != other_pair)


def test_shadowing_scales_with_sigma_and_zero_sigma_is_zero() -> None:
    ids = np.arange(50)
    np.testing.assert_allclose(
        link_shadowing_db(ids, 99, seed=5, sigma_db=8.0),
        2.0 * link_shadowing_db(ids, 99, seed=5, sigma_db=4.0),
    )
    assert np.all(link_shadowing_db(ids, 99, seed=5, sigma_db=0.0) == 0.0)


def test_shadowing_vector_equals_scalar_and_broadcasts() -> None:
    a = np.array([0, 5, 9])
    b = np.array([[1], [7]])
    out = link_shadowing_db(a, b, seed=3, sigma_db=6.0)
    assert out.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert out[i, j] == link_shadowing_db(int(a[j]), int(b[i, 0]), seed=3, sigma_db=6.0)


def test_shadowing_takes_eui64_sized_ids() -> None:
    eui = int.from_bytes(bytes.fromhex("024d54a1b2c3d4e5"), "big")
    big = 2**64 - 1  # the largest EUI-64
    assert link_shadowing_db(eui, big, seed=0, sigma_db=6.0) == link_shadowing_db(
        big, eui, seed=0, sigma_db=6.0
    )


def test_shadowing_has_configured_sigma_over_many_links() -> None:
    # 20,000 links: the sample mean has a standard error of 6 / sqrt(20000) = 0.04 dB, the sample standard
    # deviation about 6 / sqrt(40000) = 0.03 dB; the bounds are loose (over 5 standard errors).
    x = link_shadowing_db(np.arange(20_000), 10**9, seed=11, sigma_db=6.0)
    assert abs(x.mean()) < 0.25
    assert x.std() == pytest.approx(6.0, abs=0.2)
    assert np.mean(np.abs(x) < 6.0) == pytest.approx(0.6827, abs=0.02)  # normal: 68.3 % within 1 sigma
    assert np.mean(np.abs(x) < 12.0) == pytest.approx(0.9545, abs=0.01)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"sigma_db": -1.0}, "sigma_db"),
        ({"sigma_db": float("nan")}, "sigma_db"),
        ({"a_id": -1}, "a_id"),
        ({"b_id": 2**64}, "b_id"),
        ({"a_id": 1.5}, "a_id"),
        ({"seed": True}, "seed"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_shadowing_refuses_bad_input(kwargs: dict[str, object], name: str) -> None:
    args: dict[str, object] = {"a_id": 1, "b_id": 2, "seed": 0, "sigma_db": 6.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        link_shadowing_db(**args)  # type: ignore[arg-type]


# --- fading ---------------------------------------------------------------------------------------------


def test_fading_deterministic_under_a_seed() -> None:
    a = packet_fading_db(np.random.default_rng(7), 6.0, size=10)
    b = packet_fading_db(np.random.default_rng(7), 6.0, size=10)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, packet_fading_db(np.random.default_rng(8), 6.0, size=10))


@pytest.mark.parametrize("k_db", [-np.inf, 0.0, 6.0, 12.0])
def test_fading_has_unit_mean_power(k_db: float) -> None:
    fade = packet_fading_db(np.random.default_rng(1), k_db, size=100_000)
    assert np.mean(10 ** (fade / 10)) == pytest.approx(1.0, abs=0.02)


def test_fading_spread_shrinks_with_k_and_vanishes_at_infinite_k() -> None:
    rng = np.random.default_rng(2)
    rayleigh = packet_fading_db(rng, -np.inf, size=20_000)
    rician = packet_fading_db(rng, 10.0, size=20_000)
    assert rician.std() < rayleigh.std()
    assert rayleigh.std() == pytest.approx(5.57, abs=0.15)  # Rayleigh power in dB: pi / sqrt(6) * 10/ln 10
    assert np.all(packet_fading_db(rng, np.inf, size=4) == 0.0)
    assert packet_fading_db(rng, 6.0).shape == ()


def test_fading_refuses_nan_k() -> None:
    with pytest.raises(ValueError, match="k_factor_db"):
        packet_fading_db(np.random.default_rng(0), float("nan"))


# --- link budget, noise, BER ----------------------------------------------------------------------------


def test_rssi_hand_worked() -> None:
    # 14 dBm + 0 dBi + 2 dBi - 80 dB - 9 dB walls - 3 dB shadowing - 1 dB fade = -77 dBm
    assert rssi_dbm(14.0, 80.0, 0.0, 2.0, 9.0, 3.0, -1.0) == pytest.approx(-77.0)


def test_rssi_refuses_nan() -> None:
    with pytest.raises(ValueError, match="path_loss_db"):
        rssi_dbm(14.0, float("nan"))


def test_noise_floor_hand_worked() -> None:
    # kT0 = -173.98 dBm/Hz; 100 kHz -> +50 dB; NF 6 dB -> -117.98 dBm
    assert pytest.approx(-173.98, abs=0.01) == BOLTZMANN_DBM_HZ
    assert noise_floor_dbm(100e3, 6.0) == pytest.approx(-117.98, abs=0.01)
    assert DEFAULT_CONFIG.noise_floor_dbm == pytest.approx(-117.98, abs=0.01)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"bandwidth_hz": 0.0}, "bandwidth_hz"), ({"noise_figure_db": -1.0}, "noise_figure_db")],
)
def test_noise_floor_refuses_bad_input(kwargs: dict[str, float], name: str) -> None:
    args = {"bandwidth_hz": 100e3, "noise_figure_db": 6.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        noise_floor_dbm(**args)


def test_snr_and_eb_n0() -> None:
    assert snr_db(-100.0, -118.0) == pytest.approx(18.0)
    assert snr_db(-np.inf, -118.0) == -np.inf
    # Eb/N0 = SNR + 10 log10(B/R) = 10 + 10 log10(100 k / 50 k) = 13.01 dB
    assert eb_n0_db(10.0, 100e3, 50e3) == pytest.approx(13.0103, abs=1e-4)
    with pytest.raises(ValueError, match="rssi_dbm"):
        snr_db(float("nan"), -118.0)
    with pytest.raises(ValueError, match="bit_rate_bps"):
        eb_n0_db(10.0, 100e3, 0.0)


def test_bit_error_rate_hand_worked() -> None:
    # Eb/N0 = 10 dB = 10: BER = 0.5 exp(-5) = 3.369e-3; SNR = 10 - 10 log10(2) dB with B = 2 R
    snr = 10.0 - 10 * math.log10(2.0)
    assert bit_error_rate(snr, bandwidth_hz=100e3, bit_rate_bps=50e3) == pytest.approx(3.3690e-3, rel=1e-4)
    # an implementation loss of 3 dB is the same as 3 dB less SNR
    assert bit_error_rate(snr + 3.0, implementation_loss_db=3.0) == pytest.approx(
        float(bit_error_rate(snr)), rel=1e-12
    )
    assert bit_error_rate(-np.inf) == 0.5
    assert bit_error_rate(np.inf) == 0.0


def test_bit_error_rate_monotone_and_bounded() -> None:
    ber = bit_error_rate(np.linspace(-20, 30, 101))
    assert np.all(np.diff(ber) <= 0)
    assert np.all((ber >= 0) & (ber <= 0.5))


def test_bit_error_rate_refuses_unknown_modulation() -> None:
    with pytest.raises(ValueError, match="modulation"):
        bit_error_rate(10.0, modulation="oqpsk")


# --- packet success -------------------------------------------------------------------------------------


def test_packet_success_hand_worked() -> None:
    # no sensitivity cut, no implementation loss: RSSI with Eb/N0 = 10 dB gives BER = 0.5 exp(-5);
    # a 10-octet frame succeeds with (1 - 3.369e-3)^80 = 0.7634
    config = RadioConfig(sensitivity_dbm=-200.0, implementation_loss_db=0.0)
    rssi = config.noise_floor_dbm + 10.0 - 10 * math.log10(2.0)
    assert packet_success_probability(rssi, 10, config) == pytest.approx(0.7634, abs=1e-4)


def test_packet_success_zero_below_sensitivity_and_one_well_above() -> None:
    s = DEFAULT_CONFIG.sensitivity_dbm
    assert packet_success_probability(s - 0.01, 20) == 0.0
    assert packet_success_probability(-np.inf, 20) == 0.0
    assert packet_success_probability(s + 20.0, 127) == pytest.approx(1.0, abs=1e-9)
    assert packet_success_probability(-40.0, 2047) == pytest.approx(1.0, abs=1e-9)


def test_packet_success_meets_the_sensitivity_definition() -> None:
    # the sensitivity is where a 20-octet PSDU (+ 2-octet PHR) has a PER below 10 % (802.15.4-style)
    p = packet_success_probability(DEFAULT_CONFIG.sensitivity_dbm, 22)
    assert 1.0 - p < 0.10


def test_packet_success_monotone_in_rssi_and_frame_length() -> None:
    rssi = np.linspace(-110.0, -80.0, 301)
    p = packet_success_probability(rssi, 60)
    assert np.all(np.diff(p) >= 0)
    lengths = np.arange(1, 200)
    q = packet_success_probability(DEFAULT_CONFIG.sensitivity_dbm + 0.5, lengths)
    assert np.all(np.diff(q) < 0)
    assert packet_success_probability(-104.0, 0) == 1.0  # nothing to get wrong


def test_packet_success_vector_equals_scalar() -> None:
    rssi = np.array([-120.0, -105.0, -103.0, -90.0])
    vec = packet_success_probability(rssi, 50)
    for i, r in enumerate(rssi):
        assert vec[i] == packet_success_probability(float(r), 50)


@pytest.mark.parametrize(
    ("rssi", "frame_bytes", "name"),
    [(float("nan"), 20, "rssi_dbm"), (-90.0, -1, "frame_bytes"), (-90.0, 2.5, "frame_bytes")],
)
def test_packet_success_refuses_bad_input(rssi: float, frame_bytes: float, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        packet_success_probability(rssi, frame_bytes)


def test_airtime_hand_worked() -> None:
    # (8 preamble + 2 SFD + 2 PHR + 20 PSDU) octets x 8 bits / 50 kb/s = 5.12 ms
    assert airtime_s(20) == pytest.approx(5.12e-3)
    np.testing.assert_allclose(airtime_s(np.array([0, 100])), [1.92e-3, 17.92e-3])


# --- ETX and LQI ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pf", "pa", "expected"),
    [
        (1.0, 1.0, 1.0),
        (0.5, 1.0, 2.0),
        (0.5, 0.8, 2.5),  # 1 / 0.4
        (0.9, 0.9, 1.0 / 0.81),
        (0.0, 1.0, np.inf),
        (1.0, 0.0, np.inf),
    ],
)
def test_etx_hand_worked(pf: float, pa: float, expected: float) -> None:
    assert etx(pf, pa) == pytest.approx(expected)


def test_etx_vector_and_bad_input() -> None:
    np.testing.assert_allclose(etx(np.array([1.0, 0.5, 0.0]), 0.5), [2.0, 4.0, np.inf])
    with pytest.raises(ValueError, match="p_forward"):
        etx(1.1, 1.0)
    with pytest.raises(ValueError, match="p_ack"):
        etx(1.0, float("nan"))


@pytest.mark.parametrize(
    ("above_db", "expected"),
    [(-50.0, 0), (0.0, 0), (20.0, 128), (40.0, 255), (80.0, 255), (4.0, 26)],  # 255 * 4 / 40 = 25.5 -> 26
)
def test_lqi_mapping(above_db: float, expected: int) -> None:
    assert lqi(DEFAULT_CONFIG.sensitivity_dbm + above_db) == expected


def test_lqi_is_uint8_monotone_and_refuses_nan() -> None:
    out = lqi(np.linspace(-130, -40, 200))
    assert out.dtype == np.uint8
    assert np.all(np.diff(out.astype(int)) >= 0)
    assert lqi(-np.inf) == 0
    with pytest.raises(ValueError, match="rssi_dbm"):
        lqi(float("nan"))


# --- the all-pairs matrix -------------------------------------------------------------------------------


def _site(n: int, dims: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    walls = rng.integers(0, 5, size=(n, n))
    walls = np.triu(walls, 1)
    walls = walls + walls.T
    return {
        "positions_m": rng.uniform(0, 200, size=(n, dims)),
        "walls": walls,
        "metal_box": rng.uniform(size=n) < 0.3,
        "metal_wall": rng.uniform(size=n) < 0.3,
        "tx_power_dbm": np.where(rng.uniform(size=n) < 0.3, 20.0, 14.0),
    }


@pytest.mark.parametrize("dims", [2, 3])
def test_matrix_equals_pairwise_scalar_calls(dims: int) -> None:
    n = 9
    site = _site(n, dims, seed=dims)
    gain = np.linspace(0.0, 2.0, n)
    ids = np.arange(n) * 1_000_003 + 7
    config = DEFAULT_CONFIG
    m = link_budget_matrix(**site, seed=4, config=config, antenna_gain_dbi=gain, node_ids=ids)
    pos, walls, box, mw, tx = (
        site[k] for k in ("positions_m", "walls", "metal_box", "metal_wall", "tx_power_dbm")
    )
    for i in range(n):
        assert m[i, i] == -np.inf
        for j in range(n):
            if i == j:
                continue
            d = float(np.linalg.norm(pos[i] - pos[j]))
            expected = rssi_dbm(
                tx[i],
                log_distance_path_loss_db(d, config.frequency_hz, config.path_loss_exponent),
                gain[i],
                gain[j],
                obstruction_loss_db(walls[i, j], int(box[i]) + int(box[j]), int(mw[i]) + int(mw[j]), config),
                link_shadowing_db(int(ids[i]), int(ids[j]), 4, config.shadowing_sigma_db),
            )
            assert m[i, j] == pytest.approx(float(expected), abs=1e-9)


def test_matrix_loss_is_symmetric_and_deterministic() -> None:
    site = _site(30, 2, seed=9)
    m = link_budget_matrix(**site, seed=1)
    loss = site["tx_power_dbm"][:, None] - m
    off = ~np.eye(30, dtype=bool)
    np.testing.assert_allclose(loss[off], loss.T[off])
    np.testing.assert_array_equal(m, link_budget_matrix(**site, seed=1))
    assert not np.array_equal(m[off], link_budget_matrix(**site, seed=2)[off])


def test_matrix_subset_keeps_links_with_stable_ids() -> None:
    site = _site(12, 2, seed=3)
    ids = np.arange(12) + 500
    full = link_budget_matrix(**site, seed=8, node_ids=ids)
    keep = np.array([0, 3, 4, 9, 11])
    sub = {
        "positions_m": site["positions_m"][keep],
        "walls": site["walls"][np.ix_(keep, keep)],
        "metal_box": site["metal_box"][keep],
        "metal_wall": site["metal_wall"][keep],
        "tx_power_dbm": site["tx_power_dbm"][keep],
    }
    part = link_budget_matrix(**sub, seed=8, node_ids=ids[keep])
    np.testing.assert_array_equal(part, full[np.ix_(keep, keep)])


def test_matrix_metal_box_costs_its_loss_on_every_link() -> None:
    site = _site(6, 2, seed=5)
    site["metal_box"] = np.zeros(6, dtype=bool)
    site["metal_wall"] = np.zeros(6, dtype=bool)
    before = link_budget_matrix(**site, seed=0)
    site["metal_box"][2] = True
    after = link_budget_matrix(**site, seed=0)
    others = [0, 1, 3, 4, 5]
    np.testing.assert_allclose(before[2, others] - after[2, others], 20.0)
    np.testing.assert_allclose(before[others, 2] - after[others, 2], 20.0)
    np.testing.assert_allclose(after[np.ix_(others, others)], before[np.ix_(others, others)])


def test_matrix_empty_site() -> None:
    out = link_budget_matrix(np.zeros((0, 2)), np.zeros((0, 0), dtype=int), [], [], [], seed=0)
    assert out.shape == (0, 0)


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"positions_m": np.zeros((4, 4))}, "positions_m"),
        ({"positions_m": np.full((4, 2), np.nan)}, "positions_m"),
        ({"walls": np.zeros((3, 3), dtype=int)}, "walls"),
        ({"walls": np.triu(np.ones((4, 4), dtype=int), 1)}, "walls must be symmetric"),
        ({"walls": -np.ones((4, 4), dtype=int)}, "walls"),
        ({"metal_box": np.zeros(3, dtype=bool)}, "metal_box"),
        ({"metal_wall": np.array([0, 0, 2, 0])}, "metal_wall"),
        ({"tx_power_dbm": np.array([14.0, np.nan, 14.0, 14.0])}, "tx_power_dbm"),
        ({"node_ids": np.array([1, 1, 2, 3])}, "node_ids"),
        ({"antenna_gain_dbi": np.zeros(5)}, "antenna_gain_dbi"),
    ],
)
def test_matrix_refuses_bad_input(change: dict[str, np.ndarray], name: str) -> None:
    args: dict[str, object] = dict(_site(4, 2, seed=0))
    args.update(change)
    with pytest.raises(ValueError, match=name):
        link_budget_matrix(**args, seed=0)  # type: ignore[arg-type]


# --- configuration --------------------------------------------------------------------------------------


def test_default_config_values() -> None:
    c = RadioConfig()
    assert c.frequency_hz == 915e6
    assert c.mdt_tx_power_dbm < c.repeater_tx_power_dbm
    assert c.bandwidth_hz / c.bit_rate_bps == 2.0  # Carson's rule for h = 1


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"shadowing_sigma_db": -1.0}, "shadowing_sigma_db"),
        ({"frequency_hz": 0.0}, "frequency_hz"),
        ({"path_loss_exponent": float("nan")}, "path_loss_exponent"),
        ({"sensitivity_dbm": float("inf")}, "sensitivity_dbm"),
        ({"preamble_bytes": -1}, "preamble_bytes"),
        ({"fading_k_factor_db": float("nan")}, "fading_k_factor_db"),
    ],
)
def test_config_refuses_bad_values(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        RadioConfig(**kwargs)  # type: ignore[arg-type]
