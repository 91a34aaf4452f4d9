"""Every file written to a path a user names goes through here: checked first, then written atomically.

:func:`check` refuses, before anything is deleted or written, a path that is the database (its
WAL or journal, the audit store beside it), the users file, an input of the same command, a
folder, a symbolic link, a file in a missing folder or an unwritable one, a name with the wrong
suffix, or an existing file that is not of the kind the command writes itself (a rejects CSV with
our header row, a template CSV, a PDF, a PPTX deck). The refusal is one line in the user's
language naming the option and the reason (:class:`OutputRefused`).

:class:`AtomicFile` and :func:`write_bytes` write under a temporary name in the target's folder,
fsync and ``os.replace`` into place: the target is always the old file or the complete new one;
on any failure the temporary file is removed. :func:`remove_ours` deletes a stale file only if it
is of our kind.
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO

from metrics.model.i18n import t

REJECTS_HEADER = ("row", "column", "value", "reason", "code")  # rejects files of earlier versions
REJECTS_COLUMNS = ("_row", "_reasons", "_codes")  # after the file's own columns in a rejects file
_BOM = b"\xef\xbb\xbf"


class OutputRefused(ValueError):
    """An output path was refused; the message is one line in the user's language."""


@dataclass(frozen=True)
class Kind:
    """A kind of file we write: its catalogue name, the suffixes it may have and how to tell one of ours."""

    name: str  # catalogue key output.kind.<name>
    suffixes: tuple[str, ...]
    ours: Callable[[Path], bool]


def _head(path: Path, n: int = 4096) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def _first_line(path: Path) -> str | None:
    head = _head(path)
    head = head[len(_BOM):] if head.startswith(_BOM) else head
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return None


def is_rejects_file(path: Path) -> bool:
    """A rejects CSV as the importer writes it: a header row ending in ``_row,_reasons,_codes`` (the
    rejected rows as read, then their file row, reasons and codes), or the earlier
    ``row,column,value,reason,code``."""
    line = _first_line(path)
    if line is None:
        return False
    if line == ",".join(REJECTS_HEADER):
        return True
    import csv

    fields = next(csv.reader([line]), [])
    return tuple(fields[-len(REJECTS_COLUMNS):]) == REJECTS_COLUMNS


@lru_cache(maxsize=1)
def _template_headers() -> frozenset[str]:
    from metrics.ingest.importer.columns import TABLES
    from metrics.ingest.importer.template import template_csv

    return frozenset(template_csv(table, lang, rows=False).decode("utf-8-sig").splitlines()[0]
                     for table in TABLES for lang in ("en", "zh"))


def is_template_file(path: Path) -> bool:
    """A template CSV as ``servicewatch template`` writes it: BOM and the header row of a table."""
    return _head(path, 3) == _BOM and _first_line(path) in _template_headers()


def is_pdf_file(path: Path) -> bool:
    return _head(path, 5) == b"%PDF-"


def is_pptx_file(path: Path) -> bool:
    """A PowerPoint deck: a zip archive (``PK`` magic) holding ``ppt/presentation.xml``."""
    if _head(path, 4) != b"PK\x03\x04":
        return False
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return {"[Content_Types].xml", "ppt/presentation.xml"} <= names


REJECTS = Kind("rejects", (".csv",), is_rejects_file)
TEMPLATE = Kind("template", (".csv",), is_template_file)
PDF = Kind("pdf", (".pdf",), is_pdf_file)
PPTX = Kind("pptx", (".pptx",), is_pptx_file)
REPORT_KINDS = {"pdf": PDF, "pptx": PPTX}


# -- what is never written --------------------------------------------------------------------
def _database_file(url: str | None) -> Path | None:
    """The file of a DuckDB or SQLite URL; None for a server database or an unparseable URL."""
    if not url:
        return None
    try:
        import sqlalchemy as sa

        u = sa.engine.make_url(url)
    except Exception:  # noqa: BLE001 - not a URL: nothing file-like to protect
        return None
    if u.get_backend_name() not in ("duckdb", "sqlite") or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def protected_files(db_urls: Iterable[str | None] = ()) -> list[tuple[Path, str]]:
    """(path, reason) of every file no output may be: each database file with its WAL/journal, the
    audit store beside it (or ``$SERVICEWATCH_AUDIT_DB``), and the users file ``$SERVICEWATCH_USERS``."""
    out: list[tuple[Path, str]] = []

    def add(path: Path | None, reason: str) -> None:
        if path is not None:
            out.extend((Path(f"{path}{s}"), reason) for s in ("", ".wal", "-wal", "-journal", "-shm"))

    for url in db_urls:
        add(_database_file(url), "database")
        if url:
            from metrics.access.audit import audit_url

            try:
                add(_database_file(audit_url(url)), "audit")
            except Exception:  # noqa: BLE001 - an odd URL: its database file is covered above
                pass
    add(_database_file(os.environ.get("SERVICEWATCH_AUDIT_DB")), "audit")
    if os.environ.get("SERVICEWATCH_USERS"):
        out.append((Path(os.environ["SERVICEWATCH_USERS"]), "users"))
    return out


