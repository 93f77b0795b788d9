"""Ready-to-paste code that sends a record: curl, Python (httpx), JavaScript (fetch).

The endpoint id and an example record are filled in; the key is always read
from the THREEMIN_KEY environment variable, never written into the snippet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

EXAMPLES: dict[str, Any] = {
    "STRING": "text",
    "INTEGER": 1,
    "NUMBER": 9.5,
    "BOOLEAN": True,
    "DATETIME": "2026-12-04T17:00:00Z",
    "EMAIL": "someone@example.com",
    "URL": "https://example.com",
    "JSON": {"any": "value"},
}
MUTATION = "mutation($endpoint: ID!, $data: JSON!) { createRecord(endpoint: $endpoint, data: $data) { id createdAt } }"


@dataclass(frozen=True, slots=True)
class Snippet:
    curl: str
    python: str
    javascript: str


def example(fields: list[dict[str, Any]], writable: list[str] | None = None) -> dict[str, Any]:
    """A record with the required fields (and those the key may write), with plausible values."""
    chosen = [f for f in fields if f.get("required") or (writable and f["name"] in writable)]
    return {f["name"]: EXAMPLES.get(f.get("type", "STRING"), "text") for f in (chosen or fields[:2])}


def for_endpoint(base_url: str, endpoint_id: str, data: dict[str, Any]) -> Snippet:
    url = f"{base_url}/graphql"
    body = {"query": MUTATION, "variables": {"endpoint": endpoint_id, "data": data}}
    compact = json.dumps(body)
    curl = (
        f"curl -s {url} \\\n"
        '  -H "Authorization: Bearer $THREEMIN_KEY" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{compact}'"
    )
    python = f"""import os

import httpx

MUTATION = "{MUTATION}"

response = httpx.post(
    "{url}",
    headers={{"Authorization": f"Bearer {{os.environ['THREEMIN_KEY']}}"}},
    json={{"query": MUTATION, "variables": {{"endpoint": "{endpoint_id}", "data": {data!r}}}}},
)
response.raise_for_status()
print(response.json())"""
    javascript = f"""const MUTATION = "{MUTATION}";

const response = await fetch("{url}", {{
  method: "POST",
  headers: {{
    "Authorization": `Bearer ${{process.env.THREEMIN_KEY}}`,
    "Content-Type": "application/json",
  }},
  body: JSON.stringify({{ query: MUTATION, variables: {{ endpoint: "{endpoint_id}", data: {json.dumps(data)} }} }}),
}});
console.log(await response.json());"""
    return Snippet(curl, python, javascript)
