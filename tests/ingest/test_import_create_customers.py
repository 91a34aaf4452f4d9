"""``create: customers`` and one header filling two columns (issue 14 item 3): a helpdesk export loads
its tickets in one import with no customers file, the ratings in it load as surveys keeping their
ticket link, and a complaint log without customer ids gets one anonymous customer per ticket. Figures
(tickets by category, CSAT) are checked against pandas on the raw file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from db_snapshot import left_as_found, read
from test_your_data_guide import HELPDESK_FMT, complaint_log, helpdesk

from metrics.backends.swap import writable
from metrics.ingest.importer import ImportFailed, MappingError, import_file, load_mapping
from metrics.model import schema

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
CUSTOMER_DEFAULTS = {"segment": "consumer", "tier": "standard", "acquisition_channel": "web_app",
                     "monthly_revenue": 0}
CATEGORIES = {"Network problem": "network_quality", "Billing": "billing", "Hardware issue": "fault_repair",
              "Tariff question": "tariff", "Account access": "account_access"}


def mapping(tmp: Path, name: str, **parts: object) -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(parts, allow_unicode=True), encoding="utf-8")
    return path


def ticket_mapping(tmp: Path, region_id: int, **extra: object) -> Path:
    """The guide's helpdesk tickets mapping with ``create: customers`` and the customers' defaults."""
    base = yaml.safe_load((EXAMPLES / "helpdesk_tickets.yaml").read_text(encoding="utf-8"))
    base.pop("create", None)
    base["defaults"] = {**base.get("defaults", {}), **CUSTOMER_DEFAULTS, "region_id": region_id}
    return mapping(tmp, "tickets.yaml", **base, create="customers", **extra)


def survey_mapping(tmp: Path, region_id: int) -> Path:
    return mapping(tmp, "surveys.yaml", columns={
        "Ticket ID": ["survey_id", "ticket_id"], "Requester ID": "customer_id", "Ticket Channel": "channel",
        "Solved": "answered_at", "Customer Satisfaction Rating": "csat"},
        values={"channel": {"Email": "email", "Chat": "chat", "Social media": "social_media", "Phone": "hotline"}},
        defaults={"kind": "post_interaction", **CUSTOMER_DEFAULTS, "region_id": region_id},
        formats={"answered_at": HELPDESK_FMT}, create="customers")


@pytest.fixture()
def fresh(tmp_path: Path) -> str:
    """A new DuckDB file holding the guide's regions."""
    url = f"duckdb:///{tmp_path / 'sw.duckdb'}"
    import_file(url, "regions", EXAMPLES / "regions.csv", rejects=False)
    return url


