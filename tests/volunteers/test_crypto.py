"""Encryption at rest and the blind index for ID numbers."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.fernet import Fernet, InvalidToken

from volunteers import crypto

CLASSIC_ID = "11010519491231002X"
OTHER_ID = "440524188001010014"
TEST_KEY = "hSfnH9OOfJh-yyZiWBtfDIhkTZNwddQQA3SCQ0VBFaQ="


def _new_key() -> str:
    return Fernet.generate_key().decode()


def test_encrypt_decrypt_round_trip():
    token = crypto.encrypt(CLASSIC_ID)
    assert isinstance(token, str)
    assert crypto.decrypt(token) == CLASSIC_ID


def test_ciphertext_does_not_contain_the_number():
    token = crypto.encrypt(CLASSIC_ID)
    for clear in (CLASSIC_ID, CLASSIC_ID[:17], CLASSIC_ID[6:14]):
        assert clear not in token


def test_each_encryption_is_different_but_decrypts_to_the_same_number():
    first, second = crypto.encrypt(CLASSIC_ID), crypto.encrypt(CLASSIC_ID)
    assert first != second
    assert crypto.decrypt(first) == crypto.decrypt(second) == CLASSIC_ID


def test_tampered_token_is_rejected():
    token = crypto.encrypt(CLASSIC_ID)
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(InvalidToken):
        crypto.decrypt(tampered)


def test_encryption_uses_the_configured_key(settings):
    assert settings.ID_NUMBER_KEYS == [TEST_KEY]
    token = crypto.encrypt(CLASSIC_ID)
    assert Fernet(TEST_KEY.encode()).decrypt(token.encode()).decode() == CLASSIC_ID


def test_blind_index_is_a_deterministic_keyed_hmac(settings):
    expected = hmac.new(b"test-id-number-hash-key", CLASSIC_ID.encode(), hashlib.sha256).hexdigest()
    assert settings.ID_NUMBER_HASH_KEY == "test-id-number-hash-key"
    assert crypto.blind_index(CLASSIC_ID) == expected
    assert crypto.blind_index(CLASSIC_ID) == crypto.blind_index(CLASSIC_ID)
    assert len(expected) == 64
    assert CLASSIC_ID not in expected


def test_blind_index_differs_for_different_numbers():
    assert crypto.blind_index(CLASSIC_ID) != crypto.blind_index(OTHER_ID)
    # One character apart is enough.
    assert crypto.blind_index(CLASSIC_ID) != crypto.blind_index(CLASSIC_ID[:16] + "12")


def test_blind_index_depends_on_the_key(settings):
    before = crypto.blind_index(CLASSIC_ID)
    settings.ID_NUMBER_HASH_KEY = "another-key"
    assert crypto.blind_index(CLASSIC_ID) != before
    assert crypto.blind_index(CLASSIC_ID) == hmac.new(b"another-key", CLASSIC_ID.encode(), hashlib.sha256).hexdigest()


def test_key_rotation_keeps_old_tokens_readable_and_rotate_reencrypts(settings):
    old, new = _new_key(), _new_key()

    settings.ID_NUMBER_KEYS = [old]
    old_token = crypto.encrypt(CLASSIC_ID)

    # New key first: old tokens still decrypt, new ones use the new key.
    settings.ID_NUMBER_KEYS = [new, old]
    assert crypto.decrypt(old_token) == CLASSIC_ID
    rotated = crypto.rotate(old_token)
    assert rotated != old_token
    assert crypto.decrypt(rotated) == CLASSIC_ID
    fresh = crypto.encrypt(OTHER_ID)

    # With the old key retired, only rotated and fresh tokens remain readable.
    settings.ID_NUMBER_KEYS = [new]
    assert crypto.decrypt(rotated) == CLASSIC_ID
    assert crypto.decrypt(fresh) == OTHER_ID
    with pytest.raises(InvalidToken):
        crypto.decrypt(old_token)

    # And the old key alone cannot read what the new key wrote.
    settings.ID_NUMBER_KEYS = [old]
    with pytest.raises(InvalidToken):
        crypto.decrypt(rotated)


def test_rotating_a_token_already_under_the_primary_key_keeps_it_readable(settings):
    new = _new_key()
    settings.ID_NUMBER_KEYS = [new]
    token = crypto.encrypt(CLASSIC_ID)
    assert crypto.decrypt(crypto.rotate(token)) == CLASSIC_ID


def test_empty_key_list_is_an_explicit_error(settings):
    settings.ID_NUMBER_KEYS = []
    with pytest.raises(RuntimeError, match="ID_NUMBER_KEYS is empty"):
        crypto.encrypt(CLASSIC_ID)
