"""The ServiceWatch data model, defined once as SQLAlchemy Core tables.

Every other module — the metric compiler, the demo generator, import, rollups — refers to these
objects; nothing reflects the database. Types are chosen to behave identically on DuckDB,
PostgreSQL and MariaDB: ``sa.Double`` (not ``Float``, which DuckDB reads as 32-bit), bounded
``String`` lengths (MariaDB needs them), integer keys without autoincrement (DuckDB has none).

Long because it is declarations only, one idea: one file is where a reader finds every table,
column and type of the model in one step (docs/data-model.md describes them).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.dialects.mysql

metadata = sa.MetaData()

REGION_LEVELS = ("province", "city", "district")
TICKET_KINDS = ("complaint", "fault", "request", "inquiry")
SURVEY_KINDS = ("post_interaction", "relationship", "mystery_shopper")


def _id(name: str, *args: object, **kw: object) -> sa.Column:
    """An integer key column (the primary key or a part of it), never autoincremented (DuckDB has none)."""
    return sa.Column(name, sa.Integer, *args, primary_key=True, autoincrement=False, **kw)


def _uuid_key(name: str) -> sa.Column:
    """A text primary key holding a uuid4 hex (32 characters), made by the writer."""
    return sa.Column(name, sa.String(32), primary_key=True)


def _send_columns(*own: sa.Column) -> list[sa.Column]:
    """The columns of a message queued, leased and sent by a worker (metrics.deliver): its state
    (DELIVERY_STATES) and attempts, the table's ``own`` columns, then when to try next (back-off), the
    last error, the lease and when it was sent. Times in UTC."""
    return [
        sa.Column("state", sa.String(8), nullable=False),  # DELIVERY_STATES
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        *own,
        sa.Column("next_try_at", sa.DateTime, nullable=False),  # not before (back-off)
        sa.Column("last_error", sa.String(400), nullable=True),  # one line, never a password or token
        sa.Column("lease_owner", sa.String(80), nullable=True),
        sa.Column("lease_until", sa.DateTime, nullable=True),
        sa.Column("sent_at", sa.DateTime, nullable=True),
    ]


regions = sa.Table(
    "regions",
    metadata,
    _id("region_id"),
    sa.Column("name_en", sa.String(80), nullable=False),
    sa.Column("name_zh", sa.String(80), nullable=False),
    sa.Column("parent_id", sa.Integer, nullable=True),
    sa.Column("level", sa.String(16), nullable=False),
)

# Derived from `regions` on every load: one row per (ancestor, descendant) pair, a region being its
# own ancestor at depth 0. It turns "a region includes its descendants" and "group by region at
# level L" into plain joins on every dialect.
region_closure = sa.Table(
    "region_closure",
    metadata,
    _id("ancestor_id"),
    _id("descendant_id"),
    sa.Column("ancestor_level", sa.String(16), nullable=False),
    sa.Column("depth", sa.Integer, nullable=False),
)

account_managers = sa.Table(
    "account_managers",
    metadata,
    _id("manager_id"),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("region_id", sa.Integer, nullable=False),
)

customers = sa.Table(
    "customers",
    metadata,
    _id("customer_id"),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("segment", sa.String(16), nullable=False),
    sa.Column("tier", sa.String(24), nullable=False),
    sa.Column("region_id", sa.Integer, nullable=False, index=True),
    sa.Column("acquisition_channel", sa.String(24), nullable=False),
    sa.Column("account_manager_id", sa.Integer, nullable=True),
    sa.Column("sla_level", sa.String(16), nullable=True),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=True),
    sa.Column("churn_reason", sa.String(40), nullable=True),
    sa.Column("monthly_revenue", sa.Double, nullable=False),
)

tickets = sa.Table(
    "tickets",
    metadata,
    _id("ticket_id"),
    sa.Column("customer_id", sa.Integer, nullable=False, index=True),
    sa.Column("channel", sa.String(24), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    # where the ticket came from (issue 20), a code from the data: own (or NULL: the operator's own
    # channels), miit (工信部申诉), ca (通信管理局申诉), 12315, media, other; a regulator appeal is a
    # complaint whose source is one of REGULATOR_SOURCES (metrics.analysis.regulator)
    sa.Column("source", sa.String(16), nullable=True),
    sa.Column("category", sa.String(24), nullable=False),
    sa.Column("priority", sa.String(8), nullable=False),
    # the customer's own words (issue 20; any language); masked before it is shown (metrics.present.masking)
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("opened_at", sa.DateTime, nullable=False, index=True),
    sa.Column("first_response_at", sa.DateTime, nullable=True),
    sa.Column("resolved_at", sa.DateTime, nullable=True),
    # the source's status: 'open' or 'resolved' (resolved even without resolved_at: then left out of
    # durations and SLA resolution compliance); NULL: none, derived from resolved_at (model.ticket_status)
    sa.Column("status", sa.String(16), nullable=True),
    sa.Column("response_due_at", sa.DateTime, nullable=True),
    sa.Column("resolution_due_at", sa.DateTime, nullable=True),
    # where the due times came from: 'file' (the loaded data), 'policy' (sla_policies, derived on every
    # refresh: metrics.ingest.due_times), NULL (neither)
    sa.Column("due_source", sa.String(8), nullable=True),
    sa.Column("first_contact_resolved", sa.Boolean, nullable=True),  # NULL: unknown (the source has no such column)
    sa.Column("reopened", sa.Boolean, nullable=True),  # NULL: unknown (the source has no such column)
    sa.Column("escalated", sa.Boolean, nullable=True),  # NULL: unknown (the source has no such column)
    sa.Column("revisited_at", sa.DateTime, nullable=True),
    sa.Column("revisit_satisfied", sa.Boolean, nullable=True),
    sa.Column("compensation", sa.Double, nullable=True),  # NULL: unknown
    sa.Column("outlet_id", sa.Integer, nullable=True),  # the outlet where it was raised (NULL: not at one)
    # who handles the ticket (处理人; issue 20): a name or staff id as the source gives it, NULL: not named
    # (the appeal-risk list then names the customer's account manager, metrics.analysis.appeal_risk)
    sa.Column("handler", sa.String(80), nullable=True),
)

surveys = sa.Table(
    "surveys",
    metadata,
    _id("survey_id"),
    sa.Column("customer_id", sa.Integer, nullable=False, index=True),
    sa.Column("ticket_id", sa.Integer, nullable=True),
    sa.Column("channel", sa.String(24), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("answered_at", sa.DateTime, nullable=False, index=True),
    sa.Column("csat", sa.SmallInteger, nullable=True),
    sa.Column("nps", sa.SmallInteger, nullable=True),
    sa.Column("ces", sa.SmallInteger, nullable=True),
    sa.Column("comment", sa.String(400), nullable=True),
    sa.Column("outlet_id", sa.Integer, nullable=True),  # the outlet it rates (NULL: not at one)
)

sla_policies = sa.Table(
    "sla_policies",
    metadata,
    sa.Column("sla_level", sa.String(16), primary_key=True),
    sa.Column("priority", sa.String(8), primary_key=True),
    sa.Column("response_hours", sa.Double, nullable=False),
    sa.Column("resolution_hours", sa.Double, nullable=False),
    sa.Column("onsite_hours", sa.Double, nullable=True),
    sa.Column("availability_target", sa.Double, nullable=False),
)

services = sa.Table(
    "services",
    metadata,
    _id("service_id"),
    sa.Column("customer_id", sa.Integer, nullable=False, index=True),
    sa.Column("product", sa.String(40), nullable=False),
    sa.Column("sla_level", sa.String(16), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=True),
)

outages = sa.Table(
    "outages",
    metadata,
    _id("outage_id"),
    sa.Column("service_id", sa.Integer, nullable=False, index=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("restored_at", sa.DateTime, nullable=True),
    sa.Column("cause", sa.String(40), nullable=True),
)

billing_monthly = sa.Table(
    "billing_monthly",
    metadata,
    _id("customer_id"),
    sa.Column("month", sa.Date, primary_key=True),
    sa.Column("revenue", sa.Double, nullable=False),
)

targets = sa.Table(
    "targets",
    metadata,
    _id("target_id"),
    sa.Column("metric", sa.String(40), nullable=False),
    sa.Column("region_id", sa.Integer, nullable=True),
    sa.Column("tier", sa.String(24), nullable=True),
    sa.Column("channel", sa.String(24), nullable=True),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("value", sa.Double, nullable=False),
)

# Which of our ticket categories count as which regulator category, per period (issue 20): MIIT's
# categories changed (2012–2020: 用户服务 / 收费争议 / 网络质量; 2022: 服务争议 / 营销、收费、资费争议 /
# 网络质量、信息安全). A ticket opened on day d counts under the row with valid_from <= d and
# (valid_to IS NULL or d <= valid_to); the codes' names come from the catalogue ([regulator_category]).
REGULATOR_SOURCES = ("miit", "ca")
regulator_categories = sa.Table(
    "regulator_categories",
    metadata,
    sa.Column("authority", sa.String(8), primary_key=True),  # a code from the data: miit, ofcom, tio, …
    sa.Column("valid_from", sa.Date, primary_key=True),
    sa.Column("valid_to", sa.Date, nullable=True),  # last day it applies (inclusive); NULL: still in force
    sa.Column("category", sa.String(24), primary_key=True),  # our ticket category code
    sa.Column("regulator_category", sa.String(32), nullable=False),  # the authority's category code
)

# The user base the regulator counts (issue 20, optional): users per month, region and base as the
# operator reports them. When absent, the denominators are the customers active at the month's end.
USER_BASES = ("mobile", "fixed", "broadband", "all")
user_base = sa.Table(
    "user_base",
    metadata,
    sa.Column("month", sa.Date, primary_key=True),  # first day of the month; the count at its end
    sa.Column("region_id", sa.Integer, primary_key=True),
    sa.Column("base", sa.String(16), primary_key=True),  # USER_BASES
    sa.Column("users", sa.BigInteger, nullable=False),
)

# Account managers' visits and calls (走访 / 电话) to their customers (issue 18): one row per contact.
visits = sa.Table(
    "visits",
    metadata,
    _id("visit_id"),
    sa.Column("customer_id", sa.Integer, nullable=False, index=True),
    sa.Column("manager_id", sa.Integer, nullable=False, index=True),
    sa.Column("visit_date", sa.Date, nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),  # a code from the data: visit, call, …
    sa.Column("purpose", sa.String(200), nullable=False),  # what was asked (free text)
    sa.Column("outcome", sa.String(200), nullable=False),  # what came of it (free text)
    sa.Column("next_step", sa.String(200), nullable=True),
)

# Retention actions on at-risk customers (issue 18) and the random holdout recorded beside them:
# ``arm`` 'treated' (the action is carried out) or 'holdout' (eligible, drawn at random, left alone:
# the comparison that measures the effect, metrics.churn.action_effect); the risk at assignment.
ACTION_ARMS = ("treated", "holdout")
ACTION_STATUSES = ("open", "done", "cancelled")
retention_actions = sa.Table(
    "retention_actions",
    metadata,
    _id("action_id"),
    sa.Column("customer_id", sa.Integer, nullable=False, index=True),
    sa.Column("action_type", sa.String(24), nullable=False),  # a code from the data: care_visit, call, …
    sa.Column("owner", sa.Integer, nullable=True),  # the account manager (manager_id) responsible
    sa.Column("created_date", sa.Date, nullable=False),
    sa.Column("due_date", sa.Date, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # ACTION_STATUSES
    sa.Column("outcome", sa.String(200), nullable=True),
    sa.Column("cost", sa.Double, nullable=True),  # CNY; NULL: unknown
    sa.Column("arm", sa.String(8), nullable=False),  # ACTION_ARMS
    sa.Column("risk_score", sa.Double, nullable=True),  # churn risk at assignment (0-1)
    sa.Column("risk_decile", sa.SmallInteger, nullable=True),  # 1 (lowest) … 10 (highest) at assignment
)

# Service halls and outlets (issue 19): own halls (营业厅), partner halls, agents and franchises —
# ``kind`` is a code from the data —, in a city (``region_id``); the current star rating and its date.
outlets = sa.Table(
    "outlets",
    metadata,
    _id("outlet_id"),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # a code from the data: own_hall, partner_hall, agent, …
    sa.Column("region_id", sa.Integer, nullable=False, index=True),  # the city
    sa.Column("address", sa.String(200), nullable=True),
    sa.Column("opened_on", sa.Date, nullable=True),
    sa.Column("vip_room", sa.Boolean, nullable=True),  # a VIP room / green channel (NULL: unknown)
    sa.Column("stars", sa.SmallInteger, nullable=True),  # the current star rating, 1-5
    sa.Column("stars_since", sa.Date, nullable=True),
)

# A hall's queue-management system (排队叫号系统): one row per ticket drawn. Waiting time =
# called_at - arrived_at; service time = ended_at - started_at; abandoned: left before being served.
queue_records = sa.Table(
    "queue_records",
    metadata,
    _id("queue_id"),
    sa.Column("outlet_id", sa.Integer, nullable=False, index=True),
    sa.Column("queue_no", sa.String(16), nullable=False),  # the number the hall's machine printed (A023)
    sa.Column("service_type", sa.String(24), nullable=False),  # a code from the data: payment, sim_card, …
    sa.Column("customer_id", sa.Integer, nullable=True),  # NULL: not identified (no tier)
    sa.Column("arrived_at", sa.DateTime, nullable=False, index=True),
    sa.Column("called_at", sa.DateTime, nullable=True),
    sa.Column("started_at", sa.DateTime, nullable=True),
    sa.Column("ended_at", sa.DateTime, nullable=True),
    sa.Column("abandoned", sa.Boolean, nullable=False),
)

# Mystery-shopper audits (神秘顾客暗访) of outlets and their checklist items (the checklist is data):
# an audit's score (0-100) = 100 × Σ score / Σ max_score over its items.
audits = sa.Table(
    "audits",
    metadata,
    _id("audit_id"),
    sa.Column("outlet_id", sa.Integer, nullable=False, index=True),
    sa.Column("audited_on", sa.Date, nullable=False),
    sa.Column("auditor", sa.String(80), nullable=True),  # the audit firm or person
)
audit_items = sa.Table(
    "audit_items",
    metadata,
    _id("audit_id"),
    sa.Column("item", sa.String(24), primary_key=True),  # a code from the data: greeting, waiting, …
    sa.Column("score", sa.Double, nullable=False),
    sa.Column("max_score", sa.Double, nullable=False),
)

# Derived on every load: one row per calendar month covering the data, so that customer-based
# metrics (exposure, active customers, availability) can be grouped by month on every dialect.
calendar_months = sa.Table(
    "calendar_months",
    metadata,
    sa.Column("month_start", sa.Date, primary_key=True),
    sa.Column("month_end", sa.Date, nullable=False),  # first day of the next month (exclusive)
)

# Key/value facts about the load: as_of, last refresh, demo seed.
CHURN_STALE_KEY = "churn_scores_stale"  # set by an import of the churn model's inputs, cleared by a fit
SNAPSHOT_DATE_KEY = "snapshot_date"  # the date of the last customers snapshot imported (--snapshot-date)
DATA_VERSION_KEY = "data_version"  # new on every load, refresh, import and churn fit (dashboard caches)
# Spark: the local DuckDB file holding a copy of the rollups and the small tables they join
# (metrics.backends.spark.local_copy); views read it instead of a Thrift round trip
LOCAL_ROLLUPS_KEY = "local_rollups"

meta = sa.Table(
    "sw_meta",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)


def has_column(conn: sa.Connection, column: sa.Column) -> bool:
    """Whether the database's table of ``column`` has it (one created before the column has not)."""
    return column.name in {c["name"] for c in sa.inspect(conn).get_columns(column.table.name)}


