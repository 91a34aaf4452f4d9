"""The notes a send queue's pass adds to a failure line (metrics.deliver.lease.PassOutcome) come from
the catalogue (deliver.lease) and render in both languages: queued again → "will retry", lease lost →
said but not counted, failed for good → the line alone."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from metrics.deliver import lease
from metrics.deliver.lease import PassOutcome
from metrics.model.i18n import CATALOGUE_DIR, catalogue

LINE = "subscription 1 → dj@example.com: smtp down"
EXPECTED = {  # written out here, not read from the catalogue
    "en": {"queued": f"{LINE} (will retry)", "lost": f"{LINE} (lease lost: another worker has taken it over)"},
    "zh": {"queued": f"{LINE}（将重试）", "lost": f"{LINE}（租约已失效：另一个工作进程已接手）"},
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_failure_lines_in_both_languages(lang: str) -> None:
    out = PassOutcome(lang=lang)
    for state in ("queued", "lost", "failed"):
        out.count_failure(state, LINE)
    assert out.lines == [EXPECTED[lang]["queued"], EXPECTED[lang]["lost"], LINE]
    assert (out.retrying, out.failed) == (1, 1)  # the lost lease is said, not counted


def test_default_language_is_the_logs_english() -> None:
    out = PassOutcome()
    out.count_failure("queued", LINE)
    assert out.lines == [EXPECTED["en"]["queued"]]


def test_notes_are_catalogue_keys_not_literals() -> None:
    for key in ("deliver.lease.lost", "deliver.lease.retry"):
        assert set(catalogue()[key]) == {"zh", "en"} and all(catalogue()[key].values())
    with (CATALOGUE_DIR / "deliver_lease.toml").open("rb") as fh:
        assert set(tomllib.load(fh)["deliver"]["lease"]) == {"lost", "retry"}
    source = Path(lease.__file__).read_text(encoding="utf-8")
    assert "will retry" not in source and "lease lost:" not in source


def test_failure_reasons_are_catalogue_lines_in_both_languages() -> None:
    """transport.SendError.said: the English text as the message (the queue's last_error, the audit),
    the line in the user's language from text(); the deliver run and alert_notify word no failure of
    their own outside the catalogue."""
    from metrics.deliver import alert_notify, run
    from metrics.deliver.transport import SendError

    err = SendError.said("deliver.failure.no_user", retry=False, name="ghost")
    assert str(err) == "no user ghost in the users file" and not err.retry
    assert err.text("zh") == "用户文件中没有用户 ghost" and err.text("en") == str(err)
    assert SendError("smtp down").text("zh") == "smtp down"  # a reason not from the catalogue: as it is
    for module in (run, alert_notify):
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert 'SendError("' not in source and 'SendError(f"' not in source, module.__name__
        assert '"en", ' not in source.replace('lang: str = "en"', ""), module.__name__
