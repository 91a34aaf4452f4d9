"""What a delivery holds: the meeting pack attached, or a digest (the pack's KPI table, its generated
sentences and its charts inline), as an e-mail in the recipient's language or as a group-chat
markdown message. Every text is escaped (data never becomes markup); every message is stamped with
the filters and scope its figures cover (the pack's footer)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import pandas as pd

from metrics import report
from metrics.model.i18n import t
from metrics.model.registry import get
from metrics.present.formatting import fmt_value
from metrics.report.model import Pack, Table

DIGEST_CHARTS = 3  # charts inline in a digest e-mail


@dataclass(frozen=True)
class Built:
    """One pack for one scope: the model, the attachment (None for a digest) and the alerts rows."""

    pack: Pack
    file: bytes | None
    fmt: str
    alerts: pd.DataFrame | None = None
    overdue: int | None = None  # a digest: open retention actions past due in the recipient's scope


def build(wh, f, lang: str, fmt: str, alerts: pd.DataFrame | None = None, view: str | None = None) -> Built:
    """The pack (or digest) for one scope; ``view``: the page (and section) subscribed from, whose
    sections the pack holds (:func:`metrics.report.build.sections_for`; None or the Overview: all)."""
    from metrics.churn.actions_store import overdue_count

    pack = report.build_pack(wh, f, lang, sections=report.sections_for(view))
    overdue = overdue_count(wh, f) if fmt == "digest" else None
    return Built(pack, None if fmt == "digest" else report.write(pack, fmt), fmt, alerts, overdue)


def _overdue_line(built: Built, lang: str) -> str | None:
    """The digest's line on overdue retention actions (None when there are none or no table)."""
    return t("actions_write.overdue", lang, n=built.overdue) if built.overdue else None


def _kpis(pack: Pack) -> Table | None:
    return next((p.table for p in pack.pages if p.kind != "title" and p.table is not None), None)


def _md(text: str) -> str:
    """Text for a robot's markdown: its markup characters escaped (names from the data stay text)."""
    return "".join("\\" + c if c in "\\`*_[]()#>!|<~" else c for c in str(text)).replace("\n", " ")


def _sections(pack: Pack) -> list[tuple[str, list[str]]]:
    return [(p.title, p.sentences) for p in pack.pages[1:] if p.sentences and p.table is None]


def _alert_lines(built: Built, lang: str) -> list[str]:
    a = built.alerts
    if a is None or a.empty:
        return []
    out = []
    for r in a.itertuples(index=False):
        unit = get(r.metric).unit
        signal = ("、" if lang == "zh" else ", ").join(t(f"alerts.rule.{x}", lang) for x in str(r.signal).split(",")
                                                      if x)
        out.append(t("deliver.alert_line", lang, metric=r.metric_label, slice=r.slice, signal=signal,
                     value=fmt_value(float(r.value), unit, lang), n=f"{int(r.n):,}" if pd.notna(r.n) else "—"))
    return out


def subject(built: Built, lang: str) -> str:
    return t(f"deliver.subject_{'digest' if built.fmt == 'digest' else 'pack'}", lang, title=built.pack.title,
             scope=built.pack.pages[0].subtitle if built.pack.pages else "")


def text_body(built: Built, lang: str) -> str:
    pack = built.pack
    lines = [pack.title, pack.footer, ""]
    if built.fmt != "digest":
        return "\n".join([*lines, t("deliver.body_pack", lang, pages=len(pack.pages), fmt=built.fmt.upper()), "",
                          t("deliver.signature", lang)])
    kpis = _kpis(pack)
    if kpis is not None:
        lines += [" | ".join(kpis.columns), *(" | ".join(r) for r in kpis.rows), ""]
    alerts = _alert_lines(built, lang)
    if built.alerts is not None:
        lines += [t("deliver.alerts", lang), *(alerts or [t("deliver.no_alerts", lang)]), ""]
    if _overdue_line(built, lang):
        lines += [_overdue_line(built, lang), ""]
    for title, sentences in _sections(pack):
        lines += [title, *(f"- {s}" for s in sentences), ""]
    return "\n".join([*lines, t("deliver.signature", lang)])


