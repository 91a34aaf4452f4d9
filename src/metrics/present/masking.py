"""Personal data out of customers' own words, before any text reaches a page, an export, a pack or a log.

:func:`mask` replaces, in Chinese and English text alike:

* **phone numbers** — mainland mobiles ``1[3-9]x`` with 11 digits, with or without ``+86``/``86`` and
  spaces or hyphens (``+86 138-1234-5678``), landlines with an area code (``020-87654321``,
  ``(0755) 1234 5678``), any other run of 7 or more digits (a landline without its area code), and
  numbers as other countries write them — an optional ``+``, digit groups with spaces, brackets or
  dashes, 8 to 15 digits in all (``(555) 123-4567``, ``+44 20 7946 0958``); dates (``2026-10-31``),
  times (``10:30``), amounts (``¥128.00``) and shorter numbers stay;
* **ID-card numbers** — 18 characters (17 digits and a digit or ``X``) and the old 15 digits;
* **e-mail addresses**;
* **bank cards** — 16 to 19 digits, also in groups of four;
* **addresses** — a street and number (``…路/街/大道/巷 12号 3栋 502室``), whatever follows ``地址：``
  up to the next punctuation, and English street addresses (``12 Queen Street``, ``221B Baker Street``);
* **personal names** — the Chinese name (up to four characters, a two-character surname such as 欧阳
  first) after 我叫 / 姓名 / 名字叫 / 联系人 / 我姓; after the looser 我是 / 本人 only a common surname
  and one or two characters followed by punctuation, the end or 来电/投诉… (``我是移动用户`` stays); a
  surname before 先生 / 女士 / 小姐; the English name after "my name is" (any case) / "this is" /
  "Mr" / "Ms" (``O'Brien``, ``McDonald``).

Each masked span becomes :data:`MASK` (no digits, no letters: language-neutral). The rules err on the
side of masking: a long order number is masked too. The city and district of an address stay (they are
what the dashboard groups by), the street and number do not.
"""

from __future__ import annotations

import re

MASK = "***"
# the commonest Chinese surnames: a name before 先生/女士, or after a loose label (我是 / 本人), is masked
# only after one of them; two-character surnames are tried first (欧阳娜娜 is all masked, not 欧阳's 阳)
_COMPOUND = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "慕容", "令狐", "夏侯", "尉迟", "公孙", "长孙", "宇文")
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
             "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
             "向汤欧司上诸")
_HAN = r"[\u4e00-\u9fff]"
_SEP = r"[ \-\u2010-\u2015]?"  # one optional space or hyphen between digit groups
_NOT_DIGIT_BEFORE, _NOT_DIGIT_AFTER = r"(?<![0-9A-Za-z])", r"(?![0-9])"
_COMPOUND_RE = "(?:" + "|".join(_COMPOUND) + ")"
# a Chinese name: a two-character surname and one or two more, or up to four characters up to a stop
_NAME_STOP = r"(?=$|[^\u4e00-\u9fff]|先生|女士|小姐|的|电话|手机|身份证|住|来电|致电|打电话|反映|投诉|咨询|说)"
_NAME_ZH = "(?:" + _COMPOUND_RE + _HAN + "{1,2}|" + _HAN + "{1,4}?" + _NAME_STOP + "|" + _HAN + "{2,4})"
# after 我是 / 本人 (which also start 我是移动用户, 本人已经…): only a surname and one or two characters
# followed by punctuation, the end or a verb of calling
_LOOSE_STOP = r"(?=$|[^\u4e00-\u9fff]|来电|致电|打电话|反映|投诉|咨询)"
_NAME_LOOSE = "(?:" + _COMPOUND_RE + _HAN + "{1,2}|[" + _SURNAMES + "]" + _HAN + "{1,2}?)" + _LOOSE_STOP
# an English name word: Smith, O'Brien, McDonald, Smith-Jones
_WORD_EN = r"[A-Z][a-z]*(?:['\-]?[A-Z][a-z]+|'[a-z]+)*"
_NOT_NAME_EN = r"(?!(?:and|but|from|here|calling|speaking|with|at|in|of|to|is|was|i|my|the|please)\b)"
_WORD_ANY = _NOT_NAME_EN + r"[A-Za-z][A-Za-z'\-]*"
# a phone number in any country's writing: an optional +, digit groups with spaces, brackets or dashes;
# masked when it holds 8 to 15 digits (dates 2026-10-31, times 10:30 and amounts 128.00 are not candidates)
_PHONE_TOKEN = r"(?:\(\d{1,5}\)|\d+)"
_PHONE_INTL = re.compile(r"(?<![\w.+:/])(?<!\d-)(?!\d{4}[\-/.]\d{1,2}[\-/.]\d{1,2}(?!\d))(?:\+\s?)?"
                         + _PHONE_TOKEN + r"(?:[ \-]?" + _PHONE_TOKEN + r")*(?![\w]|[.:/,]\d)")
PHONE_DIGITS = (8, 15)


def _phone(m: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in m.group(0))
    return MASK if PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1] else m.group(0)