def add_column(engine: sa.Engine, column: sa.Column) -> bool:
    """Add ``column`` to its table in a database created before it, in its own transaction (MariaDB
    commits DDL at once, so never inside a load's or an import's). True when it was added."""
    with engine.begin() as conn:
        if column.table.name not in sa.inspect(conn).get_table_names() or has_column(conn, column):
            return False
        spec = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
        table = conn.dialect.identifier_preparer.format_table(column.table)
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {spec}"))
    return True


def new_data_version() -> str:
    """A fresh ``sw_meta.data_version`` value (Spark's rewrite of ``sw_meta`` sets it in a frame)."""
    import uuid

    return uuid.uuid4().hex


def bump_data_version(conn: sa.Connection) -> None:
    """A new ``sw_meta.data_version`` in the caller's transaction: the dashboard's caches, keyed by it
    on server databases, then compute views again (a DuckDB file is followed by its modification time)."""
    conn.execute(meta.delete().where(meta.c.key == DATA_VERSION_KEY))
    conn.execute(meta.insert(), [{"key": DATA_VERSION_KEY, "value": new_data_version()}])


# One row per import run (``servicewatch import`` and the Data page): who, when, which file, how many
# rows were read, loaded and rejected. Not a data table: a full reload (``replace_all``) starts it anew.
import_log = sa.Table(
    "import_log",
    metadata,
    _uuid_key("import_id"),
    sa.Column("user", sa.String(80), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=False),
    sa.Column("table_name", sa.String(40), nullable=False),
    sa.Column("file", sa.String(400), nullable=False),
    sa.Column("rows_read", sa.BigInteger, nullable=False),
    sa.Column("rows_loaded", sa.BigInteger, nullable=False),
    sa.Column("rows_rejected", sa.BigInteger, nullable=False),
    sa.Column("rows_inserted", sa.BigInteger, nullable=True),
    sa.Column("rows_updated", sa.BigInteger, nullable=True),
    sa.Column("dry_run", sa.Boolean, nullable=False),
)

