"""Data-page uploads speak the user's language and the dashboard's terms: the uploaded file's name
(not the stored temporary name), no CLI flags, no server paths; the CLI keeps its wording."""

from __future__ import annotations

from pathlib import Path

import pytest
from db_snapshot import copy_duckdb

from metrics.ingest.importer import ImportFailed, import_file
from metrics.model.i18n import t
from servicewatch.import_panel import check_upload, rejects_bytes

MISSING = "问卷编号,客户编号,满意度\n1,1,5\n".encode()  # surveys without channel, kind, answered time
TICKETS = ("工单号,客户编号,受理渠道,工单类型,问题类别,优先级,受理时间,多余列\n"
           "40000001,1,客服热线,投诉,计费,P1,2026/3/5 10:00,x\n"
           "40000002,1,客服热线,抱怨,计费,P9,2026/3/5 10:00,y\n").encode()


@pytest.fixture()
def db(tmp_path: Path, duckdb_url: str) -> str:
    return copy_duckdb(duckdb_url, tmp_path / "upload.duckdb")


def _refusal(db: str, lang: str) -> str:
    with pytest.raises(ImportFailed) as info:
        check_upload(db, "surveys", "bad_surveys.csv", MISSING, lang)
    return str(info.value)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_missing_columns_name_the_upload_in_the_users_language(db: str, lang: str) -> None:
    text = _refusal(db, lang)
    assert text.startswith("bad_surveys.csv"), text  # the name the user chose, not the stored hash name
    assert "--" not in text, text  # no CLI flag on the page
    if lang == "zh":  # the Chinese page names the columns by their Chinese headers (issue 15 item 6)
        assert "渠道" in text and "调查类型" in text and "答复时间" in text and "问卷编号" not in text
        assert "channel" not in text and "kind" not in text and "answered_at" not in text
    else:
        assert "channel" in text and "kind" in text and "answered_at" in text and "survey_id" not in text
    tail = t("import.error.missing_columns_dashboard", lang, file="", cols="\0").split("\0")[1]
    assert text.endswith(tail), text  # the page's hint: rename the columns in the file
    if lang == "zh":
        assert "missing" not in text and "缺少必需的列" in text
    else:
        assert "missing required columns" in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cli_import_keeps_the_mapping_hint_in_its_language(db: str, tmp_path: Path, lang: str) -> None:
    path = tmp_path / "bad_surveys.csv"
    path.write_bytes(MISSING)
    with pytest.raises(ImportFailed) as info:
        import_file(db, "surveys", path, dry_run=True, lang=lang)
    text = str(info.value)
    assert text.startswith("bad_surveys.csv") and "--mapping" in text
    assert ("缺少必需的列" in text) == (lang == "zh")


def test_unknown_table_in_the_callers_language(db: str, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(MISSING)
    with pytest.raises(ImportFailed, match="未知的数据表"):
        import_file(db, "nope", path, dry_run=True, lang="zh")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_dashboard_report_has_no_server_path_or_cli_flag(db: str, lang: str) -> None:
    checked = check_upload(db, "tickets", "工单.csv", TICKETS, lang)
    assert checked.rows_rejected == 1 and checked.unused_headers == ["多余列"]
    lines = checked.summary(lang)
    assert checked.rejects_path is not None
    shown = "\n".join(lines)
    assert str(checked.rejects_path.parent) not in shown and ".rejects.csv" not in shown, shown
    assert "--" not in shown and "多余列" in shown, shown
    assert lines[0].count("工单.csv") == 1
    assert b"P9" in rejects_bytes(checked)  # the rejects are still there, offered as a download


def test_cli_report_still_names_the_rejects_file(db: str, tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_bytes(TICKETS)
    r = import_file(db, "tickets", path, lang="zh")
    shown = "\n".join(r.summary("zh"))
    assert str(path) + ".rejects.csv" in shown and "--mapping" in shown
    dry = import_file(db, "tickets", path, dry_run=True, lang="zh")  # a dry run writes no rejects file
    assert dry.rejects_path is None and ".rejects.csv" not in "\n".join(dry.summary("zh"))


UNREADABLE = {"blank.csv": b"", "latin.csv": b"ticket_id,name\n1,caf\xe9 \xff\xfe\xff\n", "notes.doc": b"x"}
READ_KEYS = {"blank.csv": "import.read.empty", "latin.csv": "import.read.undetectable_encoding",
             "notes.doc": "import.read.unsupported_type"}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_upload_is_named_and_worded_for_the_page(db: str, name: str, lang: str) -> None:
    with pytest.raises(ImportFailed) as info:
        check_upload(db, "tickets", name, UNREADABLE[name], lang)
    text = str(info.value)
    assert name in text and "servicewatch_uploads" not in text, text  # the user's file, not the stored one
    assert "--" not in text, text
    head = t(READ_KEYS[name], lang, file="\0", suffix="\0", hint="\0").split("\0")[1][:6]
    assert head in text, (head, text)  # the catalogue's wording in the page's language
    if lang == "zh":
        assert not any(w in text for w in ("empty", "cannot", "unsupported")), text


def test_cli_read_error_keeps_its_flag_hint(db: str, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(UNREADABLE["latin.csv"])
    with pytest.raises(ImportFailed) as info:
        import_file(db, "tickets", path, dry_run=True, lang="en")
    assert str(info.value) == t("import.read.undetectable_encoding", "en", file="latin.csv",
                                hint=t("import.read.hint", "en"))
