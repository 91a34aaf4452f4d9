"""The customers' own words in an import's rejected rows (issue 20): a ticket's description is masked in
the rejects file (the Data page's download) and in the problems' ``value`` column, as the preview and every
page mask it; the other cells of the rejected row stay as read, so the user can correct and re-import."""

from __future__ import annotations

import csv
from pathlib import Path

from metrics.ingest.importer import import_file
from metrics.present.masking import mask

HEADER = "ticket_id,customer_id,channel,kind,category,priority,opened_at,description\n"
SECRET = "我叫张伟，电话13812345678，英国号码 +44 20 7946 0958，网速太慢"


def test_description_masked_in_rejects_file_and_problems(duck: str, tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(HEADER
                    + "10000001,1,hotline,complaint,billing,P1,2026-03-05 10:00,ok\n"
                    + f'10000002,1,hotline,no_such_kind,billing,P1,2026-03-05 10:00,"{SECRET}"\n'  # rejected: kind
                    + f'10000003,1,hotline,complaint,billing,P1,2026-03-05 10:00,"{SECRET}\x07"\n',  # on the text
                    encoding="utf-8")
    r = import_file(duck, "tickets", path)
    assert r.rows_rejected == 2, r.summary()
    rows = list(csv.DictReader((tmp_path / "tickets.csv.rejects.csv").open(encoding="utf-8-sig")))
    assert [row["ticket_id"] for row in rows] == ["10000002", "10000003"]  # the keys as read
    assert rows[0]["kind"] == "no_such_kind"
    assert rows[0]["description"] == mask(SECRET) == "我叫***，电话***，英国号码 ***，网速太慢"
    assert rows[1]["description"] == mask(SECRET + "\x07")
    text = (tmp_path / "tickets.csv.rejects.csv").read_text(encoding="utf-8-sig")
    for secret in ("张伟", "13812345678", "7946"):
        assert secret not in text
    on_text = r.problems[r.problems["column"] == "description"]
    assert len(on_text) == 1 and on_text["value"].iloc[0] == mask(SECRET + "\x07")
    assert not r.problems["value"].astype(str).str.contains("13812345678|7946|张伟").any()
