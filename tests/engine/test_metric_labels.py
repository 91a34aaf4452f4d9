"""One name per metric definition (issue 15 item 2): two metrics of the registry never share a label,
in Chinese or in English, and the complaints-only first-contact resolution has its own name."""

from __future__ import annotations

from collections import Counter

import pytest

from metrics.model import registry
from metrics.model.i18n import metric_label


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_two_metrics_share_a_label(lang: str) -> None:
    # compared as a reader sees them: case and spaces do not make two names different
    names = Counter(" ".join(m.label(lang).casefold().split()) for m in registry.METRICS)
    shared = {name: n for name, n in names.items() if n > 1}
    assert shared == {}, f"labels used by more than one metric ({lang}): {shared}"


def test_complaint_fcr_is_its_own_metric() -> None:
    """The Complaints page's figure counts complaints only: not the Overview's 首问解决率 (all tickets)."""
    fcr, complaint_fcr = registry.get("fcr_rate"), registry.get("complaint_fcr_rate")
    assert complaint_fcr.fixed_kinds == ("complaint",) and fcr.fixed_kinds == ()
    assert metric_label("complaint_fcr_rate", "zh") == "投诉首问解决率"
    assert metric_label("fcr_rate", "zh") == "首问解决率"
    assert registry.validate() == []
