"""Paths the user names for files we write (issue 12): ``import --rejects``, ``template --out``,
``report --out`` (and ``--per-region``). Refused before anything is written or deleted (the database,
its WAL, the audit store, the users file, an input, a folder, a link, a missing folder, a wrong
suffix, someone else's file): exit 1, one line, every file byte-identical. Written atomically: a
rejects file is complete or absent; a dry run writes and deletes nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from db_snapshot import ticket_count

from bench.import_bench import tickets_frame, write_csv
from metrics.cli.main import main
from metrics.ingest.importer import ImportFailed, import_file
from metrics.ingest.importer.template import template_csv
from metrics.present import files as outputs

FIRST_NEW_ID = 30_000_000
OURS = "\ufeffrow,column,value,reason,code\r\n2,priority,P7,old run,not_allowed\r\n"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links as their target text) → sha256: what must not change."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[str(p)] = "link:" + os.readlink(p)
        elif p.is_file():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[str(p)] = "dir"
    return out


def tickets_csv(demo_frames: dict, path: Path, good: int = 5, bad: int = 2) -> Path:
    """``good`` valid new tickets and ``bad`` with a kind that is not one of the four."""
    t = demo_frames["tickets"].head(good + bad).copy()
    t["ticket_id"] = range(FIRST_NEW_ID, FIRST_NEW_ID + len(t))
    t.loc[t.index[good:], "kind"] = "P9"
    t.to_csv(path, index=False)
    return path


def one_line_error(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("servicewatch: error:") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture()
def db_file(duck: str) -> Path:
    return Path(duck.removeprefix("duckdb:///"))


# -- import --rejects: refused --------------------------------------------------------------------
def _refused_rejects(case: str, tmp: Path, db: Path, inp: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(the --rejects path for ``case``, a word the English reason contains)."""
    if case == "database":
        return str(db), "database"
    if case == "wal":
        return f"{db}.wal", "database"
    if case == "audit":
        return str(db.with_name(db.stem + "-audit.sqlite")), "audit"
    if case == "users":
        users = tmp / "users.csv"
        users.write_text('{"users": []}')
        monkeypatch.setenv("SERVICEWATCH_USERS", str(users))
        return str(users), "users file"
    if case == "input":
        return str(inp), "input"
    if case == "mapping":
        return str(tmp / "map.yaml"), "input"
    if case == "users_csv":
        other = tmp / "budget.csv"
        other.write_text("month,amount\n2026-01,100\n")
        return str(other), "not a rejects file"
    if case == "empty_csv":
        (tmp / "empty.csv").write_bytes(b"")
        return str(tmp / "empty.csv"), "not a rejects file"
    if case == "directory":
        (tmp / "folder.csv").mkdir()
        return str(tmp / "folder.csv"), "folder"
    if case == "link_to_db":
        (tmp / "link.csv").symlink_to(db)
        return str(tmp / "link.csv"), "database"
    if case == "link_to_new":
        (tmp / "dangling.csv").symlink_to(tmp / "elsewhere.csv")
        return str(tmp / "dangling.csv"), "symbolic link"
    if case == "link_to_ours":
        (tmp / "real.rejects.csv").write_text(OURS, encoding="utf-8")
        (tmp / "alias.csv").symlink_to(tmp / "real.rejects.csv")
        return str(tmp / "alias.csv"), "symbolic link"
    if case == "hard_link_to_db":
        os.link(db, tmp / "hard.csv")
        return str(tmp / "hard.csv"), "database"
    if case == "missing_folder":
        return str(tmp / "no" / "such" / "r.csv"), "folder does not exist"
    if case == "suffix":
        return str(tmp / "rejects.txt"), "must end in .csv"
    raise AssertionError(case)


REJECTS_CASES = ["database", "wal", "audit", "users", "input", "mapping", "users_csv", "empty_csv", "directory",
                 "link_to_db", "link_to_new", "link_to_ours", "hard_link_to_db", "missing_folder", "suffix"]


@pytest.mark.parametrize("dry_run", [False, True], ids=["real", "dry"])
@pytest.mark.parametrize("case", REJECTS_CASES)
def test_import_rejects_path_refused(case: str, dry_run: bool, duck: str, db_file: Path, tmp_path: Path,
                                     demo_frames: dict, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture) -> None:
    inp = tickets_csv(demo_frames, tmp_path / "tickets.csv")
    (tmp_path / "map.yaml").write_text("columns: {}\n")
    target, why = _refused_rejects(case, tmp_path, db_file, inp, monkeypatch)
    before, n = snapshot(tmp_path), ticket_count(duck, read_only=True)
    argv = ["import", "tickets", str(inp), "--db", duck, "--rejects", target, "--mapping", str(tmp_path / "map.yaml")]
    assert main(argv + (["--dry-run"] if dry_run else [])) == 1
    err = one_line_error(capsys)
    assert f"--rejects {target}:" in err and why in err and "nothing was written or deleted" in err
    assert snapshot(tmp_path) == before  # the database, the input and every other file byte-identical
    assert ticket_count(duck, read_only=True) == n  # the database still opens, unchanged


