"""The outlets' rules file (issue 19), ``data/outlet_stars.toml``: the star ratings' weights and
thresholds, the waiting target (minutes), the VIP tiers and the minimum worthwhile saving (minutes), the
audits' fail share — read and checked here once for the engine (:mod:`metrics.analysis.outlets`), the
stars (:mod:`metrics.analysis.outlet_stars`, which re-exports these names), the page, the pack and the
CLI. A file that cannot be used raises :class:`RulesError`, whose ``key`` and ``params`` are its one
line in the catalogue (``stars.rules.*``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metrics.backends.connect import PROJECT_ROOT

RULES_PATH = PROJECT_ROOT / "data" / "outlet_stars.toml"
COMPONENTS = ("waiting", "audits", "satisfaction", "complaints")
STARS = (1, 2, 3, 4, 5)


def rule_values(path: str | Path | None = None) -> dict:
    """The parsed rules file (default :data:`RULES_PATH`), unchecked: read it through
    :func:`load_rules`, which checks it."""
    with open(path or RULES_PATH, "rb") as fh:
        return tomllib.load(fh)


class RulesError(ValueError):
    """A rules file that cannot be used; ``key`` and ``params`` are its one line in the catalogue."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(f"{key}: {params}")
        self.key, self.params = key, params


@dataclass(frozen=True)
class Rules:
    """Checked star rules: component weights, the lowest score of each star (1–5), the waiting target
    (minutes) and the complaint points (per complaint per 1,000 visits)."""

    weights: dict[str, float]
    thresholds: dict[int, float]
    target_minutes: float = 15.0
    points_per_complaint: float = 0.3
    vip_tiers: tuple[str, ...] = ()
    min_saving_min: float = 0.0
    fail_below: float = 0.6


def load_rules(path: str | Path | None = None) -> Rules:
    """Read and check a rules file (default :data:`RULES_PATH`, read when called); a
    :class:`RulesError` names the first problem."""
    where = Path(path) if path is not None else RULES_PATH
    try:
        raw = rule_values(where)
    except FileNotFoundError:
        raise RulesError("stars.rules.missing", file=where.name) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError("stars.rules.syntax", file=where.name, detail=str(exc).split("\n")[0]) from None
    except OSError:
        raise RulesError("stars.rules.missing", file=where.name) from None
    return check_rules(raw)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise RulesError("stars.rules.not_number", what=what, value=value)
    return float(value)


def check_rules(raw: dict) -> Rules:
    """:class:`Rules` from a parsed rules file; :class:`RulesError` for an unknown component, a
    negative or non-numeric weight, weights summing to 0, stars other than 1–5 or thresholds that do
    not rise with the stars, a target that is not positive, ``[vip] tiers`` not a list of codes, a
    negative ``[vip] min_saving_minutes`` or an ``[audits] fail_below`` outside (0, 1]."""
    weights = raw.get("weights")
    if not isinstance(weights, dict) or not weights:
        raise RulesError("stars.rules.no_section", section="weights")
    unknown = [k for k in weights if k not in COMPONENTS]
    if unknown:
        raise RulesError("stars.rules.unknown_component", name=unknown[0], known=", ".join(COMPONENTS))
    w = {k: _number(v, f"weights.{k}") for k, v in weights.items()}
    if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
        raise RulesError("stars.rules.bad_weights")
    stars = raw.get("stars")
    if not isinstance(stars, dict) or not stars:
        raise RulesError("stars.rules.no_section", section="stars")
    try:
        th = {int(k): _number(v, f"stars.{k}") for k, v in stars.items()}
    except ValueError as exc:
        if isinstance(exc, RulesError):
            raise
        raise RulesError("stars.rules.bad_stars") from None
    if sorted(th) != list(STARS) or any(th[s] >= th[s + 1] for s in STARS[:-1]):
        raise RulesError("stars.rules.bad_stars")
    target = _number(raw.get("target_minutes", 15), "target_minutes")
    points = _number(raw.get("points_per_complaint", 0.3), "points_per_complaint")
    if target <= 0 or points < 0:
        raise RulesError("stars.rules.bad_target")
    vip, audits = raw.get("vip", {}), raw.get("audits", {})
    if not isinstance(vip, dict) or not isinstance(audits, dict):
        raise RulesError("stars.rules.no_section", section="vip" if not isinstance(vip, dict) else "audits")
    tiers = vip.get("tiers", [])
    if not isinstance(tiers, list) or not all(isinstance(v, str) and v for v in tiers):
        raise RulesError("stars.rules.bad_tiers")
    saving = _number(vip.get("min_saving_minutes", 0), "vip.min_saving_minutes")
    fail = _number(audits.get("fail_below", 0.6), "audits.fail_below")
    if saving < 0 or not 0 < fail <= 1:
        raise RulesError("stars.rules.bad_vip_audits")
    return Rules(weights=w, thresholds=th, target_minutes=target, points_per_complaint=points, vip_tiers=tuple(tiers),
                 min_saving_min=saving, fail_below=fail)
