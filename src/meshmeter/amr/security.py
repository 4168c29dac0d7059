"""CCM* frame security of IEEE 802.15.4-2006 §7.6, on AES-128 from the ``cryptography`` package.

A secured frame carries a security level (Table 95) that says how long its message integrity code (MIC)
is and whether its payload is encrypted. CCM* (Annex B) is CCM (NIST SP 800-38C) with two extensions:
a MIC length of zero (encryption only, level 4) and the 802.15.4 nonce (§7.6.3.2). Levels with a MIC are
plain CCM and use :class:`~cryptography.hazmat.primitives.ciphers.aead.AESCCM`; level 4 is the CCM*
encryption transformation alone, AES in counter mode over the CCM* counter blocks (Annex B.4.2).

What is authenticated and what is encrypted follows §7.6.3.4:

=====  ===========================  =========================
level  authenticated data (a data)  encrypted data (m data)
=====  ===========================  =========================
0      nothing                      nothing
1–3    header ‖ payload             nothing
4      nothing                      payload
5–7    header                       payload
=====  ===========================  =========================

Keys are 16 bytes (AES-128). An EUI-64 is 8 bytes in its written order, most significant byte first
(``ACDE480000000001``); the nonce takes it so, whereas an 802.15.4 MAC header carries it little-endian.
"""

from __future__ import annotations

from enum import IntEnum
from struct import Struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from meshmeter.errors import SecurityError

__all__ = [
    "KEY_BYTES",
    "NONCE_BYTES",
    "SecurityLevel",
    "ccm_context",
    "ccm_nonce",
    "secure",
    "unsecure",
]

KEY_BYTES = 16
"""Length of a key: AES-128 (IEEE 802.15.4-2006 §7.6.3.3). [byte]"""

NONCE_BYTES = 13
"""Length of the CCM* nonce: EUI-64 ‖ frame counter ‖ security level (§7.6.3.2). [byte]"""

_MIC_BYTES = (0, 4, 8, 16, 0, 4, 8, 16)
_ENCRYPTED = (False, False, False, False, True, True, True, True)
_NONCE = Struct(">8sIB")
_CTR_FLAGS = b"\x01"  # CCM* counter-block flags for L = 2: L - 1 (Annex B.4.2)
_CTR_FIRST = b"\x00\x01"  # A_0 encrypts the MIC; the payload starts at A_1 (Annex B.4.2)
_U32 = 2**32


class SecurityLevel(IntEnum):
    """
    The security levels of IEEE 802.15.4-2006 §7.6.2.2.1, Table 95.

    The level sets the length of the MIC [byte] and whether the payload is encrypted.
    """

    NONE = 0
    MIC_32 = 1
    MIC_64 = 2
    MIC_128 = 3
    ENC = 4
    ENC_MIC_32 = 5
    ENC_MIC_64 = 6
    ENC_MIC_128 = 7

    @property
    def mic_length(self) -> int:
        """Length of the MIC, 0, 4, 8 or 16 (Table 95). [byte]"""
        return _MIC_BYTES[self]

    @property
    def encrypted(self) -> bool:
        """True when the payload is encrypted (levels 4 to 7, Table 95)."""
        return _ENCRYPTED[self]


def _check_level(level: int) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 7:
        raise ValueError(f"level must be an int in [0, 7], got {level!r}")
    return level


def _check_eui64(source_eui64: bytes) -> bytes:
    if not isinstance(source_eui64, bytes | bytearray) or len(source_eui64) != 8:
        raise ValueError(f"source_eui64 must be 8 bytes, got {source_eui64!r}")
    return bytes(source_eui64)


def _check_counter(frame_counter: int) -> int:
    if isinstance(frame_counter, bool) or not isinstance(frame_counter, int) or not 0 <= frame_counter < _U32:
        raise ValueError(f"frame_counter must be an int in [0, 2**32), got {frame_counter!r}")
    return frame_counter


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        shown = f"{len(key)} bytes" if isinstance(key, bytes | bytearray) else repr(type(key).__name__)
        raise ValueError(f"key must be {KEY_BYTES} bytes (AES-128), got {shown}")
    return bytes(key)