_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")),
    ("id_card", re.compile(_NOT_DIGIT_BEFORE + r"(?:[1-9]\d{16}[0-9Xx]|[1-9]\d{14})" + r"(?![0-9Xx])")),
    ("mobile", re.compile(r"(?:(?:\+|00)?86" + _SEP + r")?" + _NOT_DIGIT_BEFORE
                          + r"1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4}" + _NOT_DIGIT_AFTER)),
    ("bank_card", re.compile(_NOT_DIGIT_BEFORE + r"(?:\d{4}[ \-]){3}\d{4}(?:[ \-]?\d{1,3})?" + _NOT_DIGIT_AFTER)),
    ("landline", re.compile(r"(?:(?:\+|00)?86" + _SEP + r")?(?:\(0\d{2,3}\)|" + _NOT_DIGIT_BEFORE + r"0\d{2,3})"
                            + r"[ \-]?\d{3,4}" + _SEP + r"\d{4}" + _NOT_DIGIT_AFTER)),
    ("digits", re.compile(r"(?:\+\s?)?" + _NOT_DIGIT_BEFORE + r"\d{7,}" + _NOT_DIGIT_AFTER)),
    ("digit_groups", re.compile(r"(?:\+\s?)?" + _NOT_DIGIT_BEFORE + r"\d{3,4}(?:[ \-]\d{3,4}){2,}" + _NOT_DIGIT_AFTER)),
    ("phone_intl", _PHONE_INTL),
    ("address_label", re.compile(r"((?:家庭|联系|收货|详细|安装|装机|住址|地址)(?:地址)?"
                                 r"\s*(?:(?:是|为)\s*[:：]?|[:：])\s*)[^，。,;；!！?？\n]+")),
    ("address_label_en", re.compile(r"((?i:address|addr\.?)\s*[:：]\s*)[^.;!?\n]+")),
    ("address", re.compile(_HAN + r"{1,8}?(?:路|街|大道|大街|巷|道|里|村)\s*\d+\s*(?:号|號)"
                           + r"(?:\s*[\dA-Za-z]+\s*(?:栋|幢|座|号楼|单元|楼))*(?:\s*[\dA-Za-z\-]+\s*(?:室|房|户)?)?")),
    ("room", re.compile(r"\d+\s*(?:栋|幢|座|号楼)\s*(?:\d+\s*单元\s*)?\d+\s*(?:室|房|户)?")),
    ("address_en", re.compile(r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){1,3}"
                              r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way)\b\.?")),
    ("name_label", re.compile(r"((?:我叫|我姓|姓名|名字叫|名字是|联系人|户主|机主)(?!电话|手机|方式|号码|地址)"
                              r"\s*(?:是|为)?\s*[:：]?\s*)" + _NAME_ZH)),
    ("name_loose", re.compile(r"((?:我是|本人)\s*[:：]?\s*)" + _NAME_LOOSE)),
    ("name_title", re.compile("(?:" + _COMPOUND_RE + "|[" + _SURNAMES + "])" + _HAN
                                 + r"{0,2}?(?=先生|女士|小姐)")),
    ("name_en_label", re.compile(r"((?i:my name is|my name's|name:)\s+)" + _WORD_ANY
                                 + r"(?:[ \-]" + _WORD_ANY + r")?")),
    ("name_en", re.compile(r"((?i:this is|i am|i'm)\s+|\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+)"
                           + _WORD_EN + r"(?:[ \-]" + _WORD_EN + r")?")),
)
# patterns whose first group is a label kept in front of the mask
_KEEP_LABEL = frozenset({"address_label", "address_label_en", "name_label", "name_loose", "name_en_label",
                         "name_en"})
_REPLACE = {"phone_intl": _phone}  # patterns that decide per match


def mask(text: str) -> str:
    """``text`` with phone numbers, ID-card numbers, e-mail addresses, bank cards, addresses and
    personal names replaced by :data:`MASK` (see the module docstring). ``None`` and non-strings
    are returned as their ``str`` (``None`` as the empty string)."""
    if text is None:
        return ""
    out = str(text)
    for kind, pattern in _PATTERNS:
        if kind in _KEEP_LABEL:
            out = pattern.sub(lambda m: m.group(1) + MASK, out)
        elif kind in _REPLACE:
            out = pattern.sub(_REPLACE[kind], out)
        else:
            out = pattern.sub(MASK, out)
    return out


def mask_all(texts) -> list[str]:
    """:func:`mask` of each text, in order."""
    return [mask(t) for t in texts]


# columns of the data model that hold customers' own words: masked wherever rows of them are shown
FREE_TEXT: dict[str, tuple[str, ...]] = {"tickets": ("description",)}


def mask_columns(frame, table: str):
    """``frame`` (rows of ``table``) with its :data:`FREE_TEXT` columns masked (a copy when any is
    there); missing values stay missing."""
    cols = [c for c in FREE_TEXT.get(table, ()) if c in frame.columns]
    if not cols:
        return frame
    out = frame.copy()
    for col in cols:
        out[col] = [mask(v) if isinstance(v, str) else v for v in out[col]]
    return out


KINDS = tuple(kind for kind, _ in _PATTERNS)
__all__ = ["FREE_TEXT", "KINDS", "MASK", "mask", "mask_all", "mask_columns"]
