"""``servicewatch forecast METRIC``: where a KPI is heading (:mod:`metrics.analysis.forecast`): the
current period (month, or quarter when the filters' period is longer than a month) and the next two,
each with its forecast median, 80% and 95% intervals, target, chance of meeting it and verdict; the
rolling-origin back-test's error and coverage (``--no-backtest`` to skip it); ``--months`` for the
monthly forecast instead of the periods. The sentences go to stderr. Same error conventions as
:mod:`metrics.cli.main` (one line on stderr, non-zero exit)."""

from __future__ import annotations

import argparse

import pandas as pd

from metrics.cli.common import UserError, hand_out, open_filtered
from metrics.cli.options import add_db_argument, add_filter_arguments, add_output_arguments
from metrics.model import registry
from metrics.model.i18n import metric_label, t

PERIOD_COLUMNS = ("metric", "period", "start", "end", "known", "value", "lower80", "upper80", "lower95", "upper95",
                  "target", "p_meet", "verdict", "model")
MONTH_COLUMNS = ("metric", "month", "value", "lower80", "upper80", "lower95", "upper95", "model")
BACKTEST_FIELDS = ("n", "mae", "mape", "cover80", "cover95")


def periods_frame(fc, lang: str) -> pd.DataFrame:  # noqa: ANN001 - a metrics.analysis.forecast.Forecast
    """The periods as tidy rows: ``period`` named in ``lang``, ``start``/``end`` as first and last
    days, shares as 0–1."""
    from metrics.present.forecast_text import period_name

    p = fc.periods.copy()
    p["period"] = [period_name(s, fc.kind, lang) for s in p["start"]]
    p["end"] = [pd.Timestamp(e) + pd.offsets.MonthEnd(0) for e in p["end"]]
    return p.assign(metric=fc.metric, model=fc.model)[list(PERIOD_COLUMNS)]


def cmd_forecast(args: argparse.Namespace) -> None:
    from metrics.analysis import forecast as fcast
    from metrics.analysis import forecast_backtest as fb
    from metrics.present import forecast_text as ft

    lang = args.lang
    try:
        m = registry.get(args.metric_id)
    except registry.UnknownMetric:
        raise UserError(t("forecast.reason.unknown_metric", lang, metric=args.metric_id,
                          known=t("plain.list_sep", lang).join(registry.BY_ID))) from None
    wh, f = open_filtered(args)
    fc = fcast.forecast(wh, m.id, f)
    if fc.reason:
        raise UserError(ft.reason_text(fc, lang))
    summary = None if args.no_backtest else fb.backtest(wh, m.id, f)
    out = (fc.months.assign(metric=m.id, model=fc.model)[list(MONTH_COLUMNS)] if args.months
           else periods_frame(fc, lang))
    label = metric_label(m.id, lang)
    lines = [*(ft.period_sentence(fc, label, lang, i) for i in range(len(fc.periods))), ft.model_line(fc, lang),
             ft.backtest_line(summary, m.id, lang) if summary is not None else None]
    if args.format == "json" and summary is not None:
        out = out.assign(**{f"backtest_{k}": summary[k] for k in BACKTEST_FIELDS})
    hand_out(args, wh, f, out, {"metric": m.id, "forecast": fc.kind}, lines)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``forecast`` on the main parser's subcommands."""
    p = sub.add_parser("forecast", help="where a KPI is heading: forecast, intervals, chance of meeting the target",
                       description="Forecast a metric by month to the end of the current period (a month, or a "
                                   "quarter when the period chosen is longer than a month) and the next two: the "
                                   "median, 80% and 95% intervals, the target and the chance of meeting it. The "
                                   "model (exponential smoothing or ARIMA) is chosen by AICc; the back-test's error "
                                   "and interval coverage go to stderr with the sentences. At least "
                                   "12 months of history are needed.")
    p.add_argument("metric_id", help="metric id; `servicewatch metrics` lists them")
    add_db_argument(p)
    add_filter_arguments(p)
    p.add_argument("--months", action="store_true", help="print the monthly forecast instead of the periods")
    p.add_argument("--no-backtest", action="store_true", help="skip the back-test (a fit per origin: slower)")
    add_output_arguments(p, "language of the period names and sentences", cmd_forecast)

