"""The 915 MHz radio channel of the AMR mesh: path loss, shadowing, link budget and packet success.

The manual (§1, §5.2) asks that MDTs and repeaters are not mounted inside a metal box or near a metal wall
and says nothing else about the radio; the rest follows IEEE 802.15.4g SUN FSK / Wi-SUN FAN practice in the
902–928 MHz band and published indoor measurements at 900 MHz. ``docs/radio.md`` gives every default with
its source. The model of one link, from device *i* to device *j*, is

.. math::

    P_{rx} = P_{tx,i} + G_i + G_j - PL(d_{ij}) - L_{obs,ij} - X_{ij} [- F]

    PL(d) = FSPL(d_0) + 10 n \\log_{10}(d / d_0), \\qquad
    FSPL(d) = 20 \\log_{10}(4 \\pi d f / c)

    L_{obs,ij} = w_{ij} L_w + (b_i + b_j) L_{box} + (m_i + m_j) L_{mw}

with :math:`w` the walls crossed, :math:`b` and :math:`m` flags for a device in a metal box or near a metal
wall, :math:`X_{ij} \\sim N(0, \\sigma^2)` a static log-normal shadowing that is the same both ways and fixed
by the seed, and :math:`F` an optional per-packet Rician fade. The receiver decodes non-coherent 2-(G)FSK:

.. math::

    N = kT_0 + 10 \\log_{10} B + NF, \\qquad E_b/N_0 = SNR + 10 \\log_{10}(B / R) - L_{impl}

    BER = \\tfrac12 e^{-E_b / 2 N_0}, \\qquad P_{success} = (1 - BER)^{8 L} \\;(0 \\text{ below sensitivity})

Pure functions over numbers and numpy arrays, deterministic under a seed; no I/O.

References
----------
IEEE Std 802.15.4 (SUN FSK PHY, added by 802.15.4g-2012); IEEE Std 802.15.4-2006 §6.1.7 (receiver
sensitivity definitions), §6.9.7 (receiver energy detection) and §6.9.8 (link quality indicator).
Wi-SUN FAN 1.0 PHY: North-America operating mode 1b (50 kb/s 2-FSK, modulation index 1, 200 kHz channels).
ITU-R P.1238, Propagation data for the planning of indoor radiocommunication systems.
S. Y. Seidel and T. S. Rappaport, "914 MHz path loss prediction models for indoor wireless communications
in multifloored buildings", IEEE Trans. Antennas Propag. 40(2), 1992.
J. G. Proakis, Digital Communications, 4th ed., §5.4 (non-coherent detection of binary orthogonal FSK).
G. L. Steele, D. Lea, C. H. Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014 (SplitMix64).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BOLTZMANN_DBM_HZ",
    "DEFAULT_CONFIG",
    "SPEED_OF_LIGHT_M_S",
    "RadioConfig",
    "airtime_s",
    "bit_error_rate",
    "eb_n0_db",
    "etx",
    "free_space_path_loss_db",
    "link_budget_matrix",
    "link_shadowing_db",
    "log_distance_path_loss_db",
    "lqi",
    "noise_floor_dbm",
    "obstruction_loss_db",
    "packet_fading_db",
    "packet_success_probability",
    "rssi_dbm",
    "snr_db",
]

FloatArray = NDArray[np.float64]

SPEED_OF_LIGHT_M_S = 299_792_458.0
"""Speed of light in vacuum. [m/s]"""

BOLTZMANN_DBM_HZ = 10.0 * math.log10(1.380649e-23 * 290.0 * 1000.0)
"""Thermal noise density kT0 at the IEEE reference temperature T0 = 290 K, about -174. [dBm/Hz]"""

_MODULATIONS = ("2gfsk", "2fsk")
_U64 = 2**64


def _finite(name: str, value: ArrayLike) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _not_nan(name: str, value: ArrayLike) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} must not be NaN, got {value!r}")
    return arr


def _positive(name: str, value: ArrayLike) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr) & (arr > 0)):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return arr


def _non_negative(name: str, value: ArrayLike) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr) & (arr >= 0)):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return arr


def _counts(name: str, value: ArrayLike, maximum: int | None = None) -> NDArray[np.int64]:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biu" and arr.size:
        raise ValueError(f"{name} must be integer or bool, got {value!r}")
    out = arr.astype(np.int64)
    if np.any(out < 0) or (maximum is not None and np.any(out > maximum)):
        bound = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= 0{bound}, got {value!r}")
    return out


@dataclass(frozen=True)
class RadioConfig:
    """
    Parameters of the 915 MHz channel and of the devices' radios; ``docs/radio.md`` gives the sources.

    Parameters
    ----------
    frequency_hz : float
        Carrier, the middle of the 902–928 MHz ISM band used by Wi-SUN FAN in North America. [Hz]
    mdt_tx_power_dbm : float
        Conducted transmit power of a battery MDT. [dBm]
    repeater_tx_power_dbm : float
        Conducted transmit power of a mains-powered repeater and of the DCAP. [dBm]
    mdt_antenna_gain_dbi : float
        Gain of an MDT's internal antenna. [dBi]
    repeater_antenna_gain_dbi : float
        Gain of a repeater's or the DCAP's external whip (half-wave dipole). [dBi]
    bit_rate_bps : float
        PHY bit rate, Wi-SUN FAN operating mode 1b (2-GFSK, modulation index 1). [bit/s]
    bandwidth_hz : float
        Receiver noise bandwidth: Carson's rule 2 (Δf + R/2) with deviation Δf = 25 kHz at 50 kb/s. [Hz]
    noise_figure_db : float
        Receiver noise figure of a sub-GHz transceiver front end. [dB]
    implementation_loss_db : float
        Shortfall of a practical discriminator and of in-band ISM interference against the ideal
        non-coherent FSK detector, taken off Eb/N0. [dB]
    sensitivity_dbm : float
        Receiver sensitivity: below it no frame is decoded. Set, in the manner of the IEEE 802.15.4
        sensitivity definition (a PER limit for a short PSDU), where a 20-octet PSDU has a 10 % packet
        error rate under this model, rounded up. [dBm]
    path_loss_exponent : float
        Log-distance exponent *n*, indoors with walls counted separately. [1]
    reference_distance_m : float
        Reference distance d0 of the log-distance model, where the loss is free-space. [m]
    shadowing_sigma_db : float
        Standard deviation of the static log-normal shadowing of a link. [dB]
    wall_loss_db : float
        Extra loss per wall crossed. [dB]
    metal_box_loss_db : float
        Extra loss for each end of a link mounted inside a metal box (manual §1, §5.2 caution). [dB]
    metal_wall_loss_db : float
        Extra loss for each end of a link mounted near a metal wall, e.g. an electrical panel or a
        furnace (manual §1, §5.2 caution). [dB]
    fading_k_factor_db : float
        Rician K-factor of the per-packet fade of a static indoor link (``-inf`` for Rayleigh). [dB]
    preamble_bytes : int
        SUN FSK preamble. [octet]
    sfd_bytes : int
        Start-of-frame delimiter. [octet]
    phr_bytes : int
        SUN FSK PHY header. [octet]
    lqi_span_db : float
        RSSI span above sensitivity over which the LQI runs from 0 to 255 (the minimum ED range of
        IEEE 802.15.4-2006 §6.9.7). [dB]
    """

    frequency_hz: float = 915.0e6
    mdt_tx_power_dbm: float = 14.0
    repeater_tx_power_dbm: float = 20.0
    mdt_antenna_gain_dbi: float = 0.0
    repeater_antenna_gain_dbi: float = 2.0
    bit_rate_bps: float = 50.0e3
    bandwidth_hz: float = 100.0e3
    noise_figure_db: float = 6.0
    implementation_loss_db: float = 4.0
    sensitivity_dbm: float = -105.0
    path_loss_exponent: float = 2.8
    reference_distance_m: float = 1.0
    shadowing_sigma_db: float = 6.0
    wall_loss_db: float = 3.0
    metal_box_loss_db: float = 20.0
    metal_wall_loss_db: float = 8.0
    fading_k_factor_db: float = 6.0
    preamble_bytes: int = 8
    sfd_bytes: int = 2
    phr_bytes: int = 2
    lqi_span_db: float = 40.0

    def __post_init__(self) -> None:
        for name in ("frequency_hz", "bit_rate_bps", "bandwidth_hz", "reference_distance_m", "lqi_span_db"):
            _positive(name, getattr(self, name))
        for name in (
            "noise_figure_db",
            "implementation_loss_db",
            "path_loss_exponent",
            "shadowing_sigma_db",
            "wall_loss_db",
            "metal_box_loss_db",
            "metal_wall_loss_db",
        ):
            _non_negative(name, getattr(self, name))
        for name in (
            "mdt_tx_power_dbm",
            "repeater_tx_power_dbm",
            "mdt_antenna_gain_dbi",
            "repeater_antenna_gain_dbi",
            "sensitivity_dbm",
        ):
            _finite(name, getattr(self, name))
        _not_nan("fading_k_factor_db", self.fading_k_factor_db)
        for name in ("preamble_bytes", "sfd_bytes", "phr_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")

    @property
    def noise_floor_dbm(self) -> float:
        """Receiver noise floor kT0·B·NF. [dBm]"""
        return float(noise_floor_dbm(self.bandwidth_hz, self.noise_figure_db))


DEFAULT_CONFIG = RadioConfig()
"""The default channel: the values documented in :class:`RadioConfig` and ``docs/radio.md``."""


# --- path loss ------------------------------------------------------------------------------------------


def free_space_path_loss_db(distance_m: ArrayLike, frequency_hz: ArrayLike) -> FloatArray:
    """
    Free-space path loss between isotropic antennas (Friis).

    Parameters
    ----------
    distance_m : array-like
        Distance between the antennas, > 0. [m]
    frequency_hz : array-like
        Carrier frequency, > 0. [Hz]

    Returns
    -------
    loss_db : ndarray
        Path loss. [dB]

    Notes
    -----
    :math:`FSPL = 20 \\log_{10}(4 \\pi d f / c)`: 31.67 dB at 1 m and 915 MHz, 20 dB more per decade.

    References
    ----------
    ITU-R P.525, Calculation of free-space attenuation, eq. (4).
    """
    d = _positive("distance_m", distance_m)
    f = _positive("frequency_hz", frequency_hz)
    loss: FloatArray = 20.0 * np.log10(4.0 * np.pi * d * f / SPEED_OF_LIGHT_M_S)
    return loss


def log_distance_path_loss_db(
    distance_m: ArrayLike,
    frequency_hz: ArrayLike,
    exponent: ArrayLike,
    reference_m: float = 1.0,
) -> FloatArray:
    """
    Log-distance path loss: free space up to a reference distance, then ``10 n log10`` beyond it.

    Parameters
    ----------
    distance_m : array-like
        Distance, >= 0. Inside the reference distance the loss is that at the reference distance, as
        ns-3's ``LogDistancePropagationLossModel`` does, so that co-located devices stay finite. [m]
    frequency_hz : array-like
        Carrier frequency, > 0. [Hz]
    exponent : array-like
        Path-loss exponent *n*, >= 0 (2 is free space). [1]
    reference_m : float
        Reference distance d0, > 0. [m]

    Returns
    -------
    loss_db : ndarray
        Path loss. [dB]

    Notes
    -----
    :math:`PL(d) = FSPL(d_0, f) + 10 n \\log_{10}(\\max(d, d_0) / d_0)`.

    References
    ----------
    T. S. Rappaport, Wireless Communications, 2nd ed., §4.9.1 (log-distance path loss); ITU-R P.1238 §3.1.
    """
    d = _non_negative("distance_m", distance_m)
    f = _positive("frequency_hz", frequency_hz)
    n = _non_negative("exponent", exponent)
    d0 = float(_positive("reference_m", reference_m))
    ratio = np.maximum(d, d0) / d0
    loss: FloatArray = 20.0 * np.log10(4.0 * np.pi * d0 * f / SPEED_OF_LIGHT_M_S) + 10.0 * n * np.log10(ratio)
    return loss


def obstruction_loss_db(
    walls: ArrayLike,
    metal_box: ArrayLike = 0,
    metal_wall: ArrayLike = 0,
    config: RadioConfig = DEFAULT_CONFIG,
) -> FloatArray:
    """
    Extra loss of a link for the walls it crosses and for ends mounted against the manual's cautions.

    Parameters
    ----------
    walls : array-like of int
        Walls crossed by the straight line between the two devices, >= 0. [1]
    metal_box : array-like of int or bool
        Ends of the link (0, 1 or 2) mounted inside a metal box; a bool counts as 0 or 1. [1]
    metal_wall : array-like of int or bool
        Ends of the link (0, 1 or 2) mounted near a metal wall (electrical panel, furnace). [1]
    config : RadioConfig
        Per-wall, metal-box and metal-wall losses.

    Returns
    -------
    loss_db : ndarray
        Extra loss. [dB]

    Notes
    -----
    :math:`L = w L_w + b L_{box} + m L_{mw}`, the partition-attenuation-factor form of Seidel and
    Rappaport (1992) with two extra terms for the cautions of manual §1 and §5.2.
    """
    w = _counts("walls", walls)
    b = _counts("metal_box", metal_box, maximum=2)
    m = _counts("metal_wall", metal_wall, maximum=2)
    loss: FloatArray = w * config.wall_loss_db + b * config.metal_box_loss_db + m * config.metal_wall_loss_db
    return np.asarray(loss, dtype=np.float64)


# --- shadowing and fading -------------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(z: NDArray[np.uint64]) -> NDArray[np.uint64]:
    # SplitMix64 finaliser (Steele, Lea and Flood 2014); uint64 array arithmetic wraps modulo 2**64.
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    out: NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out


def _uniform_open(bits: NDArray[np.uint64]) -> FloatArray:
    # top 53 bits -> (0, 1), never 0 nor 1
    out: FloatArray = ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return out


def _node_ids(name: str, value: ArrayLike) -> NDArray[np.uint64]:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        if not 0 <= int(value) < _U64:
            raise ValueError(f"{name} must be in [0, 2**64), got {value!r}")
        return np.array([int(value)], dtype=np.uint64).reshape(())
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu" or (arr.dtype.kind == "i" and np.any(arr < 0)):
        raise ValueError(f"{name} must hold integers in [0, 2**64), got {value!r}")
    return arr.astype(np.uint64)


def _seed_key(seed: int) -> np.uint64:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an int, got {seed!r}")
    digest = hashlib.blake2b(f"meshmeter.radio.shadowing:{int(seed)}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def link_shadowing_db(a_id: ArrayLike, b_id: ArrayLike, seed: int, sigma_db: float) -> FloatArray:
    """
    Static log-normal shadowing of the link between two devices: the same both ways, fixed by the seed.

    Parameters
    ----------
    a_id, b_id : array-like of int
        Device identifiers in [0, 2**64), e.g. an index or an EUI-64 read as a big-endian integer
        (``int.from_bytes(eui, "big")``). Broadcast against each other. [1]
    seed : int
        Site seed. [1]
    sigma_db : float
        Standard deviation of the shadowing, >= 0. [dB]

    Returns
    -------
    shadowing_db : ndarray
        Shadowing loss, normal with mean 0 and standard deviation ``sigma_db``; positive is more loss. [dB]

    Notes
    -----
    The seed is hashed with BLAKE2b into a 64-bit key (Python's ``hash()`` is salted per process, so it
    is never used). The sorted pair (lo, hi) is mixed into the key with the SplitMix64 finaliser,
    ``h = mix(mix(key ^ lo) ^ hi)``, and two further mixes of ``h`` give two uniform deviates in (0, 1)
    that the Box–Muller transform turns into a standard normal deviate. This is a counter-based
    generator: every link's value depends only on (seed, lo, hi), so one numpy pass computes a million
    links and gives exactly the value of a scalar call, whatever the order or number of devices.

    References
    ----------
    Rappaport, Wireless Communications, §4.9.2 (log-normal shadowing); Steele, Lea and Flood (2014).
    """
    sigma = float(_non_negative("sigma_db", sigma_db))
    key = _seed_key(seed)
    a = _node_ids("a_id", a_id)
    b = _node_ids("b_id", b_id)
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    with np.errstate(over="ignore"):
        h = _splitmix64(np.atleast_1d(lo ^ key))
        h = _splitmix64(h ^ np.atleast_1d(hi))
        u1 = _uniform_open(_splitmix64(h ^ np.uint64(1)))
        u2 = _uniform_open(_splitmix64(h ^ np.uint64(2)))
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    out: FloatArray = (sigma * z).reshape(np.shape(lo))
    return out


def packet_fading_db(
    rng: np.random.Generator,
    k_factor_db: float = DEFAULT_CONFIG.fading_k_factor_db,
    size: int | tuple[int, ...] | None = None,
) -> FloatArray:
    """
    Per-packet Rician fade of the received power, in dB, of unit mean power.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness; pass a seeded generator for a deterministic run.
    k_factor_db : float
        Rician K-factor, the power of the steady component over the scattered power; ``-inf`` gives
        Rayleigh fading and ``+inf`` no fading. [dB]
    size : int or tuple of int, optional
        Shape of the output; ``None`` gives one value.

    Returns
    -------
    fade_db : ndarray
        Gain of the fade, to be added to the mean RSSI (negative in a fade). [dB]

    Notes
    -----
    :math:`h = \\sqrt{K/(K+1)} + \\sqrt{1/(K+1)}\\,g`, :math:`g \\sim CN(0, 1)`; the fade is
    :math:`10 \\log_{10} |h|^2`, with :math:`E|h|^2 = 1`.

    References
    ----------
    ITU-R P.1238 §11 (statistical model in static usage: Rician-distributed received signal).
    """
    k_db = float(_not_nan("k_factor_db", k_factor_db))
    if k_db == np.inf:
        return np.zeros(() if size is None else size, dtype=np.float64)
    k = 10.0 ** (k_db / 10.0)
    los = math.sqrt(k / (k + 1.0))
    scatter = math.sqrt(1.0 / (2.0 * (k + 1.0)))
    x = rng.normal(los, scatter, size=size)
    y = rng.normal(0.0, scatter, size=size)
    out: FloatArray = 10.0 * np.log10(x * x + y * y)
    return np.asarray(out, dtype=np.float64)


# --- link budget ----------------------------------------------------------------------------------------


def rssi_dbm(
    tx_power_dbm: ArrayLike,
    path_loss_db: ArrayLike,
    tx_antenna_gain_dbi: ArrayLike = 0.0,
    rx_antenna_gain_dbi: ArrayLike = 0.0,
    extra_loss_db: ArrayLike = 0.0,
    shadowing_db: ArrayLike = 0.0,
    fading_db: ArrayLike = 0.0,
) -> FloatArray:
    """
    Received signal strength from a link budget.

    Parameters
    ----------
    tx_power_dbm : array-like
        Conducted transmit power. [dBm]
    path_loss_db : array-like
        Path loss, e.g. :func:`log_distance_path_loss_db`. [dB]
    tx_antenna_gain_dbi, rx_antenna_gain_dbi : array-like
        Antenna gains of the transmitter and the receiver. [dBi]
    extra_loss_db : array-like
        Obstruction loss, e.g. :func:`obstruction_loss_db`. [dB]
    shadowing_db : array-like
        Shadowing loss, e.g. :func:`link_shadowing_db` (positive is more loss). [dB]
    fading_db : array-like
        Per-packet fade gain, e.g. :func:`packet_fading_db` (negative in a fade). [dB]

    Returns
    -------
    rssi_dbm : ndarray
        Received power at the receiver's antenna port. [dBm]

    Notes
    -----
    :math:`P_{rx} = P_{tx} + G_{tx} + G_{rx} - PL - L_{obs} - X + F`.
    """
    terms = {
        "tx_power_dbm": tx_power_dbm,
        "path_loss_db": path_loss_db,
        "tx_antenna_gain_dbi": tx_antenna_gain_dbi,
        "rx_antenna_gain_dbi": rx_antenna_gain_dbi,
        "extra_loss_db": extra_loss_db,
        "shadowing_db": shadowing_db,
        "fading_db": fading_db,
    }
    v = {name: _finite(name, value) for name, value in terms.items()}
    out: FloatArray = (
        v["tx_power_dbm"]
        + v["tx_antenna_gain_dbi"]
        + v["rx_antenna_gain_dbi"]
        - v["path_loss_db"]
        - v["extra_loss_db"]
        - v["shadowing_db"]
        + v["fading_db"]
    )
    return out


def noise_floor_dbm(bandwidth_hz: ArrayLike, noise_figure_db: ArrayLike) -> FloatArray:
    """
    Thermal noise floor of a receiver.

    Parameters
    ----------
    bandwidth_hz : array-like
        Noise bandwidth, > 0. [Hz]
    noise_figure_db : array-like
        Receiver noise figure, >= 0. [dB]

    Returns
    -------
    noise_dbm : ndarray
        Noise power referred to the antenna port. [dBm]

    Notes
    -----
    :math:`N = 10 \\log_{10}(k T_0 \\cdot 1000) + 10 \\log_{10} B + NF`, with
    :math:`10 \\log_{10}(k T_0 \\cdot 1000) = -173.98` dBm/Hz at :math:`T_0 = 290` K.

    References
    ----------
    IEEE Std 100 (definition of noise figure at T0 = 290 K).
    """
    b = _positive("bandwidth_hz", bandwidth_hz)
    nf = _non_negative("noise_figure_db", noise_figure_db)
    out: FloatArray = BOLTZMANN_DBM_HZ + 10.0 * np.log10(b) + nf
    return out


def snr_db(rssi_dbm: ArrayLike, noise_dbm: ArrayLike) -> FloatArray:
    """
    Signal-to-noise ratio.

    Parameters
    ----------
    rssi_dbm : array-like
        Received power; ``-inf`` (no signal) is allowed. [dBm]
    noise_dbm : array-like
        Noise floor, e.g. :func:`noise_floor_dbm`. [dBm]

    Returns
    -------
    snr_db : ndarray
        :math:`P_{rx} - N`. [dB]
    """
    s = _not_nan("rssi_dbm", rssi_dbm)
    n = _finite("noise_dbm", noise_dbm)
    out: FloatArray = s - n
    return out


def eb_n0_db(snr_db: ArrayLike, bandwidth_hz: ArrayLike, bit_rate_bps: ArrayLike) -> FloatArray:
    """
    Energy per bit over noise density from the SNR in the receiver's noise bandwidth.

    Parameters
    ----------
    snr_db : array-like
        Signal-to-noise ratio in ``bandwidth_hz``. [dB]
    bandwidth_hz : array-like
        Noise bandwidth, > 0. [Hz]
    bit_rate_bps : array-like
        Bit rate, > 0. [bit/s]

    Returns
    -------
    eb_n0_db : ndarray
        :math:`E_b/N_0 = SNR + 10 \\log_{10}(B / R)`. [dB]
    """
    s = _not_nan("snr_db", snr_db)
    b = _positive("bandwidth_hz", bandwidth_hz)
    r = _positive("bit_rate_bps", bit_rate_bps)
    out: FloatArray = s + 10.0 * np.log10(b / r)
    return out


def bit_error_rate(
    snr_db: ArrayLike,
    *,
    bandwidth_hz: ArrayLike = DEFAULT_CONFIG.bandwidth_hz,
    bit_rate_bps: ArrayLike = DEFAULT_CONFIG.bit_rate_bps,
    implementation_loss_db: ArrayLike = 0.0,
    modulation: str = "2gfsk",
) -> FloatArray:
    """
    Bit error rate of non-coherent binary (G)FSK in additive white Gaussian noise.

    Parameters
    ----------
    snr_db : array-like
        Signal-to-noise ratio in the noise bandwidth; ``-inf`` gives 0.5. [dB]
    bandwidth_hz : array-like
        Noise bandwidth, > 0 (100 kHz for Wi-SUN mode 1b). [Hz]
    bit_rate_bps : array-like
        Bit rate, > 0 (50 kb/s for Wi-SUN mode 1b). [bit/s]
    implementation_loss_db : array-like
        Taken off Eb/N0, >= 0. [dB]
    modulation : {"2gfsk", "2fsk"}
        SUN FSK modulation; the Gaussian filter is neglected (its loss belongs in the implementation loss).

    Returns
    -------
    ber : ndarray
        Bit error probability in [0, 0.5]. [1]

    Notes
    -----
    :math:`BER = \\tfrac12 \\exp(-\\tfrac12 E_b/N_0)`, with
    :math:`E_b/N_0 = SNR + 10 \\log_{10}(B/R) - L_{impl}` in dB, taken to linear.

    References
    ----------
    J. G. Proakis, Digital Communications, 4th ed., §5.4 (non-coherent detection of orthogonal binary FSK).
    IEEE Std 802.15.4g-2012 (SUN FSK PHY).
    """
    if modulation not in _MODULATIONS:
        raise ValueError(f"modulation must be one of {_MODULATIONS}, got {modulation!r}")
    loss = _non_negative("implementation_loss_db", implementation_loss_db)
    ebn0_db = eb_n0_db(snr_db, bandwidth_hz, bit_rate_bps) - loss
    with np.errstate(over="ignore"):
        ebn0 = 10.0 ** (ebn0_db / 10.0)
    out: FloatArray = 0.5 * np.exp(-0.5 * ebn0)
    return out


def packet_success_probability(
    rssi_dbm: ArrayLike,
    frame_bytes: ArrayLike,
    config: RadioConfig = DEFAULT_CONFIG,
) -> FloatArray:
    """
    Probability that a frame is received with no bit in error.

    Parameters
    ----------
    rssi_dbm : array-like
        Received power; ``-inf`` (no link) gives 0. [dBm]
    frame_bytes : array-like of int
        Octets that must arrive without error: PHY header and PSDU (MAC frame with its FCS), >= 0.
        Errors in the preamble and start-of-frame delimiter are neglected. [octet]
    config : RadioConfig
        Noise figure, bandwidth, bit rate, implementation loss and sensitivity.

    Returns
    -------
    p_success : ndarray
        :math:`(1 - BER)^{8 L}`, and 0 below ``config.sensitivity_dbm``. [1]

    Notes
    -----
    Bit errors are taken as independent (no FEC, no interleaving; Wi-SUN FEC is optional and off).
    The power is computed as ``exp(8 L log1p(-BER))`` so that tiny error rates keep their precision.

    References
    ----------
    IEEE Std 802.15.4-2006 §6.1.7 (receiver sensitivity: a PER limit for a 20-octet PSDU).
    """
    s = _not_nan("rssi_dbm", rssi_dbm)
    n_bytes = _counts("frame_bytes", frame_bytes)
    snr = s - config.noise_floor_dbm
    ber = bit_error_rate(
        snr,
        bandwidth_hz=config.bandwidth_hz,
        bit_rate_bps=config.bit_rate_bps,
        implementation_loss_db=config.implementation_loss_db,
    )
    p = np.exp(8.0 * n_bytes * np.log1p(-ber))
    out: FloatArray = np.where(s >= config.sensitivity_dbm, p, 0.0)
    return out


def airtime_s(frame_bytes: ArrayLike, config: RadioConfig = DEFAULT_CONFIG) -> FloatArray:
    """
    Time on air of a frame: preamble, SFD, PHY header and PSDU at the PHY bit rate.

    Parameters
    ----------
    frame_bytes : array-like of int
        PSDU length (MAC frame with its FCS), >= 0. [octet]
    config : RadioConfig
        Preamble, SFD and PHR lengths and bit rate.

    Returns
    -------
    airtime_s : ndarray
        :math:`8 (L_{pre} + L_{SFD} + L_{PHR} + L) / R`. [s]

    References
    ----------
    IEEE Std 802.15.4g-2012 (SUN FSK PPDU format: preamble, SFD, PHR, PSDU).
    """
    n_bytes = _counts("frame_bytes", frame_bytes)
    overhead = config.preamble_bytes + config.sfd_bytes + config.phr_bytes
    out: FloatArray = np.asarray(8.0 * (overhead + n_bytes) / config.bit_rate_bps, dtype=np.float64)
    return out


def etx(p_forward: ArrayLike, p_ack: ArrayLike) -> FloatArray:
    """
    Expected transmission count of a link with acknowledgements.

    Parameters
    ----------
    p_forward : array-like
        Probability that a data frame gets through, in [0, 1]. [1]
    p_ack : array-like
        Probability that its acknowledgement gets back, in [0, 1]. [1]

    Returns
    -------
    etx : ndarray
        :math:`1 / (p_f p_a)`, ``inf`` when either is 0. [1]

    References
    ----------
    D. S. J. De Couto et al., "A high-throughput path metric for multi-hop wireless routing", MobiCom
    2003; RFC 6551 §4.3.3 (ETX as an RPL routing metric).
    """
    pf = np.asarray(p_forward, dtype=np.float64)
    pa = np.asarray(p_ack, dtype=np.float64)
    for name, arr, raw in (("p_forward", pf, p_forward), ("p_ack", pa, p_ack)):
        if not np.all((arr >= 0) & (arr <= 1)):
            raise ValueError(f"{name} must be in [0, 1], got {raw!r}")
    both = pf * pa
    with np.errstate(divide="ignore"):
        out: FloatArray = np.where(both > 0, 1.0 / np.where(both > 0, both, 1.0), np.inf)
    return out


def lqi(rssi_dbm: ArrayLike, config: RadioConfig = DEFAULT_CONFIG) -> NDArray[np.uint8]:
    """
    Link quality indicator, 0–255, from the received power, as a receiver's energy detection does.

    Parameters
    ----------
    rssi_dbm : array-like
        Received power; ``-inf`` gives 0. [dBm]
    config : RadioConfig
        Sensitivity and the span of the mapping.

    Returns
    -------
    lqi : ndarray of uint8
        0 at or below the sensitivity, 255 at ``lqi_span_db`` above it and beyond, linear (rounded)
        between. [1]

    Notes
    -----
    IEEE 802.15.4 leaves the LQI measurement to the implementation ("receiver ED, a signal-to-noise
    ratio estimation, or a combination"); this one is ED-like, linear in dB over 40 dB, the minimum ED
    range the standard asks for.

    References
    ----------
    IEEE Std 802.15.4-2006 §6.9.7 (receiver ED) and §6.9.8 (LQI).
    """
    s = _not_nan("rssi_dbm", rssi_dbm)
    scaled = 255.0 * (s - config.sensitivity_dbm) / config.lqi_span_db
    out: NDArray[np.uint8] = np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)
    return out


def link_budget_matrix(
    positions_m: ArrayLike,
    walls: ArrayLike,
    metal_box: ArrayLike,
    metal_wall: ArrayLike,
    tx_power_dbm: ArrayLike,
    seed: int,
    config: RadioConfig = DEFAULT_CONFIG,
    *,
    antenna_gain_dbi: ArrayLike | None = None,
    node_ids: ArrayLike | None = None,
) -> FloatArray:
    """
    RSSI of every link of a site in one numpy pass.

    Parameters
    ----------
    positions_m : array-like, shape (n, 2) or (n, 3)
        Device positions. [m]
    walls : array-like of int, shape (n, n)
        Walls between each pair, symmetric, >= 0 (the diagonal is ignored). [1]
    metal_box : array-like of bool, shape (n,)
        Device mounted inside a metal box (manual §1, §5.2 caution).
    metal_wall : array-like of bool, shape (n,)
        Device mounted near a metal wall (manual §1, §5.2 caution).
    tx_power_dbm : array-like, shape (n,)
        Transmit power of each device, e.g. ``config.mdt_tx_power_dbm`` for MDTs and
        ``config.repeater_tx_power_dbm`` for repeaters and the DCAP. [dBm]
    seed : int
        Site seed of the shadowing. [1]
    config : RadioConfig
        Channel parameters.
    antenna_gain_dbi : array-like, shape (n,), optional
        Antenna gain of each device; by default ``config.mdt_antenna_gain_dbi`` for all. [dBi]
    node_ids : array-like of int, shape (n,), optional
        Identifiers of the devices for the shadowing (:func:`link_shadowing_db`); by default
        ``0 .. n-1``. Pass stable identifiers (e.g. EUI-64s as integers) so that a link keeps its
        shadowing when devices are added to or removed from the site. [1]

    Returns
    -------
    rssi_dbm : ndarray, shape (n, n)
        ``rssi_dbm[i, j]`` is the power at device j of a frame sent by device i; ``-inf`` on the
        diagonal. The loss is symmetric, so ``rssi - tx_power[:, None]`` is a symmetric matrix. [dBm]

    Notes
    -----
    Element for element equal to
    ``rssi_dbm(tx[i], log_distance_path_loss_db(d, f, n, d0), g[i], g[j],
    obstruction_loss_db(w[i, j], box[i] + box[j], mw[i] + mw[j]), link_shadowing_db(id[i], id[j], seed,
    sigma))``.
    """
    pos = _finite("positions_m", positions_m)
    if pos.ndim != 2 or pos.shape[1] not in (2, 3):
        raise ValueError(f"positions_m must have shape (n, 2) or (n, 3), got {pos.shape}")
    n = pos.shape[0]
    w = _counts("walls", walls)
    if w.shape != (n, n):
        raise ValueError(f"walls must have shape ({n}, {n}), got {w.shape}")
    if not np.array_equal(w, w.T):
        raise ValueError("walls must be symmetric")
    box = _counts("metal_box", metal_box, maximum=1)
    mwall = _counts("metal_wall", metal_wall, maximum=1)
    tx = _finite("tx_power_dbm", tx_power_dbm)
    gain = (
        np.full(n, config.mdt_antenna_gain_dbi)
        if antenna_gain_dbi is None
        else _finite("antenna_gain_dbi", antenna_gain_dbi)
    )
    ids = np.arange(n, dtype=np.uint64) if node_ids is None else _node_ids("node_ids", node_ids)
    for name, arr in (
        ("metal_box", box),
        ("metal_wall", mwall),
        ("tx_power_dbm", tx),
        ("antenna_gain_dbi", gain),
        ("node_ids", ids),
    ):
        if arr.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    if node_ids is not None and np.unique(ids).size != n:
        raise ValueError("node_ids must be unique")

    diff = pos[:, None, :] - pos[None, :, :]
    distance = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    loss = log_distance_path_loss_db(
        distance, config.frequency_hz, config.path_loss_exponent, config.reference_distance_m
    )
    loss += w * config.wall_loss_db
    loss += ((box[:, None] + box[None, :]) * config.metal_box_loss_db).astype(np.float64)
    loss += ((mwall[:, None] + mwall[None, :]) * config.metal_wall_loss_db).astype(np.float64)
    loss += link_shadowing_db(ids[:, None], ids[None, :], seed, config.shadowing_sigma_db)
    rssi: FloatArray = (tx + gain)[:, None] + gain[None, :] - loss
    np.fill_diagonal(rssi, -np.inf)
    return rssi