def test_helpdesk_tickets_and_surveys_in_one_import_each(fresh: str, tmp_path: Path) -> None:
    raw = helpdesk()
    raw.to_csv(tmp_path / "helpdesk.csv", index=False)
    tickets_map, surveys_map = ticket_mapping(tmp_path, 21), survey_mapping(tmp_path, 21)
    dry = import_file(fresh, "tickets", tmp_path / "helpdesk.csv", mapping=tickets_map, dry_run=True, rejects=False)
    assert dry.created_customers > 0 and "would be created" in "\n".join(dry.summary())
    assert read(fresh, sa.select(sa.func.count().label("n")).select_from(schema.customers))["n"][0] == 0

    res = import_file(fresh, "tickets", tmp_path / "helpdesk.csv", mapping=tickets_map, rejects=False)
    assert res.rows_read == 160 and res.rows_rejected == 2 and "duplicate_key" not in res.reasons
    assert set(res.reasons) == {"not_datetime", "before"}
    loaded = raw.drop(index=[20, 41])  # the guide's two broken rows
    assert res.created_customers == loaded["Requester ID"].nunique()
    assert f"{res.created_customers} customers created" in "\n".join(res.summary())
    cust = read(fresh, sa.select(schema.customers))
    assert sorted(cust["customer_id"]) == sorted(loaded["Requester ID"].unique())
    assert set(cust["segment"]) == {"consumer"} and set(cust["region_id"]) == {21}
    assert set(cust["name"]) == {str(c) for c in cust["customer_id"]}  # no name default: the id
    # start_date: the earliest ticket of each customer in the file
    opened = pd.to_datetime(loaded["Created"], format=HELPDESK_FMT)
    first = opened.groupby(loaded["Requester ID"]).min().dt.date
    assert cust.set_index("customer_id")["start_date"].to_dict() == first.to_dict()

    tickets = read(fresh, sa.select(schema.tickets.c.category))
    assert tickets["category"].value_counts().to_dict() == \
        loaded["Ticket Subject"].map(CATEGORIES).value_counts().to_dict()

    again = import_file(fresh, "tickets", tmp_path / "helpdesk.csv", mapping=tickets_map, rejects=False)
    assert again.created_customers == 0 and again.inserted == again.updated == 0  # existing ones untouched

    sv = import_file(fresh, "surveys", tmp_path / "helpdesk.csv", mapping=surveys_map, rejects=False)
    assert sv.created_customers == raw.loc[[20, 41], "Requester ID"].isin(loaded["Requester ID"]).eq(False).sum()
    surveys = read(fresh, sa.select(schema.surveys))
    solved = raw[raw["Solved"] != ""]
    assert len(surveys) == len(solved)
    linked = surveys.dropna(subset=["ticket_id"])
    assert (linked["ticket_id"].astype(int) == linked["survey_id"].astype(int)).all()
    assert sorted(surveys.loc[surveys["ticket_id"].isna(), "survey_id"]) == sorted(
        solved.loc[solved["Ticket ID"].isin(raw.loc[[20, 41], "Ticket ID"]), "Ticket ID"])
    assert sv.unlinked == {"ticket_id": len(surveys) - len(linked)}
    ratings = pd.to_numeric(raw["Customer Satisfaction Rating"], errors="coerce").dropna()
    stored = surveys["csat"].dropna()
    assert len(stored) == len(ratings) and (stored >= 4).mean() == pytest.approx((ratings >= 4).mean())


def test_complaint_log_one_anonymous_customer_per_ticket(fresh: str, tmp_path: Path) -> None:
    raw = complaint_log()
    raw.to_csv(tmp_path / "log.csv", index=False)
    log_map = mapping(tmp_path, "log.yaml", columns={
        "工单号": "ticket_id", "申诉类别": "category", "申诉渠道": "channel", "受理日期": "opened_at",
        "办结日期": "resolved_at", "是否重复申诉": "reopened"},
        values={"channel": {"12300网站": "web_app", "12300电话": "hotline"}},
        defaults={"kind": "complaint", "priority": "P2", "name": "匿名申诉人", **CUSTOMER_DEFAULTS},
        create="customers")
    with writable(fresh) as engine, engine.begin() as conn:  # one customer already there: ids go above it
        conn.execute(schema.customers.insert(), [{
            "customer_id": 500, "name": "old", "segment": "business", "tier": "gold", "region_id": 1,
            "acquisition_channel": "hotline", "start_date": pd.Timestamp("2020-01-01").date(),
            "monthly_revenue": 9}])
    res = import_file(fresh, "tickets", tmp_path / "log.csv", mapping=log_map, rejects=False, lang="zh")
    assert res.rows_loaded == 119 and res.created_customers == 119 and res.anonymous_customers
    assert "每行一个匿名客户" in "\n".join(res.summary("zh"))
    cust = read(fresh, sa.select(schema.customers).order_by(schema.customers.c.customer_id))
    assert cust.iloc[0].to_dict()["name"] == "old" and int(cust.iloc[0]["monthly_revenue"]) == 9  # untouched
    new = cust[cust["customer_id"] > 500]
    assert len(new) == 119 and set(new["name"]) == {"匿名申诉人"}
    tickets = read(fresh, sa.select(schema.tickets.c.ticket_id, schema.tickets.c.customer_id,
                                    schema.tickets.c.category, schema.tickets.c.opened_at))
    assert tickets["customer_id"].nunique() == 119 and tickets["customer_id"].min() > 500
    # each anonymous customer sits in the city its appeal names (地市: 广州 finds 广州市) and starts that day
    city = {"深圳": 2, "广州": 3, "东莞": 4}
    by_ticket = raw.set_index("工单号")
    joined = tickets.merge(new, on="customer_id")
    assert (joined["region_id"] == joined["ticket_id"].map(by_ticket["地市"]).map(city)).all()
    assert (joined["start_date"] == pd.to_datetime(joined["opened_at"]).dt.date).all()
    codes = {"计费": "billing", "网络质量": "network_quality", "服务态度": "service_attitude", "资费": "tariff",
             "增值业务": "value_added"}
    assert tickets["category"].value_counts().to_dict() == raw.drop(index=33)["申诉类别"].map(codes)\
        .value_counts().to_dict()
    again = import_file(fresh, "tickets", tmp_path / "log.csv", mapping=log_map, rejects=False)
    assert again.created_customers == 0 and again.updated == 0  # a loaded appeal keeps its customer