def _same(a: Path, b: Path) -> bool:
    """The same file: the same real location, or (hard links) the same inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# -- the check --------------------------------------------------------------------------------
def refusal(option: str, path: str | Path, reason: str, lang: str = "en", **fmt: object) -> OutputRefused:
    """The one-line refusal: option, the path as the user gave it, the reason, nothing written."""
    why = t(f"output.reason.{reason}", lang, **fmt)
    return OutputRefused(t("output.refused", lang, option=option, path=path, reason=why))


def check(path: str | Path, kind: Kind, *, option: str, lang: str = "en", db_urls: Iterable[str | None] = (),
          inputs: Iterable[str | Path | None] = (), folder_may_be_created: bool = False) -> Path:
    """``path`` if ``kind`` may be written there; else raises :class:`OutputRefused` (see the module
    docstring). ``folder_may_be_created``: the folder may be missing if its own parent exists (the
    per-region report folder the user names; the caller creates it). Nothing is written here."""
    p = Path(path)
    for protected, reason in protected_files(db_urls):
        if _same(p, protected):
            raise refusal(option, path, reason, lang)
    for given in inputs:
        if given is not None and _same(p, Path(given)):
            raise refusal(option, path, "input", lang)
    if p.is_symlink():
        raise refusal(option, path, "symlink", lang)
    if p.is_dir():
        raise refusal(option, path, "directory", lang)
    if p.suffix.lower() not in kind.suffixes:
        raise refusal(option, path, "suffix", lang, suffixes=" / ".join(kind.suffixes))
    folder = p.parent
    if not folder.is_dir():
        if not (folder_may_be_created and not folder.exists() and folder.parent.is_dir()):
            raise refusal(option, path, "no_folder", lang)
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise refusal(option, path, "not_writable", lang)
    if p.exists():
        try:
            regular = stat.S_ISREG(p.stat().st_mode)
            ours = regular and kind.ours(p)
        except OSError:
            ours = False
        if not ours:
            raise refusal(option, path, "not_ours", lang, kind=t(f"output.kind.{kind.name}", lang))
    return p


def check_folder(path: str | Path, *, option: str, lang: str = "en") -> Path:
    """A folder to write several files into (``report --per-region``): an existing folder (not a
    symbolic link), or a missing one whose parent exists (created by :func:`make_folder`)."""
    p = Path(path)
    if p.is_symlink():
        raise refusal(option, path, "symlink", lang)
    if p.exists() and not p.is_dir():
        raise refusal(option, path, "not_folder", lang)
    if not p.exists() and not p.parent.is_dir():
        raise refusal(option, path, "no_folder", lang)
    return p


def private_folder(path: str | Path) -> Path:
    """A folder for this account's scratch files (the Data page's uploads): created with mode 0700 if
    missing; raises OSError if it is a symbolic link, not a folder, owned by another account or open
    to others (someone may have planted it in a shared folder such as /tmp)."""
    p = Path(path)
    try:
        p.mkdir(mode=0o700)
    except FileExistsError:
        pass
    st = p.lstat()
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{p.name} is not a plain folder")
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise OSError(f"{p.name} belongs to another account or is open to others")
    return p


def make_folder(path: Path) -> None:
    """Create the one folder :func:`check` or :func:`check_folder` allowed to be missing."""
    path.mkdir(exist_ok=True)


# -- the write --------------------------------------------------------------------------------
def _new_file_mode() -> int:
    """0666 less the process umask (read from /proc: ``os.umask`` would change it for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


class AtomicFile:
    """A file written under a temporary name in the target's folder; :meth:`commit` fsyncs it and
    renames it over the target (``os.replace``), :meth:`discard` removes it. Used as a context
    manager it commits on success and discards on an exception."""

    def __init__(self, path: str | Path, mode: str = "wb", **open_kwargs: object) -> None:
        self.path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".part")
        self.tmp = Path(tmp)
        try:
            self.fh: IO = os.fdopen(fd, mode, **open_kwargs)
        except BaseException:
            os.close(fd)
            self.tmp.unlink(missing_ok=True)
            raise

    def commit(self) -> None:
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            try:
                mode = stat.S_IMODE(self.path.stat().st_mode) if self.path.is_file() else _new_file_mode()
            except OSError:
                mode = _new_file_mode()
            os.chmod(self.tmp, mode)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        _fsync_folder(self.path.parent)

    def discard(self) -> None:
        try:
            self.fh.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> IO:
        return self.fh

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | Path, data: bytes) -> None:
    """``data`` into ``path`` atomically (see :class:`AtomicFile`); raises OSError, the old file intact."""
    with AtomicFile(path, "wb") as fh:
        fh.write(data)


def remove_ours(path: str | Path, kind: Kind) -> bool:
    """Delete ``path`` if it is a regular file of ``kind`` (never a link, a folder or someone else's
    file); True if it was removed."""
    p = Path(path)
    try:
        if p.is_symlink() or not p.is_file() or not kind.ours(p):
            return False
        p.unlink()
    except OSError:
        return False
    return True
