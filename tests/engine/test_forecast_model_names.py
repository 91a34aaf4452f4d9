"""The forecast's model line names every candidate model in words: in Chinese without Latin notation
(the zh screen scan reads it in the forecast's technical details), in English with its notation."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from metrics.analysis.forecast_models import CANDIDATES
from metrics.present.forecast_text import MODEL_NAMES, model_line


@pytest.mark.parametrize("model", sorted(CANDIDATES))
def test_every_candidate_is_named(model: str) -> None:
    fc = SimpleNamespace(model=model, history=[0.0] * 30)
    zh, en = model_line(fc, "zh"), model_line(fc, "en")
    assert model in MODEL_NAMES
    assert not re.search(r"[A-Za-z]{2,}", zh), zh
    assert model in en and "30" in zh and "30" in en