def test_refusals(tmp_path: Path, fresh: str) -> None:
    with pytest.raises(MappingError, match="only 'customers'"):
        load_mapping(mapping(tmp_path, "a.yaml", create="tickets"))
    with pytest.raises(MappingError, match="not customers"):
        load_mapping(mapping(tmp_path, "b.yaml", create="customers"), "customers")
    with pytest.raises(MappingError, match="not a column of tickets"):
        load_mapping(mapping(tmp_path, "c.yaml", columns={"X": ["ticket_id", "nope"]}), "tickets")
    with pytest.raises(MappingError, match="not a integer value|not a float value"):
        load_mapping(mapping(tmp_path, "d.yaml", create="customers", defaults={"monthly_revenue": "lots"}),
                     "tickets")
    helpdesk().to_csv(tmp_path / "h.csv", index=False)
    base = yaml.safe_load((EXAMPLES / "helpdesk_tickets.yaml").read_text(encoding="utf-8"))
    base.pop("create", None)
    base["defaults"] = {}  # no segment, tier, … for the customers it would create
    with pytest.raises(ImportFailed, match="customers.segment"):
        import_file(fresh, "tickets", tmp_path / "h.csv", mapping=mapping(tmp_path, "e.yaml", **base,
                                                                         create="customers"), dry_run=True)


FIRST_TICKET = 930_000_000
FIRST_CUSTOMER = 930_000_000


def test_on_each_database(db_url: str, tmp_path: Path) -> None:
    """The helpdesk shape on a shared database (left as found): tickets create their customers,
    the ratings keep their ticket link, existing customers untouched."""
    raw = helpdesk(broken=False)
    raw["Ticket ID"] += FIRST_TICKET
    raw["Requester ID"] += FIRST_CUSTOMER
    raw.to_csv(tmp_path / "h.csv", index=False)
    region = int(read(db_url, sa.select(sa.func.min(schema.regions.c.region_id).label("m")))["m"][0])
    before = read(db_url, sa.select(sa.func.count().label("n")).select_from(schema.customers))["n"][0]
    vocab = read(db_url, sa.select(schema.vocabulary))  # the labels the mapping writes are undone
    with left_as_found(db_url, FIRST_TICKET):
        try:
            res = import_file(db_url, "tickets", tmp_path / "h.csv", mapping=ticket_mapping(tmp_path, region),
                              rejects=False, refresh=False)
            assert res.rows_loaded == 160 and res.created_customers == raw["Requester ID"].nunique()
            sv = import_file(db_url, "surveys", tmp_path / "h.csv", mapping=survey_mapping(tmp_path, region),
                             rejects=False, refresh=False)
            assert sv.created_customers == 0 and not sv.unlinked
            s = schema.surveys.c
            surveys = read(db_url, sa.select(s.survey_id, s.ticket_id, s.csat).where(s.survey_id >= FIRST_TICKET))
            assert (surveys["ticket_id"].astype(int) == surveys["survey_id"].astype(int)).all()
            ratings = pd.to_numeric(raw["Customer Satisfaction Rating"], errors="coerce").dropna()
            assert (surveys["csat"].dropna() >= 4).mean() == pytest.approx((ratings >= 4).mean())
            t = schema.tickets.c
            cats = read(db_url, sa.select(t.category, sa.func.count().label("n")).where(t.ticket_id >= FIRST_TICKET)
                        .group_by(t.category))
            assert dict(zip(cats["category"], cats["n"].astype(int), strict=True)) == \
                raw["Ticket Subject"].map(CATEGORIES).value_counts().to_dict()
        finally:
            with writable(db_url) as engine, engine.begin() as conn:
                conn.execute(schema.surveys.delete().where(schema.surveys.c.survey_id >= FIRST_TICKET))
                conn.execute(schema.customers.delete().where(schema.customers.c.customer_id >= FIRST_CUSTOMER))
                conn.execute(schema.vocabulary.delete())
                if len(vocab):
                    conn.execute(schema.vocabulary.insert(), vocab.astype(object).where(vocab.notna(), None)
                                 .to_dict("records"))
    after = read(db_url, sa.select(sa.func.count().label("n")).select_from(schema.customers))["n"][0]
    assert after == before


