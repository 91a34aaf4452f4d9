"""Failed deliveries of subscriptions for the Admin page (:mod:`metrics.deliver`), headers in the
page's language; the reason as recorded (one line, never a password or a webhook token)."""

from __future__ import annotations

import pandas as pd

from metrics.backends.connect import resolve_url
from metrics.deliver import store
from metrics.model.i18n import t

COLUMNS = ("subscription_id", "recipient", "due_at", "attempts", "last_error")


def failed_deliveries(lang: str, limit: int = 500) -> pd.DataFrame:
    """Deliveries in state ``failed`` (retries used up, or nothing a retry could change), newest first."""
    df = store.table(store.engine_for(store.store_url(resolve_url())), ("failed",), limit)
    return df[list(COLUMNS)].rename(columns={c: t(f"page.admin.delivery_col.{c}", lang) for c in COLUMNS})