# Display names and order of the codes of the open vocabularies (tier, channel, priority, category,
# segment, kind, sla_level, …): one row per (dimension, code). Filled by the demo, by imports (new
# codes of a file, and a mapping file's ``labels:``) and by full loads; read once per Warehouse
# (metrics.model.vocabulary). Empty labels fall back to the catalogue, then to the code itself.
vocabulary = sa.Table(
    "vocabulary",
    metadata,
    sa.Column("dimension", sa.String(24), primary_key=True),
    sa.Column("code", sa.String(40), primary_key=True),
    sa.Column("label_zh", sa.String(80), nullable=True),
    sa.Column("label_en", sa.String(80), nullable=True),
    sa.Column("sort_order", sa.Integer, nullable=True),
)

# The source's own keys where they are not plain whole numbers: ``7590-VHVEG``, an e-mail, ``0755``,
# a 64-bit id. Inside, every entity keeps an INTEGER id (joins, rollups and filters stay integer):
# a key written as a plain whole number that INTEGER holds is its own id; any other key gets a
# negative id, recorded here once per (entity, key) by the importer (metrics.ingest.importer.keys)
# and shown as written wherever an id is shown (metrics.query.keys).
source_keys = sa.Table(
    "source_keys",
    metadata,
    sa.Column("entity", sa.String(24), primary_key=True),  # the table: customers, tickets, regions …
    _id("id"),  # negative
    # as the source wrote it; compared case-sensitively everywhere (MariaDB's default collation is not)
    sa.Column("key", sa.String(64).with_variant(sa.dialects.mysql.VARCHAR(64, collation="utf8mb4_bin"),
                                                "mysql", "mariadb"), nullable=False),
    sa.UniqueConstraint("entity", "key", name="uq_source_keys_entity_key"),
)

