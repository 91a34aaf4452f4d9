"""Demo complaint text: the customers' own words on complaint tickets (issue 20).

Design — every existing demo figure stays as it was. This module runs after the rest of the demo, on its
own generator (``np.random.default_rng(seed + SEED_OFFSET)``), reads the finished ``tickets`` and
``customers`` frames and only fills ``tickets.description``; no earlier random draw is consumed.

* 90% of complaints carry a text (the rest NULL: the clerk wrote none). Its **topic** follows the
  clerk's category (:data:`CATEGORY_TOPIC`) 85% of the time and is another topic otherwise (clerks
  pick categories loosely: that is why the text is read).
* **Planted rise**: number porting obstructed (``porting``, 携号转网受阻) is 3% of texts everywhere,
  and :data:`RISE_SHARE` of the complaint texts of :data:`RISE_CITY` (珠湾市 Zhuwan) in the last full
  quarter before ``end`` (:func:`rise_quarter`).
* **Planted undictionaried topic**: the self-service app (``app``: login, verification codes,
  crashes) is 5% of texts and has no entry in ``data/complaint_topics.toml``: the discovered topics
  (TF-IDF + NMF, :mod:`metrics.ingest.topics`) should find it.
* **Sentiment**: 90% negative, 10% positive (a complaint that ends with the issue solved and thanks);
  :func:`draw_text` returns the label beside each text.
* **Personal data**: 30% of texts name the customer, a phone number, an ID-card number, an e-mail,
  a bank card or an address (fictional), so that masking (:mod:`metrics.present.masking`) matters.
* 3% of texts are in English.

:func:`draw_text` gives the texts with their labels (topic, sentiment), for tests that check that the
topics and sentiment are recovered; :func:`draw_descriptions` is what the generator stores.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from metrics.demo.util import Clock, pick

SEED_OFFSET = 20_020  # this module's own generator: seed + this
TEXT_SHARE = 0.90
RISE_CITY = 3  # 珠湾市 Zhuwan
RISE_TOPIC = "porting"
BASE_PORTING, RISE_SHARE, APP_SHARE = 0.03, 0.30, 0.05
POSITIVE_SHARE = 0.10  # texts that end well (the issue was solved, thanks); the others are negative
CATEGORY_TOPIC = {"billing": "billing", "network_quality": "network_quality", "fault_repair": "fault_repair",
                  "service_attitude": "service_attitude", "value_added": "value_added", "tariff": "tariff"}
TOPICS = ("billing", "network_quality", "fault_repair", "service_attitude", "value_added", "tariff",
          "porting", "app")

# the core sentence of each topic (Chinese), {n}: an amount or a count
CORE: dict[str, tuple[str, ...]] = {
    "billing": ("这个月话费账单多扣了{n}元，我根本没用那么多流量", "账单上有一笔{n}元的费用我看不懂，乱扣费",
                "上个月已经缴费了还提示欠费停机，重复扣费{n}元", "扣费明细和实际使用对不上，多收了{n}元",
                "自动扣款扣了两次，一共{n}元，要求退费"),
    "network_quality": ("家里手机信号很差，打电话经常断线", "最近网速特别慢，4G信号时有时无，视频根本打不开",
                        "小区里没有信号，5G网络一直连不上", "上网很卡，晚上网速只有{n}K",
                        "通话质量差，经常听不清对方说话，掉线{n}次"),
    "fault_repair": ("宽带断网{n}天了，报修以后一直没人上门维修", "光猫亮红灯，宽带连不上，师傅说来修又没来",
                     "固话没有声音，报障{n}次都没有修好", "宽带故障反复出现，维修人员上门后还是断网"),
    "service_attitude": ("客服态度很差，说话不耐烦还挂我电话", "营业厅工作人员态度恶劣，推诿扯皮",
                         "打了{n}次客服热线都没人处理，一直让我等", "客服人员敷衍了事，答应回电话却没有回"),
    "value_added": ("莫名其妙被订购了增值业务，每月扣{n}元", "没有同意就开通了彩铃和视频会员，要求退订",
                    "收到短信说订购了{n}元的流量包，我从来没有订过", "增值服务无法退订，一直在扣钱"),
    "tariff": ("套餐资费太贵，办理的时候说的优惠没有兑现", "宣传的{n}元套餐实际收费更高，资费不透明",
               "合约到期后套餐自动变成更贵的资费", "想换一个便宜的套餐，营业员说不能改套餐"),
    "porting": ("我要办理携号转网，一直说我不符合条件", "申请携号转网被拒绝，说有合约限制，不给授权码",
                "携号转网办了{n}次都没有成功，故意设置障碍", "转网需要的授权码一直收不到，不让我携号转网"),
    "app": ("掌上营业厅APP登录不了，验证码一直收不到", "手机营业厅APP总是闪退，无法查询余额",
            "APP登录后页面空白，闪退了{n}次", "营业厅APP验证码收不到，没法登录办理业务"),
}
CORE_EN: dict[str, tuple[str, ...]] = {
    "billing": ("I was overcharged {n} yuan on my bill this month",
                "there is a charge of {n} yuan on my bill I never used"),
    "network_quality": ("the mobile signal at home is very weak and calls keep dropping",
                        "the network speed is extremely slow, 4G signal comes and goes"),
    "fault_repair": ("my broadband has been down for {n} days and no engineer came to repair it",
                     "the fiber modem shows a red light and the repair visit never happened"),
    "service_attitude": ("the hotline agent was rude and hung up on me", "the staff at the store were impolite"),
    "value_added": ("a value-added service subscription was added without my consent",
                    "I cannot unsubscribe the ringtone service"),
    "tariff": ("the plan price is higher than promised when I signed up",
               "the tariff changed to a more expensive plan"),
    "porting": ("my number porting request was refused again", "they will not give me the code for number porting"),
    "app": ("the self-service app crashes and the login code never arrives", "I cannot log in to the app"),
}
OPENING = ("", "", "你好，", "您好，", "我是老用户了，", "我想投诉一下，")
NEGATIVE_END = ("非常不满意！", "太失望了，", "请尽快处理。", "希望给个说法。", "再不解决我就向工信部申诉。",
                "这已经是第{n}次反映了，", "很生气，", "要求赔偿。")
NEGATIVE_END = NEGATIVE_END + ("麻烦帮忙查一下。", "请核实一下。", "请告知处理进度。")
POSITIVE_END = ("后来客服帮我处理好了，非常感谢！", "不过问题已经解决了，服务很好，谢谢。",
                "后来工作人员很耐心，已经满意了。")
NEGATIVE_EN = (" Very disappointed.", " Please fix this quickly.", " Terrible service.", " Please check.")
POSITIVE_EN = (" But it was solved later, thank you.",)
SURNAMES = tuple("陈李黄张梁林刘吴罗何郑杨谢周邓")
GIVEN = ("伟", "芳", "娜敏", "静", "丽华", "强", "志明", "秀英", "建国", "晓东")
EN_NAMES = ("John Smith", "Mary Chen", "David Wong", "Linda Lee")
STREETS = ("珠江路", "中山大道", "人民路", "解放街", "滨江路")


def rise_quarter(end: dt.date) -> tuple[dt.date, dt.date]:
    """The last full calendar quarter ending on or before ``end``: (first day, last day)."""
    q_first_month = 3 * ((end.month - 1) // 3) + 1
    start = dt.date(end.year, q_first_month, 1)
    nxt = dt.date(end.year + (q_first_month + 3 > 12), (q_first_month + 2) % 12 + 1, 1)
    if end >= nxt - dt.timedelta(days=1):
        return start, nxt - dt.timedelta(days=1)
    prev_last = start - dt.timedelta(days=1)
    return dt.date(prev_last.year, prev_last.month - 2, 1), prev_last


def _fill(rng: np.random.Generator, parts: np.ndarray) -> np.ndarray:
    """Replace ``{n}`` in each string by a small random number (vectorised over the distinct strings)."""
    n = rng.integers(2, 60, len(parts)).astype(str).astype(object)
    s = pd.Series(parts, dtype=object)
    has = s.str.contains("{n}", regex=False).to_numpy()
    out = s.to_numpy(dtype=object).copy()
    if has.any():
        out[has] = [t.replace("{n}", k) for t, k in zip(out[has], n[has], strict=True)]
    return out


def _personal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A piece of personal data per row (Chinese), of one of seven kinds, fictional."""
    kind = rng.integers(0, 8, n)
    digits = lambda k: np.array(["".join(map(str, r)) for r in rng.integers(0, 10, (n, k))], dtype=object)  # noqa: E731
    d8, d4, d16 = digits(8), digits(4), digits(16)
    mobile = pick(("138", "139", "186", "150", "177"), rng.integers(0, 5, n))
    name = pick(SURNAMES, rng.integers(0, len(SURNAMES), n)) + pick(GIVEN, rng.integers(0, len(GIVEN), n))
    sur = pick(SURNAMES, rng.integers(0, len(SURNAMES), n))
    out = np.empty(n, dtype=object)
    forms = [
        "我叫" + name + "，",
        "我的电话是" + mobile + d8 + "，",
        "联系电话：" + mobile + "-" + d4 + "-" + pd.Series(d8).str[:4].to_numpy(dtype=object) + "，",
        "身份证号" + "4401" + d8 + d4 + pd.Series(d16).str[:1].to_numpy(dtype=object) + "X，",
        "邮箱user" + d4 + "@example.com，",
        "扣款银行卡号6222" + pd.Series(d16).str[:12].to_numpy(dtype=object) + "，",
        "地址：珠湾市香湾区" + pick(STREETS, rng.integers(0, len(STREETS), n)) + d4.astype(str) + "号302室，",
        sur + "先生，座机020-" + d8 + "，",
    ]
    for k, form in enumerate(forms):
        out[kind == k] = form[kind == k]
    return out


