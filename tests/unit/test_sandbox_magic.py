"""Magic-number checks behind E4's 415 (pure functions, no sockets)."""

from __future__ import annotations

import pytest

from batcher.sandbox.config import ALLOWED_CONTENT_TYPES
from batcher.sandbox.magic import is_plain_text, matches
from tests.fixtures.sandbox import SAMPLE_HEADERS


@pytest.mark.parametrize("content_type", sorted(ALLOWED_CONTENT_TYPES))
def test_every_allowlisted_type_has_a_matching_sample(content_type: str) -> None:
    assert matches(content_type, SAMPLE_HEADERS[content_type])


@pytest.mark.parametrize("content_type", sorted(ALLOWED_CONTENT_TYPES))
def test_empty_content_matches_nothing(content_type: str) -> None:
    assert not matches(content_type, b"")


@pytest.mark.parametrize(
    ("content_type", "head"),
    [
        ("video/mp4", b"RIFF\x00\x00\x00\x00AVI "),
        ("video/x-msvideo", b"RIFF\x00\x00\x00\x00WAVE"),
        ("audio/wav", b"RIFF\x00\x00\x00\x00WEBP"),
        ("image/webp", b"RIFF\x00\x00\x00\x00AVI "),
        ("audio/aac", b"\xff\xfb\x90\x00"),  # an MP3 frame, not ADTS
        ("audio/mpeg", b"\xff\xf1\x50\x80"),  # ADTS: layer bits 00
        ("image/png", b"\xff\xd8\xff"),
        ("image/gif", b"GIF90a"),
        ("image/svg+xml", b"<html><body/></html>"),
        ("application/pdf", b"PDF-1.7"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x05\x06"),
        ("application/msword", b"PK\x03\x04"),
        ("text/plain", b"a\x00b"),
    ],
)
def test_lookalikes_do_not_match(content_type: str, head: bytes) -> None:
    assert not matches(content_type, head)


def test_mp3_accepts_a_bare_frame_sync() -> None:
    assert matches("audio/mpeg", b"\xff\xfb\x90\x00")


def test_svg_may_start_with_an_xml_prologue() -> None:
    assert matches("image/svg+xml", b'<?xml version="1.0"?>\n<svg xmlns="x"/>')
    assert matches("image/svg+xml", b"\xef\xbb\xbf  <svg/>")


def test_quicktime_accepts_classic_atoms() -> None:
    assert matches("video/quicktime", b"\x00\x00\x00\x08wide\x00\x00")


def test_plain_text_is_utf8_without_nul() -> None:
    assert is_plain_text("héllo".encode())
    assert not is_plain_text(b"\xc3")  # truncated sequence
    assert not is_plain_text(b"")
