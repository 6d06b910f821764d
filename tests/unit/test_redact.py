from __future__ import annotations

from pydantic import SecretStr

from batcher.redact import redact, redact_url


def test_sas_signature_is_redacted() -> None:
    url = (
        "https://acct.blob.core.windows.net/assets/ws/a.mp4?sv=2025-11-05&se=x&sp=cw&sig=AbC%2Bd%3D"
    )
    out = redact_url(url)
    assert "AbC" not in out
    assert out.endswith("sig=REDACTED")
    assert "sv=2025-11-05" in out


def test_signature_in_the_middle_keeps_the_rest() -> None:
    out = redact_url("http://h/b?sig=secret&sp=cw")
    assert out == "http://h/b?sig=REDACTED&sp=cw"


def test_api_keys_in_free_text_are_redacted() -> None:
    text = "failed with key sk_live_0123abcd and sk_test_sandbox at http://x/?a=1&sig=zz"
    out = redact(text)
    assert "0123abcd" not in out
    assert "sk_test_sandbox" not in out
    assert "zz" not in out


# --- the run's own secrets, untrusted texts, cut after redaction ----------------------------

import json  # noqa: E402

from batcher.api.errors_map import error_for_status  # noqa: E402
from batcher.blob.errors import error_from_response  # noqa: E402
from batcher.redact import Redactor, strip_control  # noqa: E402

KEY = "mmkey-LIVE-7f3a9c2e5b1d"  # no sk_ prefix: the shape-based redaction cannot know it


def test_a_key_with_dots_is_redacted_to_its_end() -> None:
    out = redact("refused: sk_live_abc.def.SECRETTAIL, try again")
    assert "SECRETTAIL" not in out
    assert "def" not in out
    assert out.endswith(", try again")


def test_the_configured_key_is_redacted_by_value_in_every_form() -> None:
    out = Redactor.of(SecretStr(KEY))(f"key {KEY} / json {json.dumps(KEY)}")
    assert "7f3a9c2e5b1d" not in out
    assert out.count("REDACTED") == 2
    secret = 'tok+en/"9x='
    out = Redactor.of(secret)(f"url ?k=tok%2Ben%2F%229x%3D json {json.dumps(secret)}")
    assert "tok" not in out
    assert out.count("REDACTED") == 2


def test_short_values_are_not_redacted_by_value() -> None:
    assert Redactor.of("ab")("a cab") == "a cab"


def test_control_characters_and_ansi_escapes_are_removed() -> None:
    text = "a\x1b[2J\x1b[31mred\x1b[0m\x07b\x1b]0;title\x07c\x00d\tkeep\nline"
    assert strip_control(text) == "aredbcd\tkeep\nline"


def test_an_api_error_body_echoing_the_key_is_redacted_and_cleaned() -> None:
    body = json.dumps({"detail": f"key {KEY} is not allowed \x1b[31mhere\x1b[0m"})
    error = error_for_status(422, body, {}, redactor=Redactor.of(KEY))
    assert KEY not in str(error)
    assert "\x1b" not in str(error)
    assert "is not allowed" in str(error)


def test_a_long_api_body_is_redacted_before_it_is_cut() -> None:
    text = "x" * 290 + " " + KEY  # not JSON: the raw text is the message
    error = error_for_status(400, text, {}, redactor=Redactor.of(KEY))
    assert "mmkey-LI" not in str(error)  # old: cut at 300, then a partial key no rule knew


def test_the_409_detail_is_still_recognised() -> None:
    error = error_for_status(409, json.dumps({"detail": "Asset already submitted"}), {})
    assert error.code == "already_submitted"  # type: ignore[attr-defined]


def test_a_blob_error_echoing_the_signature_past_the_cut_leaks_none_of_it() -> None:
    sig = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdXYZ%3D"
    url = f"https://acct.blob.core.windows.net/assets/ws/a.mp4?sv=2025-11-05&sp=cw&sig={sig}"
    message = "Server failed to authenticate the request. " + "y" * 240 + f" signature {sig}"
    body = f"<Error><Code>AuthenticationFailed</Code><Message>{message}</Message></Error>"
    error = error_from_response("Put Block", url, 403, {}, body.encode())
    for start in range(len(sig) - 6):
        assert sig[start : start + 6] not in error.message  # not even a piece


def test_redacting_json_text_keeps_it_valid_json() -> None:
    line = json.dumps({"m": 'key "sk_live_abc.def" at "https://h/b?sv=1&sig=zz\\"" done'})
    out = Redactor.of(KEY)(line)
    assert (
        json.loads(out)["m"] == 'key "sk_live_REDACTED" at "https://h/b?sv=1&sig=REDACTED\\"" done'
    )
