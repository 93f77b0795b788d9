"""An endpoint's page: records under a Test / Live switch, paging, a record's detail, exports, the chart.

Records are sent the way partners send them (a key, over /graphql); the
pages read them back as `people` of workspace A. The chart's drawing is a
pure function, tested without a request at the end.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from server.dashboard import chart, records
from tests.conftest import CREATE, CREATE_MANY, gql_ok, issue
from tests.dashboard.conftest import Html
from tests.test_pages import secure_page

DETAIL = re.compile(r'href="(/w/[^"]+/records/(rec_[^"]+))"')


def urls(world) -> dict[str, str]:
    base = f"/w/{world.a.workspace}/endpoints/{world.a.orders}"
    return {"page": base, "live": base + "?environment=LIVE", "csv": base + "/export.csv", "json": base + "/export.json"}


async def send(client, key: str, endpoint: str, *data: dict) -> list[dict]:
    return (await gql_ok(client, key, CREATE_MANY, {"endpoint": endpoint, "data": list(data)}))["createRecords"]


@pytest.fixture
async def sent(client, world) -> dict[str, list[str]]:
    """Two test records from Acme and one from Globex, one live record from Acme: their ids."""
    globex_test = await issue(world.a, partner=world.a.globex, env="test")
    test = await send(client, world.a.keys["test"], world.a.orders, {"customer": "Ada", "amount": 1}, {"customer": "Bob", "amount": 2, "note": "n"})
    test += await send(client, globex_test, world.a.orders, {"customer": "Cyd", "amount": 3})
    live = await send(client, world.a.keys["live"], world.a.orders, {"customer": "Lin", "amount": 4})
    return {"test": [r["id"] for r in test], "live": [r["id"] for r in live]}


def record_ids(html: str) -> list[str]:
    return [record_id for _, record_id in DETAIL.findall(html)]


# --- the page and its switch ---------------------------------------------------------------


async def test_the_page_shows_test_records_by_default_and_says_so(people_client, people, world, sent):
    response = await people_client.get(urls(world)["page"], people.viewer)
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    secure_page(response)
    html = Html(response.text)
    assert "<title>orders · TEST records · threemin</title>" in response.text
    assert 'class="env-banner env-banner-test"' in response.text and "TEST Sandbox data, sent with test keys" in html.text
    assert record_ids(response.text) == list(reversed(sent["test"]))  # newest first
    assert sent["live"][0] not in response.text
    assert "Acme" in html.text and "Globex" in html.text and "Lin" not in html.text
    assert re.search(r'href="[^"]+\?environment=TEST" class="env-tab env-tab-test" aria-current="page"', response.text)


async def test_the_live_switch_shows_only_live_records(people_client, people, world, sent):
    response = await people_client.get(urls(world)["live"], people.viewer)
    assert response.status_code == 200
    assert "<title>orders · LIVE records · threemin</title>" in response.text
    assert 'class="env-banner env-banner-live"' in response.text and "env-banner-test" not in response.text
    assert record_ids(response.text) == sent["live"]
    assert not set(sent["test"]) & set(re.findall(r"rec_\w+", response.text))
    assert re.search(r'class="env-tab env-tab-live" aria-current="page"', response.text)


async def test_an_unknown_environment_shows_test_and_says_so(people_client, people, world, sent):
    response = await people_client.get(urls(world)["page"] + "?environment=both", people.viewer)
    assert "TEST records" in response.text and record_ids(response.text) == list(reversed(sent["test"]))


async def test_owners_get_the_edit_button_and_others_do_not(people_client, people, world):
    edit = f"{urls(world)['page']}/edit"
    assert edit in Html((await people_client.get(urls(world)["page"], people.owner)).text).links
    for person in (people.admin, people.viewer):
        html = Html((await people_client.get(urls(world)["page"], person)).text)
        assert edit not in html.links and html.actions == ["/logout"]


async def test_with_no_records_the_page_says_how_to_send_one(people_client, people, world):
    response = await people_client.get(urls(world)["page"], people.admin)
    text = Html(response.text).text
    assert "No test records yet. Issue a partner a test key for this endpoint" in text
    assert "No test records in the last 14 days." in text
    assert f"/w/{world.a.workspace}/keys/new?endpoint={world.a.orders}&environment=TEST" in Html(response.text).links
    assert "$THREEMIN_KEY" in response.text and world.a.orders in response.text  # how to send data
    assert "tm_test_" in response.text and world.a.keys["test"] not in response.text


async def test_the_chart_counts_todays_records_per_partner(people_client, people, world, sent):
    response = await people_client.get(urls(world)["page"], people.viewer)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in response.text
    assert "Records per day per partner, last 14 days (Test)" in response.text
    assert "3 records from" in response.text and "Acme: 2, Globex: 1" in response.text
    today = datetime.now(UTC).date().isoformat()
    assert re.search(rf"<th scope=\"row\">{today}</th><td>2</td><td>1</td><td>3</td>", response.text)  # the table fallback


# --- paging ----------------------------------------------------------------------------------


async def test_paging_follows_the_api_cursors_forward_and_back(people_client, people, world, client):
    created = await send(client, world.a.keys["test"], world.a.orders, *({"customer": f"c{i}", "amount": i} for i in range(60)))
    newest_first = [r["id"] for r in reversed(created)]
    size = records.PAGE_SIZE
    first = await people_client.get(urls(world)["page"], people.viewer)
    assert record_ids(first.text) == newest_first[:size]
    next_url = re.search(r'id="records-next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = await people_client.get(next_url, people.viewer)
    assert record_ids(second.text) == newest_first[size : 2 * size] and "page 2" in second.text
    third_url = re.search(r'id="records-next" href="([^"]+)"', second.text).group(1).replace("&amp;", "&")
    third = await people_client.get(third_url, people.viewer)
    assert record_ids(third.text) == newest_first[2 * size :] and 'id="records-next"' not in third.text
    newer_url = re.search(r'id="records-newer" href="([^"]+)"', third.text).group(1).replace("&amp;", "&")
    assert newer_url == next_url  # "Newer" is the page we came from
    back = re.search(r'id="records-newer" href="([^"]+)"', second.text).group(1).replace("&amp;", "&")
    assert record_ids((await people_client.get(back, people.viewer)).text) == newest_first[:size]


async def test_htmx_paging_gets_just_the_table_and_stays_in_its_environment(people_client, people, world, client):
    await send(client, world.a.keys["live"], world.a.orders, *({"customer": f"c{i}", "amount": i} for i in range(30)))
    first = await people_client.get(urls(world)["live"], people.viewer, htmx="div#record-table")
    assert first.status_code == 200 and first.headers["vary"] == "HX-Request"
    html = Html(first.text)
    assert not html.has_html_element and "record-table" in html.ids and "LIVE records, page 1" in html.text
    next_url = re.search(r'id="records-next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    assert "environment=LIVE" in next_url
    assert re.search(r'hx-get="[^"]+" hx-target="#record-table" hx-swap="outerHTML" hx-push-url="true">Next', first.text)
    second = await people_client.get(next_url, people.viewer, htmx="div#record-table")
    assert len(record_ids(second.text)) == 5 and "LIVE records, page 2" in Html(second.text).text


async def test_a_forged_cursor_is_refused(people_client, people, world):
    response = await people_client.get(urls(world)["page"] + "?after=bm9wZQ", people.viewer)
    assert response.status_code == 400 and "Invalid cursor" in response.text


# --- a record --------------------------------------------------------------------------------


async def test_a_records_detail_shows_every_field_its_times_and_partner(people_client, people, world, sent):
    page = await people_client.get(urls(world)["page"], people.viewer)
    path = DETAIL.search(page.text).group(1)
    response = await people_client.get(path, people.viewer)
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    secure_page(response)
    text = Html(response.text).text
    assert "customer string Cyd" in text and "amount number 3" in text and "note string —" in text
    assert "Partner Globex pt_" in text and "Received 20" in text and "Environment Test" in text
    assert "TEST" in text and "<title>Record rec_" in response.text


async def test_a_live_record_says_live_whatever_the_url_says(people_client, people, world, sent):
    path = f"{urls(world)['page']}/records/{sent['live'][0]}?environment=TEST"
    response = await people_client.get(path, people.viewer)
    assert "env-banner-live" in response.text and "env-banner-test" not in response.text


async def test_a_record_under_another_endpoint_is_not_found(people_client, people, world, sent):
    path = f"/w/{world.a.workspace}/endpoints/{world.a.leads}/records/{sent['test'][0]}"
    assert (await people_client.get(path, people.viewer)).status_code == 404
    assert (await people_client.get(f"{urls(world)['page']}/records/rec_nope", people.viewer)).status_code == 404


# --- export ----------------------------------------------------------------------------------


async def test_csv_export_has_the_fields_then_id_time_and_partner(people_client, people, world, sent):
    response = await people_client.get(urls(world)["csv"], people.viewer)
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    today = datetime.now(UTC).date().isoformat()
    assert response.headers["content-disposition"] == f'attachment; filename="orders-test-{today}.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["customer", "amount", "note", "id", "createdAt", "partnerId"]
    assert [row[3] for row in rows[1:]] == list(reversed(sent["test"]))
    assert rows[1][:3] == ["Cyd", "3", ""] and rows[1][5] == world.a.globex and rows[2][2] == "n"


async def test_csv_export_of_live_has_only_live_records(people_client, people, world, sent):
    response = await people_client.get(urls(world)["csv"] + "?environment=LIVE", people.viewer)
    assert "orders-live-" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert [row[3] for row in rows[1:]] == sent["live"]


async def test_csv_cells_that_a_spreadsheet_would_run_are_defused(people_client, people, world, client):
    for text in ("=HYPERLINK(1)", "+1", "-1+2", "@SUM(A1)", "\tx", "plain", "a=b"):
        await gql_ok(client, world.a.keys["test"], CREATE, {"endpoint": world.a.orders, "data": {"customer": "x", "amount": 0, "note": text}})
    rows = list(csv.reader(io.StringIO((await people_client.get(urls(world)["csv"], people.viewer)).text)))
    assert [row[2] for row in reversed(rows[1:])] == ["'=HYPERLINK(1)", "'+1", "'-1+2", "'@SUM(A1)", "'\tx", "plain", "a=b"]


def test_only_text_is_defused_not_numbers():
    assert records.cell(-5) == "-5" and records.cell("-5") == "'-5" and records.cell(True) == "true"
    assert records.cell({"a": [1]}) == '{"a":[1]}' and records.cell(None) == ""


async def test_json_export_pages_through_every_record(people_client, people, world, client, settings):
    count = settings.max_page_size + 5  # more than one page of the API
    await send(client, world.a.keys["test"], world.a.orders, *({"customer": f"c{i}", "amount": i, "note": "=x"} for i in range(count)))
    response = await people_client.get(urls(world)["json"], people.viewer)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].startswith('attachment; filename="orders-test-')
    items = json.loads(response.text)
    assert len(items) == count and len({i["id"] for i in items}) == count
    assert items[0]["data"] == {"customer": f"c{count - 1}", "amount": count - 1, "note": "=x"}  # JSON is data, not a sheet
    assert set(items[0]) == {"id", "createdAt", "partnerId", "environment", "data"} and items[0]["environment"] == "TEST"
    csv_rows = list(csv.reader(io.StringIO((await people_client.get(urls(world)["csv"], people.viewer)).text)))
    assert len(csv_rows) == count + 1


async def test_an_unknown_export_format_is_not_found(people_client, people, world):
    assert (await people_client.get(urls(world)["page"] + "/export.xlsx", people.viewer)).status_code == 404


# --- who may see what ---------------------------------------------------------------------------


def every_path(world, record_id: str) -> list[str]:
    u = urls(world)
    return [u["page"], u["live"], f"{u['page']}/records/{record_id}", u["csv"], u["json"]]


@pytest.mark.parametrize("role", ["owner", "admin", "viewer"])
async def test_every_role_reads_every_page(people_client, people, world, sent, role):
    for path in every_path(world, sent["test"][0]):
        response = await people_client.get(path, getattr(people, role))
        assert response.status_code == 200, path
        assert response.headers["vary"] == "HX-Request" and response.headers["cache-control"] == "no-store"


async def test_without_a_session_every_page_sends_to_sign_in(people_client, world, sent):
    for path in every_path(world, sent["test"][0]):
        response = await people_client.get(path, None)
        assert response.status_code == 303 and response.headers["location"] == "/login", path


async def test_a_member_of_another_workspace_finds_nothing(people_client, people, world, sent):
    for path in every_path(world, sent["test"][0]):
        assert (await people_client.get(path, people.owner_b)).status_code == 404, path
    # nor through their own workspace's address
    theirs = f"/w/{world.b.workspace}/endpoints/{world.a.orders}"
    assert (await people_client.get(theirs, people.owner_b)).status_code == 404
    assert (await people_client.get(f"/w/{world.b.workspace}/endpoints/{world.b.orders}/records/{sent['test'][0]}", people.owner_b)).status_code == 404


async def test_the_pages_change_nothing_so_post_is_not_allowed(people_client, people, world):
    assert (await people_client.post(urls(world)["page"], people.owner, {})).status_code == 405


# --- the chart, without a request ------------------------------------------------------------------

TODAY = date(2026, 12, 4)


def at(day: int, hour: int = 12, tz: str = "+00:00") -> str:
    return f"2026-12-{day:02d}T{hour:02d}:00:00{tz}"


def test_the_chart_counts_per_utc_day_per_partner_and_ignores_older_rows():
    rows = [
        {"partnerId": "pt_a", "createdAt": at(4)},
        {"partnerId": "pt_a", "createdAt": at(4, 1)},
        {"partnerId": "pt_b", "createdAt": at(3, 23, "-02:00")},  # 4 Dec 01:00 UTC
        {"partnerId": "pt_b", "createdAt": at(2)},
        {"partnerId": "pt_a", "createdAt": "2026-11-20T12:00:00+00:00"},  # 15 days ago: outside
    ]
    drawn = chart.records_per_day(rows, {"pt_a": "Acme", "pt_b": "Bolt"}, today=TODAY, label="Test")
    assert drawn.days[0] == date(2026, 11, 21) and drawn.days[-1] == TODAY and len(drawn.days) == 14
    assert [(s.name, s.counts[-3:]) for s in drawn.series] == [("Acme", (0, 0, 2)), ("Bolt", (1, 0, 1))]
    assert drawn.totals[-1] == 3 and drawn.total == 4
    assert drawn.series[0].colour != drawn.series[1].colour


def test_the_chart_svg_names_itself_and_titles_each_bar():
    rows = [{"partnerId": "pt_a", "createdAt": at(4)}] * 3 + [{"partnerId": "pt_b", "createdAt": at(3)}]
    svg = chart.records_per_day(rows, {"pt_a": "Acme", "pt_b": "Bolt"}, today=TODAY, label="Live").svg
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 720 240" role="img" aria-labelledby="chart-title chart-desc"')
    assert '<title id="chart-title">Records per day per partner, last 14 days (Live)</title>' in svg
    assert '<desc id="chart-desc">4 records from 21 Nov to 4 Dec. By partner: Acme: 3, Bolt: 1.</desc>' in svg
    bars = re.findall(r'<rect [^>]*fill="(#[0-9A-F]{6})"[^>]*><title>([^<]+)</title></rect>', svg)
    assert bars == [(chart.PALETTE[1], "Bolt, 3 Dec: 1 record"), (chart.PALETTE[0], "Acme, 4 Dec: 3 records")]
    assert "style=" not in svg and "<script" not in svg  # the page's CSP allows neither
    assert re.findall(r'text-anchor="end" fill="#57606A">(\d+)</text>', svg) == ["0", "1", "2", "3"]  # the scale


def test_the_busiest_partners_get_a_colour_and_the_rest_are_grouped():
    rows = [{"partnerId": f"pt_{i}", "createdAt": at(4)} for i in range(9) for _ in range(10 - i)]
    drawn = chart.records_per_day(rows, {f"pt_{i}": f"P{i}" for i in range(9)}, today=TODAY)
    assert [s.name for s in drawn.series] == ["P0", "P1", "P2", "P3", "P4", "P5", chart.OTHER]
    assert drawn.series[-1].counts[-1] == 4 + 3 + 2 and drawn.series[-1].colour == chart.OTHER_COLOUR
    assert len({s.colour for s in drawn.series}) == len(drawn.series)


def test_partner_names_are_escaped_and_unknown_partners_named_by_id():
    rows = [{"partnerId": "pt_x", "createdAt": at(4)}, {"partnerId": "pt_gone", "createdAt": at(4)}]
    drawn = chart.records_per_day(rows, {"pt_x": "<b>&Co</b>"}, today=TODAY)
    assert "&lt;b&gt;&amp;Co&lt;/b&gt;" in drawn.svg and "<b>" not in drawn.svg
    assert "Unknown partner pt_gone" in drawn.svg


def test_no_rows_make_an_empty_chart():
    drawn = chart.records_per_day([], {}, today=TODAY, days=7)
    assert drawn.total == 0 and drawn.series == () and len(drawn.days) == 7
    assert "0 records from 28 Nov to 4 Dec. By partner: none." in drawn.svg and "<rect" not in drawn.svg


def test_datetimes_are_accepted_as_well_as_text():
    rows = [{"partnerId": "pt_a", "createdAt": datetime(2026, 12, 4, 0, 30, tzinfo=UTC) - timedelta(hours=1)}]
    assert chart.records_per_day(rows, {}, today=TODAY).series[0].counts[-2:] == (1, 0)
