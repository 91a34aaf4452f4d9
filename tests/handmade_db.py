"""The opening every hand-made test database shares: one province with one city (region 2), its
closure rows and two account managers of that city (1 Li, 2 Wang), inserted on an open connection.
The tests then add the customers and events their hand computation needs."""

from __future__ import annotations

import sqlalchemy as sa

from metrics.model import schema as s


def add_one_city(conn: sa.Connection) -> None:
    """Regions 1 (province) and 2 (city), the region closure, and account managers 1 and 2 in the city."""
    conn.execute(s.regions.insert(), [
        dict(region_id=1, name_en="P", name_zh="省", parent_id=None, level="province"),
        dict(region_id=2, name_en="C", name_zh="市", parent_id=1, level="city")])
    conn.execute(s.region_closure.insert(), [dict(ancestor_id=a, descendant_id=d, ancestor_level=lv, depth=dp)
                                             for a, d, lv, dp in ((1, 1, "province", 0), (2, 2, "city", 0),
                                                                  (1, 2, "province", 1))])
    conn.execute(s.account_managers.insert(), [dict(manager_id=1, name="Li", region_id=2),
                                               dict(manager_id=2, name="Wang", region_id=2)])
