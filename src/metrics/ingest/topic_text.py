"""Reading complaint text: words (jieba with the telecom dictionary), dictionary topics, discovered topics
(TF-IDF + NMF) and sentiment (a lexicon with negation). Pure functions on lists of strings; the table
they fill and when is :mod:`metrics.ingest.topics`. The method is written out in ``docs/complaint-text.md``.

* **Words**: ``jieba`` in its precise mode without the HMM (new words are not guessed: the user
  dictionary ``data/telecom_dict.txt`` names the telecom terms), lower-cased; punctuation, spaces and
  digits dropped.
* **Dictionary topic** (:func:`dictionary_topics`): the topic of ``data/complaint_topics.toml`` whose
  keywords the text names most (a keyword counts once; ``strong`` keywords count 3); ties go to the
  topic listed first; none named: no dictionary topic.
* **Discovered topics** (:func:`discover`): on the texts with no dictionary topic, TF-IDF over their
  words (words in at least 3 texts and at most 60% of them) and NMF with ``k`` components
  (:func:`components_for`), words common in the texts the dictionary took left out (:func:`generic_words`:
  投诉, 尽快 … say nothing about a new topic); a text goes to its strongest component; each topic is named
  by its top words.
* **Sentiment** (:func:`sentiment`): the sum over lexicon words of ±1 × the intensifier before it
  (非常 2, 很 1.5, …), its sign flipped when a negation (不, 没有, not, …) stands within the two words
  before it in its clause ("not bad" counts half); words of the last clause count twice (the outcome is
  said last), and after a turn (但是, 后来, 不过, but …) words count twice and those before it half;
  score ``tanh(sum / 2)``; negative at -0.2 or below, positive at 0.2 or above, else neutral.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from metrics.backends.connect import PROJECT_ROOT
from metrics.present.masking import mask

DICT_PATH = PROJECT_ROOT / "data" / "telecom_dict.txt"
TOPICS_PATH = PROJECT_ROOT / "data" / "complaint_topics.toml"
OTHER = "other"  # the topic of a text that no dictionary topic and no discovered topic takes
STRONG_WEIGHT = 3
NEGATION_WINDOW = 2  # words before a sentiment word in which a negation flips it
LAST_CLAUSE_WEIGHT = 2.0
CONTRAST_BEFORE, CONTRAST_AFTER = 0.5, 2.0  # words before / after the last 但是, 后来, but … (the turn)
NEUTRAL_BAND = 0.2  # |score| below it: neutral
MAX_DISCOVERED = 6
MIN_TEXTS = 30  # unmatched texts needed before any topic is discovered
TEXTS_PER_K = 200  # k = round(sqrt(n / this))
GENERIC_SHARE = 0.005  # a word in this share of the dictionary-tagged texts is generic (left out of discovery)
_CLAUSE = frozenset("，。！？；,.!?;\n")
_DROP = re.compile(r"^(?:\s+|[\d.%]+|[^\w]+)$")
STOPWORDS = frozenset("的 了 我 你 他 她 是 在 也 就 都 还 又 和 与 说 让 给 被 把 要 想 一下 一直 已经 这个 那么 "
                      "什么 这 那 我们 你们 现在 可以 能 会 有 没 不 很 太 非常 根本 一 个 次 元 天 后 上 里 "
                      "您好 你好 请 麻烦 帮忙 希望 the a an to of and is are was were it my me i on in at for "
                      "this that with be been have has please".split())


@dataclass(frozen=True)
class Lexicon:
    """The topics and sentiment words of ``data/complaint_topics.toml``."""

    topics: dict[str, dict]  # code -> {"zh", "en", "keywords", "strong"}
    negative: frozenset[str]
    positive: frozenset[str]
    negation: frozenset[str]
    intensifiers: dict[str, float]
    contrast: frozenset[str] = frozenset()
    # word -> (polarity, weight) of an intensifier + lexicon word, or None (filled by _compound)
    compounds: dict[str, tuple[float, float] | None] = field(default_factory=dict, compare=False, repr=False)

    def weights(self) -> dict[str, dict[str, int]]:
        """keyword -> {topic: weight} (1, or :data:`STRONG_WEIGHT` for strong keywords)."""
        out: dict[str, dict[str, int]] = {}
        for code, spec in self.topics.items():
            strong = {w.lower() for w in spec.get("strong", ())}
            for word in spec.get("keywords", ()):
                w = word.lower()
                out.setdefault(w, {})[code] = STRONG_WEIGHT if w in strong else 1
            for w in strong:
                out.setdefault(w, {})[code] = STRONG_WEIGHT
        return out


@cache
def lexicon(path: Path = TOPICS_PATH) -> Lexicon:
    """The parsed topics file (cached per path)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    s = data.get("sentiment", {})
    low = lambda xs: frozenset(x.lower() for x in xs)  # noqa: E731
    return Lexicon(dict(data.get("topics", {})), low(s.get("negative", ())), low(s.get("positive", ())),
                   low(s.get("negation", ())), {k.lower(): float(v) for k, v in s.get("intensifiers", {}).items()},
                   low(s.get("contrast", ())))