DATA_TABLES = (
    regions, account_managers, customers, tickets, surveys, sla_policies,
    regulator_categories, user_base,
    services, outages, billing_monthly, targets, vocabulary, visits, retention_actions,
    outlets, queue_records, audits, audit_items,
)
DERIVED_TABLES = (region_closure, calendar_months, meta)
KEY_TABLES = (source_keys,)  # data, written by imports; not importable itself

# The audit trail (metrics.access.audit): its own MetaData, so that a full reload of the data
# (``replace_all`` drops and recreates ``metadata``) never erases it.
audit_metadata = sa.MetaData()
audit_log = sa.Table(
    "audit_log",
    audit_metadata,
    _uuid_key("audit_id"),
    sa.Column("at", sa.DateTime, nullable=False, index=True),  # UTC
    sa.Column("user", sa.String(80), nullable=False),
    sa.Column("action", sa.String(24), nullable=False),  # metrics.access.audit.ACTIONS
    sa.Column("detail", sa.Text, nullable=False),  # JSON: filters, rows, file …
)

# Subscriptions and their deliveries (metrics.deliver): like the audit trail, their own MetaData kept
# where the audit log is (metrics.access.audit.audit_url: an SQLite file beside a DuckDB data file,
# which is single-writer and held read-only by the dashboard), so that a full reload never erases
# them and two worker processes can lease rows; created on first use (``checkfirst``) in older stores.
delivery_metadata = sa.MetaData()
subscriptions = sa.Table(
    "subscriptions",
    delivery_metadata,
    sa.Column("subscription_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("owner", sa.String(80), nullable=False),  # a user of the users file, or os:<login>
    sa.Column("recipients", sa.Text, nullable=False),  # JSON list of user names
    sa.Column("webhooks", sa.Text, nullable=False, default="[]"),  # JSON list of {"kind", "url"}
    sa.Column("filters", sa.Text, nullable=False),  # the URL query string form (metrics.model.links)
    sa.Column("section", sa.String(40), nullable=True),  # the page or section subscribed from
    sa.Column("format", sa.String(8), nullable=False),  # pdf | pptx | digest
    sa.Column("schedule", sa.String(24), nullable=False),  # daily | weekly:MON | monthly:1
    sa.Column("at_time", sa.String(5), nullable=False),  # HH:MM, local time in ``time_zone``
    sa.Column("time_zone", sa.String(64), nullable=False, default="Asia/Shanghai"),
    sa.Column("created_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("last_due_at", sa.DateTime, nullable=True),  # UTC: the newest occurrence queued
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
)
DELIVERY_STATES = ("queued", "sending", "sent", "failed")
deliveries = sa.Table(
    "deliveries",
    delivery_metadata,
    _uuid_key("delivery_id"),
    sa.Column("subscription_id", sa.Integer, nullable=False, index=True),
    sa.Column("recipient", sa.String(120), nullable=False),  # user name, or webhook:<n>
    sa.Column("due_at", sa.DateTime, nullable=False),  # UTC: the schedule's occurrence
    *_send_columns(),
    sa.UniqueConstraint("subscription_id", "recipient", "due_at", name="uq_deliveries_once"),
)
DELIVERY_TABLES = (subscriptions, deliveries)

# Alert rules and the alerts they fired (metrics.alerts): their own MetaData, like the audit trail, so a
# full reload of the data (``replace_all``) keeps the rules and their history; created on first use
# (``create_all(checkfirst)``), so a database made before them gets them. Stored where the audit trail
# is (metrics.alerts.alerts_url): a DuckDB data file, which dashboards hold read-only and writers copy
# whole, keeps them in an SQLite file beside it.
alert_metadata = sa.MetaData()
alert_rules = sa.Table(
    "alert_rules",
    alert_metadata,
    sa.Column("rule_id", sa.String(80), primary_key=True),
    sa.Column("metric", sa.String(40), nullable=False),  # metrics.model.registry id
    sa.Column("filters", sa.Text, nullable=False),  # JSON: the slice as a link's query (metrics.model.links)
    sa.Column("owner", sa.String(80), nullable=False),
    sa.Column("recipients", sa.Text, nullable=False),  # JSON list of user names
    sa.Column("kind", sa.String(16), nullable=False),  # control | target | change
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("run_rules", sa.String(120), nullable=True),  # control: the run rules that alert (NULL: all four)
    sa.Column("grain", sa.String(8), nullable=True),  # month (NULL) | week: the period each check judges
    sa.Column("webhooks", sa.Text, nullable=True),  # JSON list of {"kind", "url"}: group chats told of its alerts
    sa.Column("baseline", sa.String(24), nullable=True),  # control: "FIRST:LAST" periods of the limits (NULL: default)
    sa.Column("against", sa.String(8), nullable=True),  # change: prev (NULL) | yoy, the same period a year before
)
alert_events = sa.Table(
    "alert_events",
    alert_metadata,
    sa.Column("rule_id", sa.String(80), primary_key=True),
    sa.Column("period", sa.Date, primary_key=True),  # first day of the month (or week) judged
    sa.Column("fired_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("limits", sa.Text, nullable=False),  # JSON: centre, lcl, ucl (control), target, lower/upper
    sa.Column("n", sa.Float, nullable=True),
    sa.Column("signal", sa.String(120), nullable=False),  # the control rules fired, "red", "change"
    sa.Column("acknowledged_by", sa.String(80), nullable=True),
    sa.Column("acknowledged_at", sa.DateTime, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
)
# When each rule last ran (for the Alerts page's history): one row per rule.
alert_runs = sa.Table(
    "alert_runs",
    alert_metadata,
    sa.Column("rule_id", sa.String(80), primary_key=True),
    sa.Column("ran_at", sa.DateTime, nullable=False),
    sa.Column("period", sa.Date, nullable=True),
    sa.Column("fired", sa.Boolean, nullable=False),
)
# Each alert event told to each of its rule's recipients once (metrics.deliver.alert_notify): one row
# per (rule, period, recipient), queued, leased and sent like a delivery; the key is the dedup.
alert_notices = sa.Table(
    "alert_notices",
    alert_metadata,
    sa.Column("rule_id", sa.String(80), primary_key=True),
    sa.Column("period", sa.Date, primary_key=True),  # the alert_events row told
    sa.Column("recipient", sa.String(120), primary_key=True),  # user name, or webhook:<n> of the rule
    *_send_columns(sa.Column("queued_at", sa.DateTime, nullable=False)),  # UTC
)
ALERT_TABLES = (alert_rules, alert_events, alert_runs, alert_notices)
