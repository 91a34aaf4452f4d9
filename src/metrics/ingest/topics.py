"""Complaint topics and sentiment per ticket, tagged at load and refresh time (issue 20), so that no page
reads the texts.

``ticket_topics`` holds one row per ticket with a ``description``: its topic (a code of
``data/complaint_topics.toml``, a discovered ``d1`` … or ``other``), where the topic came from
(``origin`` 'dictionary' or 'discovered'), the text's sentiment in [-1, 1] and the MD5 of the text it
was computed from. ``topic_terms`` names the discovered topics by their top words. How a text is read
is :mod:`metrics.ingest.topic_text`.

:func:`refresh` (called by every load and import, :func:`metrics.ingest.derived.refresh_rollups`) is
incremental: it compares each text's MD5 (computed by the database) with the stored one and reads
only the texts that are new or changed; rows of tickets gone or without text are deleted. When more
than :data:`REFIT_SHARE` of the texts are new (a first load, a replaced data set) the discovered topics
are found again on all unmatched texts; otherwise new unmatched texts join the discovered topic whose
top words they share most. Spark is skipped (no table: the callers say the topics are not built).

Reading a text (masking, jieba, the dictionary, the sentiment) is most of the work: :func:`tag` reads
each distinct text once, on every core from :data:`PARALLEL_MIN` distinct texts (:mod:`metrics.processes`),
and the result is the same whatever the workers (tests/engine/test_topics.py).
"""

from __future__ import annotations

import hashlib

import pandas as pd
import sqlalchemy as sa

from metrics import processes
from metrics.backends.bulk import write_rows
from metrics.ingest import topic_text as tt
from metrics.ingest.rollups import analyze
from metrics.model import schema as s

BUILT_KEY = "ticket_topics_built"  # sw_meta: present once the table is complete
REFIT_SHARE = 0.2
ORIGINS = ("dictionary", "discovered")
CHUNK = 50_000  # texts read and tagged at a time
PARALLEL_MIN = 100_000  # distinct texts from which worker processes read them (each pays ~2 s of imports)
PART = 20_000  # texts per worker task
MAX_WORKERS = 4  # each holds ~250 MB besides its part
BACKGROUND = 50_000  # dictionary-tagged texts that tell the generic words (metrics.ingest.topic_text.generic_words)

