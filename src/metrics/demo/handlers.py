"""Demo ticket handlers (处理人, issue 20), drawn last on their own generator.

Every existing demo column stays as it was: this module runs after the rest of the demo on
``np.random.default_rng(seed + SEED_OFFSET)``, reads the finished ``tickets``, ``customers`` and ``regions``
frames and only adds the ``handler`` column of ``tickets``:

* each city has a small pool of :data:`PER_CITY` complaint handlers (names drawn once per city);
* a complaint is handled by one of its customer's city's pool, picked at random; :data:`UNNAMED_P` of the
  complaints name no handler (NULL: the appeal-risk list then names the customer's account manager);
* other tickets name no handler.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.demo.util import city_of

SEED_OFFSET = 20_040  # the handlers' own generator: seed + this
PER_CITY = 4
UNNAMED_P = 0.1
STAFF_SURNAMES = tuple("王赵孙钱马胡高郭徐韩唐冯")
STAFF_GIVEN = ("晓燕", "海峰", "丽萍", "建华", "雪梅", "国强", "春燕", "文斌", "秀兰", "振宇", "美玲", "立新")


def pools(rng: np.random.Generator, cities: list) -> dict[object, list[str]]:
    """:data:`PER_CITY` distinct handler names per city."""
    names = [s + g for s in STAFF_SURNAMES for g in STAFF_GIVEN]
    return {c: [names[k] for k in rng.choice(len(names), PER_CITY, replace=False)] for c in cities}


def draw_handlers(seed: int, frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The finished ``tickets`` with their ``handler`` column."""
    tickets, customers = frames["tickets"], frames["customers"]
    rng = np.random.default_rng(seed + SEED_OFFSET)
    region_city = city_of(frames["regions"])
    cities = sorted({c for c in region_city.values() if c is not None})
    pool = pools(rng, cities)
    n = len(tickets)
    region = tickets["customer_id"].map(customers.set_index("customer_id")["region_id"]).to_numpy()
    city = np.array([region_city.get(r) for r in region], dtype=object)
    pick, named = rng.integers(0, PER_CITY, n), rng.random(n) >= UNNAMED_P
    complaint = (tickets["kind"] == "complaint").to_numpy()
    handler = np.full(n, None, dtype=object)
    for c in cities:
        sel = complaint & named & (city == c)
        handler[sel] = np.asarray(pool[c], dtype=object)[pick[sel]]
    out = tickets.copy()
    out["handler"] = handler
    return {"tickets": out}


__all__ = ["PER_CITY", "SEED_OFFSET", "UNNAMED_P", "draw_handlers", "pools"]
