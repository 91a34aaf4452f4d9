"""The demo's default alert rules: control-chart signals on the headline metrics, per city.

Installed by ``servicewatch demo`` (:func:`install`), so alerts work on a fresh machine; the planted
deterioration (Dongjiang's complaints over the last quarter, :data:`metrics.demo.model.DETERIORATING_CITY`)
fires them there and the stable cities stay quiet."""

from __future__ import annotations

HEADLINE = ("complaint_rate", "csat", "fcr_rate", "sla_resolution_compliance", "churn_rate")
# The demo's rules alert on the two rules about the newest points' distance from the centre. All four
# run rules together fire by chance on about 1.5% of a stable process's points (3σ 0.27%, 2 of 3
# beyond 2σ 0.2%, 8 on one side 0.78%, 6 trending 0.28%): over 35 charts that is one false alert
# every second month. These two: about 0.5% a point, one false alert in six months. The chart itself
# shows all four (metrics.analysis.control), and a rule may name any of them (``run_rules``).
RUN_RULES = ("beyond_3sigma", "two_of_three_2sigma")
OWNER = "system"  # shown as 系统管理员 / Administrator (metrics.alerts.owner_label)


def default_rules(wh) -> list[dict]:
    """One ``control`` rule per headline metric and city (the regions at level ``city``)."""
    from metrics.alerts import region_keys

    keys = {v: k for k, v in region_keys(wh).items()}
    regions = wh.regions()
    cities = [int(r) for r in regions.loc[regions["level"] == "city", "region_id"]]
    return [{"rule_id": f"control.{metric}.{keys[city]}", "metric": metric, "filters": {"region": keys[city]},
             "owner": OWNER, "recipients": [], "kind": "control", "enabled": True,
             "run_rules": list(RUN_RULES)}
            for metric in HEADLINE for city in cities]


def install(wh) -> int:
    """Write the default rules (replacing rules of the same ids); returns how many."""
    from metrics.alerts import save_rules

    return save_rules(wh, default_rules(wh))
