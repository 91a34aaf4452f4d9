"""``servicewatch survival`` and ``servicewatch churn fit|scores``: retention and churn risk from the
command line. Same filter options and error conventions as :mod:`metrics.cli.main` (one line on stderr,
non-zero exit, never a traceback)."""

from __future__ import annotations

import argparse
import json
import math

from metrics.cli.common import UserError, audit_rows, build_filters, emit, keys_as_given, open_filtered, open_warehouse
from metrics.cli.options import add_db_argument, add_filter_arguments, add_format_argument, add_lang_argument, date_arg
from metrics.query.compiler import REGION_LEVELS

SURVIVAL_DIMS = ("tier", "segment", "channel", "sla_level", "region", *REGION_LEVELS)


def cmd_survival(args: argparse.Namespace) -> None:
    from metrics.churn import survival

    by, level = args.by, args.level
    if by in REGION_LEVELS:
        by, level = "region", by
    if args.step < 1:
        raise UserError("--step must be at least 1 (days)")
    wh, f = open_filtered(args)
    r = survival.retention(wh, f, None if by == "all" else by, level, args.step)
    shown = {"summary": r.summary, "logrank": r.logrank, "at_risk": r.at_risk}.get(args.what, r.curves)
    if by == "region":  # the regions as the source wrote their keys
        shown = keys_as_given(shown, wh, {c: "regions" for c in ("group", "group_a", "group_b")})
    audit_rows(args, f, shown, {"by": by, "level": level, "show": args.what})
    emit(shown, args.format)


def cmd_churn_fit(args: argparse.Namespace) -> None:
    from metrics.backends.connect import check_connection, resolve_url
    from metrics.backends.swap import writable
    from metrics.churn import model as churn_model
    from metrics.churn import store as churn_store
    from metrics.query.warehouse import Warehouse

    if args.max_rows < 1000:
        raise UserError("--max-rows must be at least 1000")
    url = resolve_url(args.db)
    wh = Warehouse.open(url)  # fitted on a reader: dashboards keep reading a DuckDB file meanwhile
    check_connection(wh.engine)
    try:
        result = churn_model.fit(wh, args.as_of, args.max_rows)
    except churn_model.ChurnModelError as exc:
        raise UserError(str(exc)) from None
    finally:
        wh.engine.dispose()
    with writable(url) as engine:  # a DuckDB file: stored in a copy that replaces it (metrics.backends.swap)
        model_id = churn_store.save(engine, result)
    report = fit_report(result, model_id)
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=1, default=str))
    else:
        print(fit_text(report))


def _num(v: object) -> object:
    """A JSON-safe number: NaN becomes None."""
    if isinstance(v, float) and math.isnan(v):
        return None
    return v.item() if hasattr(v, "item") else v


def fit_report(result, model_id: int) -> dict:
    """What ``churn fit`` says, as one dict: the method, sizes, holdout discrimination and
    calibration, references and pooled levels, the terms with hazard ratios, the dropped candidates."""
    from metrics.churn.design import MIN_LEVEL_EVENTS, MIN_LEVEL_ROWS, OTHER

    m = result.summary
    keys = ("method", "as_of", "holdout", "holdout_landmark", "n_train_customers", "n_train_rows", "n_train_events",
            "n_test_rows", "n_test_events", "sampled", "sample_fractions", "auc_cox", "auc_cox_lower", "auc_cox_upper",
            "concordance_cox", "concordance_cox_lower", "concordance_cox_upper", "auc_logit", "auc_logit_lower",
            "auc_logit_upper", "auc_diff_lower", "auc_diff_upper", "better", "calibration_slope", "observed_expected",
            "ph_violations", "missing", "fit_seconds")
    terms = result.terms[result.terms["model"] == "risk"][["term", "hr", "hr_lower", "hr_upper", "p"]]
    d = result.design
    return {
        "model_id": model_id, **{k: _num(m[k]) for k in keys},
        "intervals": {"auc": "Hanley-McNeil (analytic)",
                      "concordance": "percentile bootstrap over holdout rows, 100 resamples"},
        "references": {k: v for k, v in d.references.items()},
        "pooled": {k: list(v) for k, v in d.pooled.items() if v},
        "pooling_rule": f"levels with fewer than {MIN_LEVEL_ROWS} training rows or {MIN_LEVEL_EVENTS} "
                        f"departures are pooled as '{OTHER}'",
        "terms": [{k: _num(v) for k, v in r.items()} for r in terms.to_dict("records")],
        "dropped": [{"term": t, "reason": r} for t, r in d.dropped],
        "calibration": [{k: _num(v) for k, v in r.items()} for r in result.calibration.to_dict("records")],
    }


