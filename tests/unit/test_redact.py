from __future__ import annotations

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
