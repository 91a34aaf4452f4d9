"""The one catalogue of user-facing text, in Chinese (first) and English.

Text lives in ``catalogue.toml`` next to this file and in the topic files of ``catalogue/`` beside it
(``catalogue/explain.toml`` …): one entry per key with ``zh`` and ``en``; a key is defined in one
file only.
Metric names come from the metric registry (each metric declares both labels once); tier,
channel, category … names are catalogue keys ``tier.gold``, ``channel.hotline`` and so on.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from metrics.model import vocabulary

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
CATALOGUE_PATH = Path(__file__).with_name("catalogue.toml")
CATALOGUE_DIR = Path(__file__).with_name("catalogue")


def catalogue_files() -> list[Path]:
    """The catalogue's files: ``catalogue.toml``, then the topic files in name order."""
    return [CATALOGUE_PATH, *sorted(CATALOGUE_DIR.glob("*.toml"))]


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """All entries: key → {"zh": ..., "en": ...}."""
    out: dict[str, dict[str, str]] = {}

    def walk(prefix: str, node: dict, source: str) -> None:
        for key, value in node.items():
            full = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict) and set(value) <= set(LANGS) and value:
                if full in out:
                    raise ValueError(f"catalogue key {full!r} defined twice (again in {source})")
                out[full] = value
            elif isinstance(value, dict):
                walk(full, value, source)

    for path in catalogue_files():
        with path.open("rb") as fh:
            walk("", tomllib.load(fh), path.name)
    return out


def missing_translations() -> list[str]:
    """Keys lacking a non-empty text in some language (the tests require none)."""
    return [f"{k} [{lang}]" for k, v in catalogue().items() for lang in LANGS if not v.get(lang)]


def t(key: str, lang: str = DEFAULT_LANG, **fmt: object) -> str:
    """The text for ``key`` in ``lang``, formatted with ``fmt``; the key itself when unknown."""
    entry = catalogue().get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry.get("en") or key
    return text.format(**fmt) if fmt else text


class Worded:
    """Mixin of an error a person reads: one made by :meth:`said` carries the catalogue's ``key`` and
    ``params``; its message (``str()``: logs, the audit, a queue's last error) is the English line and
    :meth:`text` the line in a reader's language. Made with a plain message, :meth:`text` is that message.
    Subclass it before the exception class: ``class UsersFileError(Worded, RuntimeError)``."""

    key: str | None = None
    params: dict[str, object] = {}  # noqa: RUF012 - replaced per instance by said(), never mutated

    @classmethod
    def said(cls, key: str, *args: object, **params: object):
        """The error worded by ``key`` with ``params``; ``args`` follow the message in the constructor."""
        err = cls(t(key, "en", **params), *args)
        err.key, err.params = key, params
        return err

    def text(self, lang: str) -> str:
        """The line in ``lang``."""
        return t(self.key, lang, **self.params) if self.key else str(self)


def label(dim: str, value: object, lang: str = DEFAULT_LANG) -> str:
    """Display name of a dimension value (tier, channel, category …): the name the data stores
    (``vocabulary`` table, read once per Warehouse), else the catalogue's, else the code itself."""
    if value is None or value != value:  # None or NaN
        return t("common.none", lang)
    stored = vocabulary.stored_label(dim, value, lang)
    if stored:
        return stored
    key = f"{dim}.{value}"
    return t(key, lang) if key in catalogue() else str(value)


def metric_label(metric_id: str, lang: str = DEFAULT_LANG, approximate: bool = False) -> str:
    """The metric's name; quantiles computed approximately (``approximate``) say so."""
    from metrics.model.registry import BY_ID

    m = BY_ID.get(metric_id)
    if m is None:
        return metric_id
    return m.label(lang) + (t("metric.approximate", lang) if approximate and m.kind == "quantile" else "")