metadata = sa.MetaData()
ticket_topics = sa.Table(
    "ticket_topics", metadata,
    sa.Column("ticket_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("topic", sa.String(24), nullable=False),
    sa.Column("origin", sa.String(12), nullable=False),  # ORIGINS, or 'none' for OTHER
    sa.Column("sentiment", sa.Double, nullable=False),  # [-1, 1], negative: unhappy
    sa.Column("text_md5", sa.String(32), nullable=False),
)
topic_terms = sa.Table(
    "topic_terms", metadata,
    sa.Column("topic", sa.String(24), primary_key=True),
    sa.Column("terms", sa.String(400), nullable=False),  # top words, strongest first, space-separated
    sa.Column("texts", sa.Integer, nullable=False),  # texts it was found in
)


def md5(text: str) -> str:
    """The MD5 (hex) of a text's UTF-8 bytes, as the databases' ``md5()`` gives it."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def tag(texts: list[str], terms: dict[str, list[str]] | None = None, seed: int = 0,
        workers: int | None = None) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Topic, origin and sentiment of each text (a frame in the same order) and the discovered topics'
    top words: found anew on the unmatched texts when ``terms`` is None, else the given ones.

    Each distinct text is read once (masked, cut into words, its dictionary topic and sentiment), by
    ``workers`` processes (None: every core, at most :data:`MAX_WORKERS`, from :data:`PARALLEL_MIN`
    distinct texts, else this one; never off the main thread);
    the discovery then sees every text, repeated ones as often as they occur, so the result is the same
    whatever the workers."""
    distinct = list(dict.fromkeys(texts))
    if workers is None:
        workers = min(processes.cores(), MAX_WORKERS) if len(distinct) >= PARALLEL_MIN else 1
    workers = processes.workers_allowed(workers)  # a page's script thread: this process alone
    read = dict(zip(distinct, _read_all(distinct, workers), strict=True))
    per_text = [read[t] for t in texts]
    topic: list[str | None] = [r.topic for r in per_text]
    origin = ["dictionary" if t is not None else "none" for t in topic]
    rest = [i for i, t in enumerate(topic) if t is None]
    words = [per_text[i].words for i in rest]
    if terms is None:
        matched = [r.words for r in per_text if r.topic is not None][:BACKGROUND]
        found, terms = tt.discover(words, seed=seed, generic=tt.generic_words(matched))
    else:
        found = tt.assign_by_terms(words, terms)
    for i, code in zip(rest, found, strict=True):
        topic[i], origin[i] = (code, "discovered") if code is not None else (tt.OTHER, "none")
    return pd.DataFrame({"topic": topic, "origin": origin, "sentiment": [r.sentiment for r in per_text]}), terms


def _read_all(texts: list[str], workers: int) -> list[tt.Read]:
    """:func:`~metrics.ingest.topic_text.read_texts` of ``texts``, in parts of :data:`PART` texts by
    ``workers`` processes when there is more than one part and worker; a failure or Ctrl-C ends the
    workers at once (:func:`metrics.processes.stop`)."""
    parts = [texts[i:i + PART] for i in range(0, len(texts), PART)]
    if workers <= 1 or len(parts) <= 1:
        return tt.read_texts(texts)
    pool = processes.spawn_pool(min(workers, len(parts)))
    futures = []
    try:
        with processes.starting_workers():  # the workers start at the first submits
            futures = [pool.submit(tt.read_texts, part) for part in parts]
        out = [r for f in futures for r in f.result()]
    except BaseException:
        with processes.sigint_ignored():
            processes.stop(pool, futures)
        raise
    pool.shutdown()
    return out


def _text_rows() -> sa.Select:
    t = s.tickets
    return sa.select(t.c.ticket_id, sa.func.md5(t.c.description).label("text_md5")).where(
        t.c.description.isnot(None), sa.func.length(sa.func.trim(t.c.description)) > 0)


def _read_texts(conn: sa.Connection, ids: list[int] | None) -> pd.DataFrame:
    """(ticket_id, description) of ``ids``, or of every ticket with a text when ``ids`` is None."""
    t = s.tickets
    if ids is None:
        rows = conn.execute(sa.select(t.c.ticket_id, t.c.description).where(t.c.description.isnot(None))).all()
        return pd.DataFrame(rows, columns=["ticket_id", "description"])
    parts = [pd.DataFrame(conn.execute(sa.select(t.c.ticket_id, t.c.description)
                                       .where(t.c.ticket_id.in_(ids[i:i + CHUNK]))).all(),
                          columns=["ticket_id", "description"]) for i in range(0, len(ids), CHUNK)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["ticket_id", "description"])


def refresh(engine: sa.Engine) -> dict[str, int]:
    """Bring ``ticket_topics`` up to date with the tickets' texts (see the module docstring); returns
    the counts: ``texts``, ``tagged`` (new or changed, read and tagged now), ``removed``, ``refit`` (1
    when the discovered topics were found anew)."""
    if engine.dialect.name == "spark" or "description" not in s.tickets.c:
        return {"texts": 0, "tagged": 0, "removed": 0, "refit": 0}
    metadata.create_all(engine, checkfirst=True)
    with engine.connect() as conn:
        current = pd.DataFrame(conn.execute(_text_rows()).all(), columns=["ticket_id", "text_md5"])
        stored = pd.DataFrame(conn.execute(sa.select(ticket_topics.c.ticket_id, ticket_topics.c.text_md5)).all(),
                              columns=["ticket_id", "text_md5"])
        terms = {r.topic: r.terms.split(" ") for r in conn.execute(sa.select(topic_terms))}
    merged = current.merge(stored, on="ticket_id", how="left", suffixes=("", "_stored"))
    todo = merged.loc[merged["text_md5"] != merged["text_md5_stored"], "ticket_id"].astype(int).tolist()
    gone = sorted(set(stored["ticket_id"].astype(int)) - set(current["ticket_id"].astype(int)))
    refit = not stored.size or len(todo) > REFIT_SHARE * max(len(current), 1) or not terms
    m = s.meta
    with engine.begin() as conn:
        conn.execute(m.delete().where(m.c.key == BUILT_KEY))
    with engine.connect() as conn:
        texts = _read_texts(conn, None if refit else todo)
    texts = texts[texts["description"].notna() & texts["ticket_id"].isin(current["ticket_id"])]
    tags, found = tag(texts["description"].astype(str).tolist(), None if refit else terms)
    tags.insert(0, "ticket_id", texts["ticket_id"].astype("int64").to_numpy())
    tags["text_md5"] = [md5(t) for t in texts["description"].astype(str)]
    with engine.begin() as conn:
        if refit:
            conn.execute(ticket_topics.delete())
            conn.execute(topic_terms.delete())
            counts = tags.loc[tags["origin"] == "discovered", "topic"].value_counts()
            if found:
                conn.execute(topic_terms.insert(), [{"topic": k, "terms": " ".join(v)[:400],
                                                     "texts": int(counts.get(k, 0))} for k, v in found.items()])
        else:
            changed = tags["ticket_id"].tolist() + gone
            for i in range(0, len(changed), CHUNK):
                conn.execute(ticket_topics.delete().where(ticket_topics.c.ticket_id.in_(changed[i:i + CHUNK])))
        write_rows(conn, ticket_topics, tags[[c.name for c in ticket_topics.columns]])
        conn.execute(m.insert().values(key=BUILT_KEY, value="1"))
        if len(tags) or gone:
            s.bump_data_version(conn)  # a page that cached "not built" during the load asks again
    analyze(engine, [ticket_topics])
    return {"texts": len(current), "tagged": len(tags), "removed": len(gone) if not refit else 0, "refit": int(refit)}


def built(conn: sa.Connection) -> bool:
    """Whether ``ticket_topics`` is complete (its sw_meta key is there)."""
    m = s.meta
    return conn.execute(sa.select(m.c.value).where(m.c.key == BUILT_KEY)).first() is not None


__all__ = ["BUILT_KEY", "ORIGINS", "built", "md5", "refresh", "tag", "ticket_topics",
           "topic_terms"]