def test_the_files_customer_columns_go_to_the_customers_it_creates(fresh: str, tmp_path: Path) -> None:
    """A tickets export that carries the customer's tier, segment, region key and start date (as CRM
    exports joined to tickets do): the created customers take them from the file (the first row
    that gives one), the mapping's defaults fill what the file lacks, text keys kept."""
    regions = pd.read_csv(EXAMPLES / "regions.csv", dtype=str)
    region_keys = regions["region_id"].tolist()[:2]
    rows = pd.DataFrame({
        "Ticket": ["T-1", "T-2", "T-3", "T-4", "T-5"],
        "Customer": ["VIP-0001", "VIP-0001", "c-77", "0099", "c-77"],
        "Customer Tier": ["gold", "", "silver", "", "standard"],
        "Segment": ["enterprise", "enterprise", "consumer", "", "consumer"],
        "Region": [region_keys[0], region_keys[0], region_keys[1], region_keys[1], region_keys[0]],
        "Since": ["03/01/2024", "", "15/06/2023", "", ""],
        "Opened": ["2025-05-02 10:00", "2025-05-01 09:00", "2025-05-03 11:00", "2025-05-04 12:00",
                   "2025-05-05 13:00"],
    })
    path = tmp_path / "tickets.csv"
    rows.to_csv(path, index=False)
    m = mapping(tmp_path, "m.yaml", create="customers",
                columns={"Ticket": "ticket_id", "Customer": "customer_id", "Customer Tier": "tier",
                         "Segment": "segment", "Region": "region_id", "Since": "start_date", "Opened": "opened_at"},
                formats={"start_date": "%d/%m/%Y"},
                defaults={"channel": "hotline", "kind": "complaint", "category": "billing", "priority": "P2",
                          "tier": "standard", "segment": "consumer", "acquisition_channel": "hotline",
                          "monthly_revenue": 0})
    result = import_file(fresh, "tickets", path, mapping=m, rejects=False)
    assert result.rows_rejected == 0 and result.created_customers == 3, result.problems
    from metrics.query.warehouse import Warehouse

    wh = Warehouse.open(fresh)
    try:
        c = schema.customers
        got = wh.show_keys(wh.read(sa.select(c.c.customer_id, c.c.tier, c.c.segment, c.c.region_id, c.c.start_date,
                                             c.c.name)), {"customer_id": "customers", "region_id": "regions"})
    finally:
        wh.engine.dispose()
    got = got.set_index("customer_id")
    assert got.loc["VIP-0001", ["tier", "segment", "region_id"]].tolist() == ["gold", "enterprise", region_keys[0]]
    assert str(got.loc["VIP-0001", "start_date"]) == "2024-01-03"  # the file's, not the earliest ticket's
    assert got.loc["c-77", ["tier", "segment", "region_id"]].tolist() == ["silver", "consumer", region_keys[1]]
    assert str(got.loc["c-77", "start_date"]) == "2023-06-15"
    # the file gives nothing for 0099's tier or segment or start: the defaults, the earliest ticket
    assert got.loc["0099", ["tier", "segment"]].tolist() == ["standard", "consumer"]
    assert str(got.loc["0099", "start_date"]) == "2025-05-04"
    assert got.loc["0099", "name"] == "0099"  # its key as written, leading zeros kept