def draw_text(seed: int, clock: Clock, tickets: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Per ticket (same index as ``tickets``): ``description`` (None for tickets without text),
    ``topic`` (the planted topic, None without text) and ``sentiment`` ('negative' or 'positive',
    None without text). Deterministic for (seed, tickets, customers)."""
    rng = np.random.default_rng(seed + SEED_OFFSET)
    n = len(tickets)
    out = pd.DataFrame({"description": pd.Series([None] * n, dtype=object, index=tickets.index),
                        "topic": pd.Series([None] * n, dtype=object, index=tickets.index),
                        "sentiment": pd.Series([None] * n, dtype=object, index=tickets.index)})
    has = (tickets["kind"].to_numpy() == "complaint") & (rng.random(n) < TEXT_SHARE)
    idx = np.flatnonzero(has)
    m = len(idx)
    if m == 0:
        return out
    cat = tickets["category"].to_numpy(dtype=object)[idx]
    topic = pd.Series(cat).map(CATEGORY_TOPIC).fillna("billing").to_numpy(dtype=object)
    other = rng.random(m) >= 0.85
    dict_topics = list(CATEGORY_TOPIC.values())
    topic[other] = pick(dict_topics, rng.integers(0, len(dict_topics), int(other.sum())))
    city = (tickets["customer_id"].map(customers.set_index("customer_id")["region_id"]).to_numpy()[idx] // 100)
    opened = pd.to_datetime(tickets["opened_at"].to_numpy()[idx]).normalize()
    q_start, q_end = rise_quarter(clock.end)
    in_rise = (city == RISE_CITY) & (opened >= pd.Timestamp(q_start)) & (opened <= pd.Timestamp(q_end))
    u = rng.random(m)
    porting_p = np.where(in_rise, RISE_SHARE, BASE_PORTING)
    topic[u < porting_p] = "porting"
    topic[(u >= porting_p) & (u < porting_p + APP_SHARE)] = "app"
    mood = np.where(rng.random(m) < POSITIVE_SHARE, "positive", "negative").astype(object)
    english = rng.random(m) < 0.03
    core = np.empty(m, dtype=object)
    for t in TOPICS:
        sel = topic == t
        zh, en = CORE[t], CORE_EN[t]
        core[sel & ~english] = pick(zh, rng.integers(0, len(zh), int((sel & ~english).sum())))
        core[sel & english] = pick(en, rng.integers(0, len(en), int((sel & english).sum())))
    ends = {("negative", False): NEGATIVE_END, ("positive", False): POSITIVE_END,
            ("negative", True): NEGATIVE_EN, ("positive", True): POSITIVE_EN}
    end = np.empty(m, dtype=object)
    for (md, en_), choices in ends.items():
        sel = (mood == md) & (english == en_)
        end[sel] = pick(choices, rng.integers(0, len(choices), int(sel.sum())))
    opening = pick(OPENING, rng.integers(0, len(OPENING), m))
    personal = np.where(rng.random(m) < 0.30, _personal(rng, m), "").astype(object)
    zh_text = opening + personal + core + "，" + end
    en_name = pick(EN_NAMES, rng.integers(0, len(EN_NAMES), m))
    en_pii = np.where(rng.random(m) < 0.5, "My name is " + en_name + ", call me on +86 139 "
                      + rng.integers(1000, 9999, m).astype(str).astype(object) + " 5678. ", "").astype(object)
    en_text = en_pii + core + "." + end
    text = _fill(rng, np.where(english, en_text, zh_text))
    text = np.array([t.rstrip("，") for t in text], dtype=object)
    out.loc[out.index[idx], "description"] = text
    out.loc[out.index[idx], "topic"] = topic
    out.loc[out.index[idx], "sentiment"] = mood
    return out


def draw_descriptions(seed: int, clock: Clock, tickets: pd.DataFrame,
                      customers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{"tickets": tickets with description}``: the frame the generator stores (issue 20)."""
    out = tickets.copy()
    out["description"] = draw_text(seed, clock, tickets, customers)["description"].to_numpy(dtype=object)
    return {"tickets": out}


__all__ = ["draw_descriptions", "draw_text", "rise_quarter", "RISE_CITY", "RISE_TOPIC", "TOPICS"]