def test_import_rejects_refusal_in_chinese(duck: str, db_file: Path, tmp_path: Path, demo_frames: dict,
                                           capsys: pytest.CaptureFixture) -> None:
    inp = tickets_csv(demo_frames, tmp_path / "工单.csv")
    before = snapshot(tmp_path)
    assert main(["import", "tickets", str(inp), "--db", duck, "--rejects", str(db_file), "--lang", "zh"]) == 1
    err = one_line_error(capsys)
    assert "数据库文件" in err and "未写入也未删除" in err and str(tmp_path.parent) not in err.replace(str(db_file), "")
    assert snapshot(tmp_path) == before


def test_library_refuses_the_same_paths(duck: str, db_file: Path, tmp_path: Path, demo_frames: dict) -> None:
    """import_file (the Data page, scripts) checks too, the default path next to the input included."""
    inp = tickets_csv(demo_frames, tmp_path / "tickets.csv")
    before = snapshot(tmp_path)
    for target in (db_file, Path(f"{db_file}.wal"), inp):
        with pytest.raises(ImportFailed, match="nothing was written"):
            import_file(duck, "tickets", inp, rejects=target)
    (tmp_path / "tickets.csv.rejects.csv").write_text("my notes\n")  # someone's file at the default name
    before = snapshot(tmp_path)
    with pytest.raises(ImportFailed, match="not a rejects file"):
        import_file(duck, "tickets", inp)
    assert snapshot(tmp_path) == before


# -- import --rejects: written, replaced, removed -----------------------------------------------------
def test_dry_run_writes_and_deletes_nothing(duck: str, tmp_path: Path, demo_frames: dict,
                                            capsys: pytest.CaptureFixture) -> None:
    inp = tickets_csv(demo_frames, tmp_path / "tickets.csv")
    named = tmp_path / "named.rejects.csv"
    named.write_text(OURS, encoding="utf-8")
    (tmp_path / "tickets.csv.rejects.csv").write_text(OURS, encoding="utf-8")
    before = snapshot(tmp_path)
    assert main(["import", "tickets", str(inp), "--db", duck, "--dry-run", "--rejects", str(named)]) == 3
    out = capsys.readouterr().out
    assert "2 rejected" in out and "First 2 problems" in out and "P9" in out and str(named) not in out
    assert main(["import", "tickets", str(inp), "--db", duck, "--dry-run"]) == 3
    assert snapshot(tmp_path) == before
    good = tickets_csv(demo_frames, tmp_path / "good.csv", good=3, bad=0)
    (tmp_path / "good.csv.rejects.csv").write_text(OURS, encoding="utf-8")
    before = snapshot(tmp_path)
    assert main(["import", "tickets", str(good), "--db", duck, "--dry-run"]) == 0
    assert main(["import", "tickets", str(good), "--db", duck, "--dry-run", "--rejects", str(named)]) == 0
    assert snapshot(tmp_path) == before


def test_zero_rejects_removes_a_stale_file_of_ours_on_a_real_run(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    good = tickets_csv(demo_frames, tmp_path / "good.csv", good=3, bad=0)
    named = tmp_path / "named.csv"
    named.write_text(OURS, encoding="utf-8")
    default = tmp_path / "good.csv.rejects.csv"
    default.write_text(OURS, encoding="utf-8")
    assert main(["import", "tickets", str(good), "--db", duck, "--rejects", str(named)]) == 0
    assert not named.exists() and default.exists()  # only the file this run writes to
    assert main(["import", "tickets", str(good), "--db", duck]) == 0
    assert not default.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".part", ".rejects.csv"))]


