"""Ctrl-C in any command: one line on stderr, exit 130, no traceback. A command that says what it left
raises :class:`metrics.cli.common.Interrupted` (its catalogue line in the reader's language); any other
KeyboardInterrupt prints the catalogue's generic line, never the interrupt's own text."""

from __future__ import annotations

import argparse

import pytest

from metrics.cli import main as cli_main
from metrics.cli.common import Interrupted
from metrics.model.i18n import t


def _command_raising(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Every parsed command runs as a function that raises ``exc``."""
    real = cli_main.build_parser

    def parser() -> argparse.ArgumentParser:
        p = real()
        parse = p.parse_args

        def parse_args(argv=None, namespace=None):  # noqa: ANN001, ANN202 - argparse's signature
            args = parse(argv, namespace)

            def stopped(_args: argparse.Namespace) -> int:
                raise exc

            args.func = stopped
            return args

        p.parse_args = parse_args
        return p

    monkeypatch.setattr(cli_main, "build_parser", parser)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_plain_keyboard_interrupt_prints_the_generic_line(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str], lang: str) -> None:
    _command_raising(monkeypatch, KeyboardInterrupt("/secret/path: some library's own words"))
    assert cli_main.main(["metric", "csat", "--by", "tier", "--lang", lang]) == 130
    err = capsys.readouterr().err
    assert err == f"servicewatch: {t('cli_interrupt.stopped', lang)}\n"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_interrupted_command_says_what_it_left(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str], lang: str) -> None:
    _command_raising(monkeypatch, Interrupted.said("demo_streamed.interrupted"))
    assert cli_main.main(["metric", "csat", "--by", "tier", "--lang", lang]) == 130
    assert capsys.readouterr().err == f"servicewatch: {t('demo_streamed.interrupted', lang)}\n"
