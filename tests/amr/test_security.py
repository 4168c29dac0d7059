"""Tests of meshmeter.amr.security: CCM* of IEEE 802.15.4-2006 §7.6 and its Annex C vectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshmeter.amr.security import SecurityLevel, ccm_nonce, secure, unsecure
from meshmeter.errors import SecurityError

# IEEE 802.15.4-2006 Annex C.2: key C0 C1 ... CF, originator ACDE480000000001, frame counter 5.
ANNEX_C_KEY = bytes(range(0xC0, 0xD0))
ANNEX_C_SOURCE = bytes.fromhex("ACDE480000000001")
ANNEX_C_COUNTER = 5

# C.2.1 beacon frame, level 2 (MIC-64): MAC header with its auxiliary security header, then the beacon
# payload (superframe spec 55CF, GTS 00, pending 00, beacon payload 51 52 53 54); nothing encrypted.
C21_HEADER = bytes.fromhex("08D0 8421 43 0100000000 48DEAC 02 05000000".replace(" ", ""))
C21_PAYLOAD = bytes.fromhex("55CF000051525354")
C21_MIC = bytes.fromhex("223BC1EC841AB553")
C21_FRAME = bytes.fromhex("08D0842143010000000048DEAC020500000055CF000051525354223BC1EC841AB553")

# C.2.2 data frame, level 4 (ENC): payload "abcd" encrypted, no MIC.
C22_HEADER = bytes.fromhex("69DC 84 2143 0200000000 48DEAC 0100000000 48DEAC 04 05000000".replace(" ", ""))
C22_PAYLOAD = b"abcd"
C22_SECURED = bytes.fromhex("D43E022B")

# C.2.3 MAC command frame (association request), level 6 (ENC-MIC-64): the command identifier 01 is
# authenticated, the capability information CE encrypted.
C23_HEADER = bytes.fromhex(
    "2BDC 84 2143 0200000000 48DEAC FFFF 0100000000 48DEAC 06 05000000 01".replace(" ", "")
)
C23_PAYLOAD = bytes.fromhex("CE")
C23_SECURED = bytes.fromhex("D8 4FDE529061F9C6F1".replace(" ", ""))

KEY = bytes(range(16))
SOURCE = bytes.fromhex("0123456789ABCDEF")


# ---------------------------------------------------------------------------------------------------
# Table 95 and the nonce
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "mic_length", "encrypted"),
    [
        (0, 0, False),
        (1, 4, False),
        (2, 8, False),
        (3, 16, False),
        (4, 0, True),
        (5, 4, True),
        (6, 8, True),
        (7, 16, True),
    ],
)
def test_security_level_table_95(level, mic_length, encrypted):
    assert SecurityLevel(level).mic_length == mic_length
    assert SecurityLevel(level).encrypted is encrypted


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (2, "ACDE4800000000010000000502"),  # C.2.1
        (4, "ACDE4800000000010000000504"),  # C.2.2
        (6, "ACDE4800000000010000000506"),  # C.2.3
    ],
)
def test_ccm_nonce_annex_c(level, expected):
    assert ccm_nonce(ANNEX_C_SOURCE, ANNEX_C_COUNTER, level) == bytes.fromhex(expected)


def test_ccm_nonce_byte_order_is_big_endian():
    nonce = ccm_nonce(bytes.fromhex("0102030405060708"), 0x0A0B0C0D, SecurityLevel.ENC_MIC_64)
    assert nonce == bytes.fromhex("01020304050607080A0B0C0D06")
    assert len(nonce) == 13


# ---------------------------------------------------------------------------------------------------
# Annex C vectors, byte for byte
# ---------------------------------------------------------------------------------------------------


def test_annex_c21_beacon_mic64():
    secured = secure(ANNEX_C_KEY, 2, ANNEX_C_SOURCE, 5, C21_HEADER, C21_PAYLOAD)
    assert secured == C21_PAYLOAD + C21_MIC
    assert C21_HEADER + secured == C21_FRAME
    assert unsecure(ANNEX_C_KEY, 2, ANNEX_C_SOURCE, 5, C21_HEADER, secured) == C21_PAYLOAD


def test_annex_c21_all_in_header_gives_the_same_mic():
    # At a level without encryption the payload is authenticated with the header: a = header ‖ payload.
    assert secure(ANNEX_C_KEY, 2, ANNEX_C_SOURCE, 5, C21_HEADER + C21_PAYLOAD, b"") == C21_MIC


def test_annex_c22_data_frame_enc():
    secured = secure(ANNEX_C_KEY, 4, ANNEX_C_SOURCE, 5, C22_HEADER, C22_PAYLOAD)
    assert secured == C22_SECURED
    assert unsecure(ANNEX_C_KEY, 4, ANNEX_C_SOURCE, 5, C22_HEADER, secured) == C22_PAYLOAD


def test_annex_c23_command_frame_enc_mic64():
    secured = secure(ANNEX_C_KEY, 6, ANNEX_C_SOURCE, 5, C23_HEADER, C23_PAYLOAD)
    assert secured == C23_SECURED
    assert unsecure(ANNEX_C_KEY, 6, ANNEX_C_SOURCE, 5, C23_HEADER, secured) == C23_PAYLOAD


def test_level_0_passes_the_payload_through():
    assert secure(KEY, 0, SOURCE, 1, b"hdr", b"payload") == b"payload"
    assert unsecure(KEY, 0, SOURCE, 1, b"hdr", b"payload") == b"payload"


def test_level_4_detects_no_tampering():
    # ENC without a MIC (CCM* M = 0): a flipped bit decrypts to a flipped bit, without an error.
    secured = bytearray(secure(KEY, 4, SOURCE, 1, b"hdr", b"\x00\x00"))
    secured[0] ^= 0x01
    assert unsecure(KEY, 4, SOURCE, 1, b"hdr", bytes(secured)) == b"\x01\x00"


def test_bytes_like_arguments_are_accepted():
    expected = secure(ANNEX_C_KEY, 6, ANNEX_C_SOURCE, 5, C23_HEADER, C23_PAYLOAD)
    got = secure(
        bytearray(ANNEX_C_KEY),
        SecurityLevel.ENC_MIC_64,
        bytearray(ANNEX_C_SOURCE),
        5,
        memoryview(C23_HEADER),
        bytearray(C23_PAYLOAD),
    )
    assert got == expected


# ---------------------------------------------------------------------------------------------------
# Rejections
# ---------------------------------------------------------------------------------------------------

MIC_LEVELS = [1, 2, 3, 5, 6, 7]


@pytest.mark.parametrize("level", MIC_LEVELS)
def test_every_flipped_byte_fails_the_mic(level):
    header, payload = b"header bytes", b"payload bytes"
    secured = secure(KEY, level, SOURCE, 7, header, payload)
    for i in range(len(secured)):
        bad = bytearray(secured)
        bad[i] ^= 0x80
        with pytest.raises(SecurityError) as info:
            unsecure(KEY, level, SOURCE, 7, header, bytes(bad))
        assert info.value.reason == "bad_mic"
    for i in range(len(header)):
        bad = bytearray(header)
        bad[i] ^= 0x01
        with pytest.raises(SecurityError, match="bad_mic"):
            unsecure(KEY, level, SOURCE, 7, bytes(bad), secured)


@pytest.mark.parametrize("level", MIC_LEVELS)
@pytest.mark.parametrize(
    "change",
    [
        {"key": bytes(16)},
        {"source": bytes.fromhex("0123456789ABCDEE")},
        {"counter": 8},
        {"header": b"header bytez"},
        {"secured_cut": 1},
    ],
)
def test_wrong_key_nonce_or_length_fails_the_mic(level, change):
    header, payload = b"header bytes", b"payload bytes"
    secured = secure(KEY, level, SOURCE, 7, header, payload)
    if "secured_cut" in change:
        secured = secured[: -change["secured_cut"]]
    with pytest.raises(SecurityError) as info:
        unsecure(
            change.get("key", KEY),
            level,
            change.get("source", SOURCE),
            change.get("counter", 7),
            change.get("header", header),
            secured,
        )
    assert info.value.reason == "bad_mic"


@pytest.mark.parametrize("level", MIC_LEVELS)
def test_secured_shorter_than_the_mic_fails(level):
    with pytest.raises(SecurityError, match="bad_mic"):
        unsecure(KEY, level, SOURCE, 7, b"h", b"\x00" * (SecurityLevel(level).mic_length - 1))


def test_a_different_level_fails_the_mic():
    secured = secure(KEY, 6, SOURCE, 7, b"h", b"p")
    with pytest.raises(SecurityError, match="bad_mic"):
        unsecure(KEY, 2, SOURCE, 7, b"h", secured)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"key": bytes(15)}, "key"),
        ({"key": bytes(32)}, "key"),
        ({"key": "0" * 16}, "key"),
        ({"level": 8}, "level"),
        ({"level": -1}, "level"),
        ({"level": True}, "level"),
        ({"level": 6.0}, "level"),
        ({"source_eui64": bytes(7)}, "source_eui64"),
        ({"source_eui64": 0x0123456789ABCDEF}, "source_eui64"),
        ({"frame_counter": -1}, "frame_counter"),
        ({"frame_counter": 2**32}, "frame_counter"),
        ({"frame_counter": 1.0}, "frame_counter"),
        ({"header": "text"}, "header"),
    ],
)
@pytest.mark.parametrize("function", [secure, unsecure])
def test_bad_arguments_raise_value_error_naming_them(function, kwargs, match):
    args = {
        "key": KEY,
        "level": 6,
        "source_eui64": SOURCE,
        "frame_counter": 1,
        "header": b"h",
    }
    args.update(kwargs)
    last = b"p" * 9
    with pytest.raises(ValueError, match=match):
        function(
            args["key"], args["level"], args["source_eui64"], args["frame_counter"], args["header"], last
        )


@pytest.mark.parametrize(("function", "name"), [(secure, "payload"), (unsecure, "secured")])
def test_non_bytes_payload_raises_value_error(function, name):
    with pytest.raises(ValueError, match=name):
        function(KEY, 6, SOURCE, 1, b"h", "text")


def test_ccm_nonce_rejects_bad_arguments():
    with pytest.raises(ValueError, match="source_eui64"):
        ccm_nonce(bytes(9), 1, 6)
    with pytest.raises(ValueError, match="frame_counter"):
        ccm_nonce(SOURCE, 2**32, 6)
    with pytest.raises(ValueError, match="level"):
        ccm_nonce(SOURCE, 1, 9)


# ---------------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------------


@given(
    key=st.binary(min_size=16, max_size=16),
    level=st.sampled_from(list(SecurityLevel)),
    source=st.binary(min_size=8, max_size=8),
    counter=st.integers(0, 2**32 - 1),
    header=st.binary(max_size=40),
    payload=st.binary(max_size=200),
)
def test_round_trip_every_level(key, level, source, counter, header, payload):
    secured = secure(key, level, source, counter, header, payload)
    assert len(secured) == len(payload) + level.mic_length
    if not level.encrypted:
        assert secured[: len(payload)] == payload
    assert unsecure(key, level, source, counter, header, secured) == payload


def test_ccm_context_is_made_once_per_key_and_mic_length():
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM

    from meshmeter.amr.security import ccm_context

    a = ccm_context(ANNEX_C_KEY, 8)
    assert ccm_context(bytes(ANNEX_C_KEY), 8) is a  # equal keys share it
    assert ccm_context(ANNEX_C_KEY, 4) is not a
    nonce = ccm_nonce(ANNEX_C_SOURCE, ANNEX_C_COUNTER, 6)
    fresh = AESCCM(ANNEX_C_KEY, tag_length=8)
    assert a.encrypt(nonce, b"payload", b"header") == fresh.encrypt(nonce, b"payload", b"header")