def test_rejects_replace_an_old_file_of_ours_completely(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    inp = tickets_csv(demo_frames, tmp_path / "tickets.csv", good=2, bad=3)
    named = tmp_path / "named.csv"
    named.write_text(OURS, encoding="utf-8")
    os.chmod(named, 0o640)
    assert main(["import", "tickets", str(inp), "--db", duck, "--rejects", str(named)]) == 3
    got = pd.read_csv(named, encoding="utf-8-sig")
    assert list(got.columns)[-3:] == list(outputs.REJECTS_COLUMNS) and sorted(got["_row"]) == [4, 5, 6]
    assert "old run" not in named.read_text(encoding="utf-8-sig")
    assert oct(named.stat().st_mode & 0o777) == oct(0o640)  # the old file's permissions kept
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_failure_mid_run_leaves_the_old_rejects_file(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    t = demo_frames["tickets"].head(600).copy()
    t["ticket_id"] = range(FIRST_NEW_ID, FIRST_NEW_ID + len(t))
    t.loc[t.index[::3], "kind"] = "P9"
    inp = tmp_path / "tickets.csv"
    t.to_csv(inp, index=False)
    named = tmp_path / "named.csv"
    named.write_text(OURS, encoding="utf-8")
    calls = []

    def boom(result: object) -> None:
        calls.append(result)
        if len(calls) == 3:  # rejects of two chunks are in the temporary file by now
            assert [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
            raise RuntimeError("disk on fire")

    for dry_run in (False, True):
        calls.clear()
        with pytest.raises(RuntimeError):
            import_file(duck, "tickets", inp, rejects=named, chunk_rows=100, on_chunk=boom, dry_run=dry_run)
        assert named.read_bytes() == OURS.encode()
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    named.unlink()
    calls.clear()
    with pytest.raises(RuntimeError):
        import_file(duck, "tickets", inp, rejects=named, chunk_rows=100, on_chunk=boom)
    assert not named.exists()  # absent, never partial


KILL_SCRIPT = """
import sys
from pathlib import Path
from metrics.ingest.importer import import_file
import_file(sys.argv[1], "tickets", sys.argv[2], chunk_rows=5000, rejects=Path(sys.argv[3]),
            on_chunk=lambda r: print("chunk", r.rows_rejected, flush=True))
print("done", flush=True)
"""


@pytest.mark.parametrize("old", [True, False], ids=["old_file", "no_file"])
def test_kill_mid_import_leaves_the_old_rejects_file_or_none(old: bool, duck: str, tmp_path: Path) -> None:
    csv = tmp_path / "big.csv"
    t = tickets_frame(60_000, customers=2000)
    t["ticket_id"] += FIRST_NEW_ID
    t.loc[t.index[::7], "kind"] = "P9"
    write_csv(t, csv)
    named = tmp_path / "named.csv"
    if old:
        named.write_text(OURS, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, duck, str(csv), str(named)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = [proc.stdout.readline() for _ in range(2)]  # two chunks' rejects in the temporary file
        assert all(s.startswith("chunk") and int(s.split()[1]) > 0 for s in seen), (seen, proc.stderr.read())
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    if old:
        assert named.read_bytes() == OURS.encode()
    else:
        assert not named.exists()
    # the next run completes and replaces it (the killed run's temporary file stays, hidden, not ours to judge)
    r = import_file(duck, "tickets", csv, rejects=named)
    assert r.rows_rejected == len(t.index[::7])
    assert len(pd.read_csv(named, encoding="utf-8-sig")) == r.rows_rejected


# -- template --out -----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["database", "wal", "other_csv", "directory", "link", "missing_folder", "suffix",
                                  "rejects_file"])
def test_template_out_refused(case: str, duck: str, db_file: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duck)
    (tmp_path / "mine.csv").write_text("a,b\n1,2\n")
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "link.csv").symlink_to(tmp_path / "mine.csv")
    (tmp_path / "old.rejects.csv").write_text(OURS, encoding="utf-8")
    target = {"database": str(db_file), "wal": f"{db_file}.wal", "other_csv": str(tmp_path / "mine.csv"),
              "directory": str(tmp_path / "dir.csv"), "link": str(tmp_path / "link.csv"),
              "missing_folder": str(tmp_path / "nope" / "t.csv"), "suffix": str(tmp_path / "t.xlsx"),
              "rejects_file": str(tmp_path / "old.rejects.csv")}[case]
    before = snapshot(tmp_path)
    assert main(["template", "tickets", "--out", target]) == 1
    assert f"--out {target}:" in one_line_error(capsys)
    assert main(["template", "tickets", "--out", target, "--lang", "zh"]) == 1
    assert "未写入也未删除" in one_line_error(capsys)
    assert snapshot(tmp_path) == before and ticket_count(duck, read_only=True) > 0


def test_template_out_written_and_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "工单模板.csv"
    assert main(["template", "tickets", "--out", str(out)]) == 0
    assert out.read_bytes() == template_csv("tickets", "en")
    assert main(["template", "customers", "--out", str(out), "--lang", "zh"]) == 0  # a template of ours: replaced
    assert out.read_bytes() == template_csv("customers", "zh")

    def fail(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    capsys.readouterr()
    assert main(["template", "tickets", "--out", str(out)]) == 1
    assert "No space left" in one_line_error(capsys)
    assert out.read_bytes() == template_csv("customers", "zh")  # the old file untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["工单模板.csv"]  # no temporary file left


# -- report --out -------------------------------------------------------------------------------------
def _pptx(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("ppt/presentation.xml", "<p/>")


@pytest.mark.parametrize("case", ["database", "format_vs_suffix", "fake_pdf", "plain_zip", "docx", "directory",
                                  "link", "missing_folder", "per_region_file", "per_region_deep",
                                  "per_region_same_file", "per_region_link"])
def test_report_out_refused_before_any_work(case: str, duck: str, db_file: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from metrics import report

    def no_work(*_a: object, **_k: object) -> None:
        raise AssertionError("the pack was built although the path is refused")

    monkeypatch.setattr(report, "build_pack", no_work)
    (tmp_path / "notes.pdf").write_text("my notes, not a PDF")
    with zipfile.ZipFile(tmp_path / "archive.pptx", "w") as z:
        z.writestr("readme.txt", "hello")
    with zipfile.ZipFile(tmp_path / "letter.pptx", "w") as z:  # a Word document renamed
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<d/>")
    (tmp_path / "dir.pdf").mkdir()
    _pptx(tmp_path / "deck.pptx")
    (tmp_path / "link.pptx").symlink_to(tmp_path / "deck.pptx")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "realdir").mkdir()
    (tmp_path / "dirlink").symlink_to(tmp_path / "realdir")
    argv = {"database": ["--format", "pptx", "--out", str(db_file)],
            "format_vs_suffix": ["--format", "pdf", "--out", str(tmp_path / "deck.pptx")],
            "fake_pdf": ["--out", str(tmp_path / "notes.pdf")],
            "plain_zip": ["--out", str(tmp_path / "archive.pptx")],
            "docx": ["--out", str(tmp_path / "letter.pptx")],
            "directory": ["--out", str(tmp_path / "dir.pdf")],
            "link": ["--out", str(tmp_path / "link.pptx")],
            "missing_folder": ["--out", str(tmp_path / "no" / "r.pdf")],
            "per_region_file": ["--per-region", "--format", "pdf", "--out", str(tmp_path / "afile")],
            "per_region_deep": ["--per-region", "--format", "pdf", "--out", str(tmp_path / "a" / "b")],
            "per_region_same_file": ["--per-region", "--format", "pdf", "--out", str(tmp_path / "x{region_en:.0}.pdf")],
            "per_region_link": ["--per-region", "--format", "pdf", "--out", str(tmp_path / "dirlink")]}[case]
    before = snapshot(tmp_path)
    assert main(["report", "--db", duck, "--lang", "en", *argv]) == 1
    err = one_line_error(capsys)
    assert "--out" in err and "nothing was written or deleted" in err, err
    assert main(["report", "--db", duck, "--lang", "zh", *argv]) == 1
    assert "未写入也未删除" in one_line_error(capsys)
    assert snapshot(tmp_path) == before and ticket_count(duck, read_only=True) > 0


def test_report_out_written_and_replaced(duck: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture) -> None:
    import io

    from PIL import Image

    from metrics.report import context as report_context

    def fake_png(_fig: object) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (160, 124), "white").save(buf, "PNG")
        return buf.getvalue()

    monkeypatch.setattr(report_context, "render_png", fake_png)
    out = tmp_path / "deck.pptx"
    _pptx(out)  # an older deck of ours
    assert main(["report", "--db", duck, "--period", "last_month", "--lang", "en", "--out", str(out)]) == 0
    assert outputs.is_pptx_file(out) and out.stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_private_folder_refuses_a_planted_one(tmp_path: Path) -> None:
    mine = outputs.private_folder(tmp_path / "uploads")
    assert mine.is_dir() and (mine.stat().st_mode & 0o777) == 0o700
    assert outputs.private_folder(mine) == mine  # again: fine
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "planted").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "open").mkdir(mode=0o777)
    os.chmod(tmp_path / "open", 0o777)
    (tmp_path / "file").write_text("x")
    for bad in ("planted", "open", "file"):
        with pytest.raises(OSError):
            outputs.private_folder(tmp_path / bad)
