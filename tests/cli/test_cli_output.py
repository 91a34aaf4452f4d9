"""The command line's last lines of defence (issue 12): an unexpected failure is one line with an
error id (the traceback in the error log under the same id), and data printed as a table to a
terminal never carries control characters (escape sequences) through."""

from __future__ import annotations

import pandas as pd
import pytest

from metrics.cli import main as cli_main
from metrics.cli.common import emit


def test_an_unexpected_failure_is_one_line_with_an_id(monkeypatch: pytest.MonkeyPatch, tmp_path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "errors.log"
    monkeypatch.setenv("SERVICEWATCH_ERROR_LOG", str(log))

    def boom(args: object) -> None:
        raise RuntimeError("secret detail /srv/data/db.duckdb")

    monkeypatch.setattr(cli_main, "cmd_metrics", boom)
    assert cli_main.main(["metrics"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "/srv/data" not in err
    error_id = err.split("error id ")[1][:8]
    logged = log.read_text(encoding="utf-8")
    assert error_id in logged and "Traceback" in logged and "/srv/data/db.duckdb" in logged


def test_a_table_on_the_terminal_shows_control_characters_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    emit(pd.DataFrame({"name": ["\x1b[31mred\x1b[0m", "bell\x07", "ok"], "n": [1, 2, 3]}), "table")
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "?[31mred?[0m" in out