@cache
def _tokenizer(dict_path: Path = DICT_PATH):
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    if Path(dict_path).exists():
        tok.load_userdict(str(dict_path))
    return tok


_CLAUSE_SPLIT = re.compile("([" + re.escape("".join(sorted(_CLAUSE))) + "])")


@lru_cache(maxsize=200_000)
def _clause_tokens(clause: str) -> tuple[str, ...]:
    """The words of one clause (jieba splits at punctuation itself, so clause by clause gives the same
    words; complaint texts repeat clauses — 请尽快处理, 非常不满意 — so they are cut once)."""
    return tuple(w.lower() for w in _tokenizer().lcut(clause, HMM=False) if not _DROP.match(w))


def tokens(text: str) -> list[str]:
    """The words of ``text``, lower-cased, clause breaks kept as ``"，"`` (punctuation otherwise dropped)."""
    out: list[str] = []
    for part in _CLAUSE_SPLIT.split(str(text)):
        if part in _CLAUSE:
            out.append("，")
        elif part:
            out.extend(_clause_tokens(part))
    return out


class Read(NamedTuple):
    """What one text says: the dictionary topic it names most (or None), its words, its sentiment."""

    topic: str | None
    words: list[str]
    sentiment: float


def read_texts(texts: list[str]) -> list[Read]:
    """:class:`Read` of each text, in order, masked first (no name or number becomes a topic's word). The
    work :func:`metrics.ingest.topics.tag` spreads over worker processes: this module imports little."""
    lex = lexicon()
    toks = [tokens(mask(t)) for t in texts]
    return [Read(topic, words(ts), sentiment(ts, lex))
            for topic, ts in zip(dictionary_topics(toks, lex), toks, strict=True)]


def words(toks: list[str]) -> list[str]:
    """The content words of a token list (no clause breaks, no stopwords, no single Latin letters)."""
    return [w for w in toks if w != "，" and w not in STOPWORDS and not (len(w) == 1 and w.isascii())]


def dictionary_topics(token_lists: list[list[str]], lex: Lexicon) -> list[str | None]:
    """Per text: the dictionary topic it names most, or None (see the module docstring)."""
    weights, order = lex.weights(), {code: i for i, code in enumerate(lex.topics)}
    out: list[str | None] = []
    for toks in token_lists:
        score: dict[str, int] = {}
        for w in set(toks):
            for code, wt in weights.get(w, {}).items():
                score[code] = score.get(code, 0) + wt
        out.append(min(score, key=lambda c: (-score[c], order[c])) if score else None)
    return out


def sentiment(toks: list[str], lex: Lexicon) -> float:
    """The text's sentiment in [-1, 1] (negative: unhappy), by the lexicon method of the module docstring."""
    while toks and toks[-1] == "，":  # a trailing break closes the last clause
        toks = toks[:-1]
    breaks = [i for i, w in enumerate(toks) if w == "，"]
    last_start = breaks[-1] + 1 if breaks else len(toks) + 1
    turns = [i for i, w in enumerate(toks) if w in lex.contrast]
    turn = turns[-1] if turns else -1
    total, clause_start = 0.0, 0
    for i, w in enumerate(toks):
        if w == "，":
            clause_start = i + 1
            continue
        weight = lex.intensifiers.get(toks[i - 1], 1.0) if i > clause_start else 1.0
        polarity = _polarity(w, lex)
        if polarity == 0.0:  # one word of an intensifier and a lexicon word (非常感谢, 很差)
            compound = _compound(w, lex)
            if compound is None:
                continue
            polarity, weight = compound
        window = toks[max(clause_start, i - NEGATION_WINDOW):i]  # a negation does not cross a clause break
        if any(x in lex.negation for x in window):
            polarity = -polarity * (0.5 if polarity < 0 else 1.0)  # "not bad" is only mildly good
        if i >= last_start:
            weight *= LAST_CLAUSE_WEIGHT
        if turn >= 0:
            weight *= CONTRAST_AFTER if i > turn else CONTRAST_BEFORE
        total += polarity * weight
    return math.tanh(total / 2.0)