def fit_text(r: dict) -> str:
    """The fit report as lines for a terminal."""
    method = {"landmark_cox": "landmark Cox model (customers at quarterly landmarks, outcome: leaving within 90 days)",
              "snapshot_cox": "snapshot Cox model: every departure lies in the last period, so one window is "
                              "fitted (outcome: the churn flag; probabilities are of leaving within a period like "
                              "the snapshot's)"}[r["method"]]
    lines = [
        f"churn model {r['model_id']} stored (data as of {r['as_of']}): {method}",
        f"training: {r['n_train_rows']:,} rows of {r['n_train_customers']:,} customers, {r['n_train_events']:,} "
        f"departures" + (f" (sample: {r['sample_fractions']})" if r["sampled"] else ""),
        f"holdout: {r['holdout']}: {r['n_test_rows']:,} rows, {r['n_test_events']:,} departures",
        f"  AUC {r['auc_cox']:.3f} (95% {r['auc_cox_lower']:.3f}-{r['auc_cox_upper']:.3f}, Hanley-McNeil); "
        f"concordance {r['concordance_cox']:.3f} (95% {r['concordance_cox_lower']:.3f}-"
        f"{r['concordance_cox_upper']:.3f}, bootstrap); logistic baseline AUC {r['auc_logit']:.3f}",
        f"  calibration: slope {r['calibration_slope']:.2f}, observed/expected departures "
        f"{r['observed_expected']:.2f}; by decile of predicted risk (predicted -> observed): "
        + ", ".join(f"{c['predicted']:.3f}->{c['observed']:.3f}" for c in r["calibration"]),
        "reference levels: " + ("; ".join(f"{k} = {v}" for k, v in r["references"].items()) or "none"),
    ]
    if r["pooled"]:
        lines.append(f"pooled ({r['pooling_rule']}): "
                     + "; ".join(f"{k}: {', '.join(v)}" for k, v in r["pooled"].items()))
    lines.append("terms (risk model; hazard ratio, 95% interval, robust by customer):")
    lines += [f"  {t['term']:<32} {t['hr']:7.3f} ({t['hr_lower']:.3f}-{t['hr_upper']:.3f})  p={t['p']:.2g}"
              for t in r["terms"]]
    if r["dropped"]:
        lines.append("dropped:")
        lines += [f"  {d['term']}: {d['reason']}" for d in r["dropped"]]
    lines.append(f"{r['fit_seconds']:.1f} s" + (f"; missing: {r['missing']}" if r["missing"] else ""))
    return "\n".join(lines)


def cmd_churn_scores(args: argparse.Namespace) -> None:
    from metrics.churn import store as churn_store

    wh = open_warehouse(args.db)
    model = churn_store.latest_model(wh)
    if model is None:
        raise UserError("no churn model is stored in this database yet; run `servicewatch churn fit --db URL`")
    if args.as_of and churn_store.model_date(model) != args.as_of:
        raise UserError(f"the stored model is as of {churn_store.model_date(model)}; "
                        f"fit one with `servicewatch churn fit --as-of {args.as_of}`")
    f = build_filters(wh, args)
    if args.top < 1:
        raise UserError("--top must be at least 1")
    df = churn_store.scores(wh, f, args.top, args.lang)
    audit_rows(args, f, df, {"what": "churn scores", "model_id": int(model["model_id"]), "top": args.top})
    emit(keys_as_given(df, wh), args.format)  # customer and region as the source wrote them


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the retention and churn commands on the main parser's subcommands."""
    sv = sub.add_parser("survival", help="Kaplan–Meier retention curves by a dimension",
                        description="Retention (Kaplan–Meier) on tenure in days; customers still active are "
                                    "censored at the as-of date. The period options do not restrict the cohort.")
    add_db_argument(sv)
    sv.add_argument("--by", default="all", choices=("all", *SURVIVAL_DIMS),
                    help="group the curves by this dimension (channel = acquisition channel); default: all")
    sv.add_argument("--level", choices=REGION_LEVELS, default="city", help="level for --by region")
    sv.add_argument("--step", type=int, default=7,
                    help="time step in days; durations are rounded up to it (1 = exact, default 7)")
    sv.add_argument("--show", dest="what", choices=("curves", "summary", "logrank", "at_risk"), default="curves",
                    help="curves (default), summary (median, RMST 12/24 months), pairwise log-rank, at_risk")
    add_filter_arguments(sv)
    add_format_argument(sv)
    sv.set_defaults(func=cmd_survival)

    ch = sub.add_parser("churn", help="churn-risk model: fit it, list the customers at risk")
    chs = ch.add_subparsers(dest="churn_command", required=True, metavar="ACTION")
    fit = chs.add_parser("fit", help="fit the model on the database and store summary and scores in it")
    add_db_argument(fit)
    fit.add_argument("--as-of", dest="as_of", type=date_arg, help="day up to which events are known (default: data)")
    fit.add_argument("--max-rows", type=int, default=100_000,
                     help="training rows above which a stratified sample of customers is used (default 100000)")
    fit.add_argument("--format", choices=["json", "table"], default="table",
                     help="table (lines for a terminal, default) or json (the whole report)")
    fit.set_defaults(func=cmd_churn_fit)
    sc = chs.add_parser("scores", help="customers by revenue at risk, with probability and reasons")
    add_db_argument(sc)
    sc.add_argument("--top", type=int, default=100, help="how many customers (default 100)")
    add_lang_argument(sc, "language of the reasons")
    add_filter_arguments(sc)
    add_format_argument(sc)
    sc.set_defaults(func=cmd_churn_scores)