def html_body(built: Built, lang: str, cids: list[str]) -> str:
    e = html.escape
    pack = built.pack
    out = [f"<html><body style='font-family:sans-serif'><h2>{e(pack.title)}</h2>", f"<p>{e(pack.footer)}</p>"]
    kpis = _kpis(pack)
    if kpis is not None:
        out.append("<table border='1' cellpadding='4' style='border-collapse:collapse'><tr>"
                   + "".join(f"<th>{e(c)}</th>" for c in kpis.columns) + "</tr>")
        out += ["<tr>" + "".join(f"<td>{e(v)}</td>" for v in r) + "</tr>" for r in kpis.rows]
        out.append("</table>")
    if built.alerts is not None:
        alerts = _alert_lines(built, lang)
        out.append(f"<h3>{e(t('deliver.alerts', lang))}</h3><ul>"
                   + "".join(f"<li>{e(a)}</li>" for a in alerts or [t("deliver.no_alerts", lang)]) + "</ul>")
    if _overdue_line(built, lang):
        out.append(f"<p><b>{e(_overdue_line(built, lang))}</b></p>")
    for title, sentences in _sections(pack):
        out.append(f"<h3>{e(title)}</h3><ul>" + "".join(f"<li>{e(s)}</li>" for s in sentences) + "</ul>")
    for cid, chart in zip(cids, _charts(pack), strict=False):
        out.append(f"<p><b>{e(chart.title)}</b><br><img src='cid:{cid[1:-1]}' width='720'></p>")
    out.append(f"<p>{e(t('deliver.signature', lang))}</p></body></html>")
    return "".join(out)


def _charts(pack: Pack) -> list:
    return [c for p in pack.pages for c in p.charts][:DIGEST_CHARTS]


def email(built: Built, lang: str, sender: str, to: str, name: str, message_id: str) -> EmailMessage:
    """The message for one recipient: pack attached, or the digest as HTML + text with inline PNGs."""
    msg = EmailMessage()
    msg["Subject"] = subject(built, lang)
    msg["From"] = sender
    msg["To"] = formataddr((name, to))
    msg["Message-ID"] = message_id  # stable per delivery: a repeat after a crash is recognisable
    msg["X-ServiceWatch-Scope"] = built.pack.footer
    msg.set_content(text_body(built, lang))
    if built.fmt == "digest":
        cids = [make_msgid(domain="servicewatch") for _ in _charts(built.pack)]
        msg.add_alternative(html_body(built, lang, cids), subtype="html")
        body = msg.get_payload()[1]
        for cid, chart in zip(cids, _charts(built.pack), strict=True):
            body.add_related(chart.png, "image", "png", cid=cid)
    else:
        msg.add_attachment(built.file, maintype="application", subtype=report.MIME[built.fmt].split("/")[1],
                           filename=f"{built.pack.file_stem}.{built.fmt}")
    return msg


def markdown(built: Built, lang: str) -> tuple[str, str]:
    """(title, markdown) for a group-chat robot: the KPI table as lines, alerts, the sentences."""
    pack = built.pack
    lines = [f"### {_md(pack.title)}", f"> {_md(pack.footer)}", ""]
    kpis = _kpis(pack)
    if kpis is not None:
        lines += [f"- **{_md(r[0])}**: {_md(r[1])} ({_md(kpis.columns[3])} {_md(r[3])}, {_md(r[5])})"
                  for r in kpis.rows]
    if built.alerts is not None:
        lines += ["", f"**{_md(t('deliver.alerts', lang))}**",
                  *(f"- {_md(a)}" for a in _alert_lines(built, lang) or [t("deliver.no_alerts", lang)])]
    if _overdue_line(built, lang):
        lines += ["", f"**{_md(_overdue_line(built, lang))}**"]
    for title, sentences in _sections(pack)[:3]:
        lines += ["", f"**{_md(title)}**", *(f"- {_md(s)}" for s in sentences[:3])]
    return pack.title, "\n".join(lines)