def _check_data(name: str, value: bytes) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ValueError(f"{name} must be bytes, got {type(value).__name__}")
    return bytes(value)


def ccm_nonce(source_eui64: bytes, frame_counter: int, level: int) -> bytes:
    """
    Build the 13-byte CCM* nonce of IEEE 802.15.4-2006 §7.6.3.2.

    Parameters
    ----------
    source_eui64 : bytes
        Extended address of the frame's originator, 8 bytes, most significant byte first.
    frame_counter : int
        The originator's outgoing frame counter, in [0, 2**32). [1]
    level : int
        Security level of the frame, 0 to 7 (Table 95).

    Returns
    -------
    nonce : bytes
        ``source_eui64 ‖ frame_counter ‖ level``, the counter big-endian (most significant byte first,
        §7.6.3.1): 13 bytes.

    Raises
    ------
    ValueError
        If an argument is out of range or of the wrong type.

    References
    ----------
    IEEE 802.15.4-2006 §7.6.3.2 (CCM* nonce); Annex C.2 (test vectors).
    """
    return _NONCE.pack(_check_eui64(source_eui64), _check_counter(frame_counter), _check_level(level))


def _prepare(
    key: bytes, level: int, source_eui64: bytes, frame_counter: int, header: bytes
) -> tuple[int, bytes, bytes, bytes]:
    """Check the arguments common to :func:`secure` and :func:`unsecure`; build the nonce.

    The common case (exact ``bytes`` and ``int``) passes a few cheap tests; anything else goes through
    the full checks, which raise ValueError or return the value as ``bytes``.
    """
    cls = type(level)
    if (cls is not int and cls is not SecurityLevel) or not 0 <= level <= 7:
        level = _check_level(level)
    if type(key) is not bytes or len(key) != KEY_BYTES:
        key = _check_key(key)
    if type(source_eui64) is not bytes or len(source_eui64) != 8:
        source_eui64 = _check_eui64(source_eui64)
    if type(frame_counter) is not int or not 0 <= frame_counter < _U32:
        frame_counter = _check_counter(frame_counter)
    if type(header) is not bytes:
        header = _check_data("header", header)
    return level, key, _NONCE.pack(source_eui64, frame_counter, level), header


_CONTEXTS: dict[int, dict[bytes, AESCCM]] = {4: {}, 8: {}, 16: {}}  # by MIC length, then key
_MAX_CONTEXTS = 4096


def ccm_context(key: bytes, mic_length: int) -> AESCCM:
    """
    The AES-CCM context of a key and a MIC length, made once and kept (CCM of NIST SP 800-38C).

    A mesh secures millions of frames under a few thousand device keys: making the context (the AES key
    schedule) once per key instead of once per frame is what a real radio's security engine does too.
    At most 4096 contexts per MIC length are kept; beyond that the cache starts again.

    Parameters
    ----------
    key : bytes
        AES-128 key, exactly 16 ``bytes`` (the caller checks).
    mic_length : int
        Length of the MIC, 4, 8 or 16. [byte]

    Returns
    -------
    AESCCM
        The ``cryptography`` context; ``encrypt(nonce, payload, header)`` appends the MIC.
    """
    contexts = _CONTEXTS[mic_length]
    cached = contexts.get(key)
    if cached is None:
        if len(contexts) >= _MAX_CONTEXTS:
            contexts.clear()
        cached = contexts[key] = AESCCM(key, tag_length=mic_length)
    return cached


