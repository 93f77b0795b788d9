"""GraphiQL at /graphql: served from our own files only, under a strict CSP."""

from __future__ import annotations

import re


async def test_browsers_get_graphiql_from_vendored_files(client):
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "<script>" not in page.text and "<style" not in page.text  # nothing inline
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) >= 7 and all(url.startswith("/static/graphiql/") for url in assets), assets
    for url in assets:
        response = await client.get(url)
        assert response.status_code == 200 and len(response.content) > 100, url
    assert "//" not in "".join(assets) and "https:" not in page.text  # no other origin, no CDN


async def test_the_page_needs_no_key_but_the_api_does(client):
    assert (await client.get("/graphql", headers={"Accept": "text/html"})).status_code == 200
    api = await client.get("/graphql", params={"query": "{ viewer { kind } }"}, headers={"Accept": "application/json"})
    assert api.status_code == 401
