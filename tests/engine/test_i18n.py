"""One catalogue, two languages: every key has Chinese and English, and every key the code asks
for exists (a scan of the sources for t("...") / view.t("...") literals)."""

from __future__ import annotations

import re
from pathlib import Path

from metrics.model import registry
from metrics.model.i18n import LANGS, catalogue, label, missing_translations, t

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "src").rglob("*.py"))]
KEY_CALL = re.compile(r"""\bt\(\s*["']([a-z_]+(?:\.[A-Za-z0-9_]+)+)["']""")


def test_every_entry_has_both_languages() -> None:
    assert missing_translations() == []
    assert len(catalogue()) > 100


def test_every_literal_key_in_the_code_exists() -> None:
    used = {m.group(1) for path in SOURCES for m in KEY_CALL.finditer(path.read_text(encoding="utf-8"))}
    assert len(used) > 50
    missing = sorted(k for k in used if k not in catalogue())
    assert missing == [], f"keys used in the code but not in catalogue.toml: {missing}"


def test_metric_labels_in_both_languages() -> None:
    for m in registry.METRICS:
        assert m.label_zh and m.label_en and m.label_zh != m.label_en


def test_lookup_and_fallbacks() -> None:
    assert t("tier.gold", "zh") == "金卡" and t("tier.gold", "en") == "Gold"
    assert t("filter.vs", "en", period="Q2") == "vs Q2"
    assert label("channel", "hotline", "zh") == "客服热线"
    assert label("channel", "carrier_pigeon", "en") == "carrier_pigeon"  # unknown data values pass through
    assert set(LANGS) == {"zh", "en"}


def test_topic_files_join_the_catalogue_and_a_key_is_defined_once(tmp_path, monkeypatch) -> None:
    import pytest

    from metrics.model import i18n

    monkeypatch.setattr(i18n, "CATALOGUE_DIR", tmp_path)
    (tmp_path / "a.toml").write_text('[topic]\nword = { zh = "词", en = "word" }\n', encoding="utf-8")
    merged = i18n.catalogue.__wrapped__()
    assert merged["topic.word"] == {"zh": "词", "en": "word"} and "tier.gold" in merged
    (tmp_path / "b.toml").write_text('[tier.gold]\nzh = "金"\nen = "Gold"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="tier.gold.*b.toml"):
        i18n.catalogue.__wrapped__()


def test_both_languages_name_the_same_placeholders() -> None:
    """A text's Chinese and English take the same ``{name}`` arguments: a placeholder renamed in one
    language (``{P90}`` for ``{p90}``) fails at run time only where that text is shown."""
    import string

    def names(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    wrong = {key: (names(entry["zh"]), names(entry["en"])) for key, entry in catalogue().items()
             if isinstance(entry, dict) and "zh" in entry and "en" in entry
             and names(entry["zh"]) != names(entry["en"])}
    assert not wrong, wrong
