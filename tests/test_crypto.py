from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.config import Settings
from bot.crypto import (
    KEY_FILE_NAME,
    SecretBox,
    aload_secret_box,
    generate_key,
    load_secret_box,
    parse_keys,
)
from bot.errors import ConfigError, DecryptError


def test_encrypt_round_trip_hides_the_plaintext() -> None:
    box = SecretBox([generate_key().encode()])
    token = box.encrypt(b"session-uuid-0123456789abcdef")
    assert b"session-uuid" not in token
    result = box.decrypt(token)
    assert result.plaintext == b"session-uuid-0123456789abcdef"
    assert result.stale is False


def test_rotation_encrypts_with_newest_and_decrypts_older() -> None:
    old, new = generate_key(), generate_key()
    old_token = SecretBox([old.encode()]).encrypt(b"x")
    rotated = load_secret_box(Settings(session_key=f"{new}, {old}"))
    decrypted = rotated.decrypt(old_token)
    assert decrypted.plaintext == b"x"
    assert decrypted.stale is True
    new_token = rotated.encrypt(b"y")
    assert Fernet(new.encode()).decrypt(new_token) == b"y"  # newest key first
    assert rotated.decrypt(new_token).stale is False


def test_foreign_or_garbage_token_raises_decrypt_error() -> None:
    box = SecretBox([generate_key().encode()])
    other = SecretBox([generate_key().encode()]).encrypt(b"x")
    for token in (other, b"not a token", b""):
        with pytest.raises(DecryptError):
            box.decrypt(token)


def test_parse_keys_accepts_spaces_and_commas() -> None:
    a, b = generate_key(), generate_key()
    assert parse_keys(f" {a} ,{b},") == [a.encode(), b.encode()]


@pytest.mark.parametrize("text", [" , ", "short", "x" * 44, "é" * 44, "not-a-key-at-all=="])
def test_bad_key_is_one_config_line_without_the_key(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_secret_box(Settings(session_key=text))
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("CLONEBOT_SESSION_KEY:")
    if text.strip(" ,"):
        assert text.strip(" ,") not in str(info.value)


def test_bad_second_key_is_named_by_position() -> None:
    with pytest.raises(ConfigError, match=r"key 2 of 2"):
        parse_keys(f"{generate_key()},nope")


def test_empty_key_list_is_config_error() -> None:
    with pytest.raises(ConfigError):
        parse_keys(" , ")
    with pytest.raises(ConfigError):
        SecretBox([])


def test_unset_key_is_generated_once_in_data_dir(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    caplog.set_level(logging.WARNING, logger="bot.crypto")
    first = load_secret_box(Settings(data_dir=data_dir))
    path = data_dir / KEY_FILE_NAME
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key_text = path.read_text().strip()
    Fernet(key_text.encode())  # a valid key
    assert any("generated" in r.getMessage() for r in caplog.records)
    assert all(key_text not in r.getMessage() for r in caplog.records)

    caplog.clear()
    second = load_secret_box(Settings(data_dir=data_dir))
    assert second.decrypt(first.encrypt(b"kept")).plaintext == b"kept"
    assert path.read_text().strip() == key_text
    assert any("unset" in r.getMessage() for r in caplog.records)  # still warned
    assert all(key_text not in r.getMessage() for r in caplog.records)


def test_explicit_key_ignores_key_file(tmp_path: Path) -> None:
    key = generate_key()
    box = load_secret_box(Settings(session_key=key, data_dir=tmp_path))
    assert not (tmp_path / KEY_FILE_NAME).exists()
    assert Fernet(key.encode()).decrypt(box.encrypt(b"z")) == b"z"


def test_corrupted_key_file_is_config_error(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("garbage\n")
    (tmp_path / KEY_FILE_NAME).chmod(0o600)
    with pytest.raises(ConfigError) as info:
        load_secret_box(Settings(data_dir=tmp_path))
    assert str(tmp_path / KEY_FILE_NAME) in info.value.problems[0]
    assert len(info.value.problems) == 1


def test_unusable_data_dir_is_config_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(ConfigError, match="CLONEBOT_SESSION_KEY is unset"):
        load_secret_box(Settings(data_dir=not_a_dir / "sub"))


async def test_async_loader_reads_key_file_off_the_loop(tmp_path: Path) -> None:
    box = await aload_secret_box(Settings(data_dir=tmp_path))
    again = await aload_secret_box(Settings(data_dir=tmp_path))
    assert again.decrypt(box.encrypt(b"a")).plaintext == b"a"


def test_repr_shows_no_key() -> None:
    key = generate_key()
    assert key not in repr(SecretBox([key.encode()]))