def _ctr(key: bytes, nonce: bytes, data: bytes) -> bytes:
    """CCM* encryption transformation without a MIC (Annex B.4.2): XOR with E(key, A_i), i = 1, 2 ..."""
    if not data:
        return b""
    encryptor = Cipher(algorithms.AES(key), modes.CTR(_CTR_FLAGS + nonce + _CTR_FIRST)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def secure(
    key: bytes,
    level: int,
    source_eui64: bytes,
    frame_counter: int,
    header: bytes,
    payload: bytes,
) -> bytes:
    """
    Apply outgoing frame security (CCM*) to a payload, IEEE 802.15.4-2006 §7.5.8.2.1 and §7.6.3.

    Parameters
    ----------
    key : bytes
        AES-128 key, 16 bytes.
    level : int
        Security level, 0 to 7 (Table 95).
    source_eui64 : bytes
        Extended address of the originator, 8 bytes, most significant byte first.
    frame_counter : int
        The originator's outgoing frame counter, in [0, 2**32); never reuse one under the same key. [1]
    header : bytes
        The header as it is authenticated (a data).
    payload : bytes
        The plaintext payload; authenticated where the level does not encrypt it (§7.6.3.4).

    Returns
    -------
    secured : bytes
        The secured payload (ciphertext at levels 4 to 7, else the plaintext) followed by the MIC
        (0, 4, 8 or 16 bytes). At level 0 the payload, unchanged.

    Raises
    ------
    ValueError
        If an argument is out of range or of the wrong type.

    References
    ----------
    IEEE 802.15.4-2006 §7.6.3.4 (CCM* transformation data representation), Annex B (CCM*),
    Annex C.2 (test vectors).
    """
    level, key, nonce, header = _prepare(key, level, source_eui64, frame_counter, header)
    if type(payload) is not bytes:
        payload = _check_data("payload", payload)
    mic_length = _MIC_BYTES[level]
    if mic_length == 0:
        return _ctr(key, nonce, payload) if level else payload
    ccm = ccm_context(key, mic_length)
    if _ENCRYPTED[level]:
        return ccm.encrypt(nonce, payload, header)
    return payload + ccm.encrypt(nonce, b"", header + payload)


def unsecure(
    key: bytes,
    level: int,
    source_eui64: bytes,
    frame_counter: int,
    header: bytes,
    secured: bytes,
) -> bytes:
    """
    Check and remove incoming frame security (CCM*), the inverse of :func:`secure`, §7.5.8.2.3.

    Parameters
    ----------
    key : bytes
        AES-128 key, 16 bytes.
    level : int
        Security level, 0 to 7 (Table 95).
    source_eui64 : bytes
        Extended address of the originator, 8 bytes, most significant byte first.
    frame_counter : int
        The frame counter the frame carries, in [0, 2**32). [1]
    header : bytes
        The header as it is authenticated (a data).
    secured : bytes
        The secured payload followed by the MIC, as :func:`secure` returns it.

    Returns
    -------
    payload : bytes
        The plaintext payload. Level 4 has no MIC: it decrypts anything and detects no tampering.

    Raises
    ------
    SecurityError
        With ``reason="bad_mic"`` if the MIC does not verify (wrong key, nonce, header or payload),
        or ``secured`` is shorter than the MIC.
    ValueError
        If an argument is out of range or of the wrong type.

    References
    ----------
    IEEE 802.15.4-2006 §7.5.8.2.3 (incoming frame security procedure), §7.6.3.4, Annex B.
    """
    level, key, nonce, header = _prepare(key, level, source_eui64, frame_counter, header)
    if type(secured) is not bytes:
        secured = _check_data("secured", secured)
    mic_length = _MIC_BYTES[level]
    if mic_length == 0:
        return _ctr(key, nonce, secured) if level else secured
    if len(secured) < mic_length:
        raise SecurityError("bad_mic", f"{len(secured)} bytes is shorter than the {mic_length}-byte MIC")
    ccm = ccm_context(key, mic_length)
    try:
        if _ENCRYPTED[level]:
            return ccm.decrypt(nonce, secured, header)
        payload = secured[:-mic_length]
        ccm.decrypt(nonce, secured[-mic_length:], header + payload)
    except InvalidTag:
        raise SecurityError("bad_mic", "the MIC does not verify") from None
    return payload