def _polarity(word: str, lex: Lexicon) -> float:
    return -1.0 if word in lex.negative else 1.0 if word in lex.positive else 0.0


def _compound(word: str, lex: Lexicon) -> tuple[float, float] | None:
    """(polarity, weight) of a word made of an intensifier and a lexicon word (非常感谢: 1, 很差: -1, each
    with the intensifier's weight), else None; remembered per word in ``lex.compounds`` (the search
    over every intensifier was most of the sentiment's time)."""
    try:
        return lex.compounds[word]
    except KeyError:
        pass
    head = next((p for p in lex.intensifiers if word.startswith(p) and _polarity(word[len(p):], lex)), None)
    found = None if head is None else (_polarity(word[len(head):], lex), lex.intensifiers[head])
    lex.compounds[word] = found
    return found


def label(score: float) -> str:
    """'negative' (score <= -:data:`NEUTRAL_BAND`), 'positive' (>= it) or 'neutral'."""
    return "negative" if score <= -NEUTRAL_BAND else "positive" if score >= NEUTRAL_BAND else "neutral"


def components_for(n_texts: int) -> int:
    """How many topics to discover in ``n_texts`` unmatched texts: ``round(sqrt(n / 200))`` between 1 and
    :data:`MAX_DISCOVERED`, 0 below :data:`MIN_TEXTS` (too few to find any)."""
    if n_texts < MIN_TEXTS:
        return 0
    return int(min(MAX_DISCOVERED, max(1, round(math.sqrt(n_texts / TEXTS_PER_K)))))


def generic_words(background: list[list[str]]) -> frozenset[str]:
    """Words of complaints in general: in at least :data:`GENERIC_SHARE` of the texts a dictionary topic
    took (投诉, 尽快, 说法 …); they say nothing about what a new topic is, and are left out of discovery."""
    if not background:
        return frozenset()
    counts: dict[str, int] = {}
    for ws in background:
        for w in set(ws):
            counts[w] = counts.get(w, 0) + 1
    return frozenset(w for w, c in counts.items() if c >= GENERIC_SHARE * len(background))


def discover(word_lists: list[list[str]], seed: int = 0,
             generic: frozenset[str] = frozenset()) -> tuple[list[str | None], dict[str, list[str]]]:
    """Discovered topics of texts that no dictionary topic took: per text its topic code (``d1`` …) or
    None (no word in the model), and per topic its top words (strongest first); ``generic`` words
    (:func:`generic_words`) are left out."""
    k = components_for(len(word_lists))
    if k == 0:
        return [None] * len(word_lists), {}
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    word_lists = [[w for w in ws if w not in generic] for ws in word_lists]
    vec = TfidfVectorizer(analyzer=lambda ws: ws, min_df=3, max_df=0.6, sublinear_tf=True)
    try:
        x = vec.fit_transform(word_lists)
    except ValueError:  # no word left after the document-frequency limits
        return [None] * len(word_lists), {}
    k = min(k, x.shape[1])
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400)
    w = model.fit_transform(x)
    vocab = np.asarray(vec.get_feature_names_out())
    terms = {f"d{j + 1}": vocab[np.argsort(model.components_[j])[::-1][:8]].tolist() for j in range(k)}
    best = w.argmax(axis=1)
    strength = w.max(axis=1)
    return [f"d{b + 1}" if s > 0 else None for b, s in zip(best, strength, strict=True)], terms


def assign_by_terms(word_lists: list[list[str]], terms: dict[str, list[str]]) -> list[str | None]:
    """Texts tagged after the discovered topics were found: the topic sharing most of its top words
    with the text (earlier top words weigh more), or None."""
    weight = {code: {t: len(ts) - i for i, t in enumerate(ts)} for code, ts in terms.items()}
    out: list[str | None] = []
    for ws in word_lists:
        score = {code: sum(wt.get(w, 0) for w in set(ws)) for code, wt in weight.items()}
        best = max(score, key=score.get) if score else None
        out.append(best if best is not None and score[best] > 0 else None)
    return out


__all__ = ["OTHER", "Lexicon", "Read", "assign_by_terms", "components_for", "dictionary_topics", "discover", "lexicon",
           "generic_words", "label", "read_texts", "sentiment", "tokens", "words"]
