"""/graphql against the GraphQL over HTTP specification's public audit (the graphql-http package).

Every MUST, SHOULD and MAY of the audit, for application/json and
application/graphql-response+json, run by Node against the real server with a
key in the Authorization header. Needs node and npm (the npm registry is
reachable here); in CI a missing tool is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.test_cli import run, serving

AUDIT = """
const { auditServer } = require('graphql-http');
(async () => {
  const results = await auditServer({
    url: process.env.AUDIT_URL,
    fetchFn: (input, init = {}) => {
      const headers = new Headers(init.headers || {});
      headers.set('Authorization', 'Bearer ' + process.env.AUDIT_KEY);
      return fetch(input, { ...init, headers });
    },
  });
  console.log(JSON.stringify(results.map(r => ({ id: r.id, name: r.name, status: r.status, reason: r.reason || null }))));
})();
"""


@pytest.fixture(scope="module")
def audit_folder(tmp_path_factory):
    if not (shutil.which("node") and shutil.which("npm")):
        (pytest.fail if os.environ.get("CI") else pytest.skip)("node and npm are needed for the GraphQL over HTTP audit")
    folder = tmp_path_factory.mktemp("graphql-http")
    (folder / "package.json").write_text('{"private": true}')
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", "graphql-http@1.23.1", "graphql@16.15.0"],
        cwd=folder, check=True, capture_output=True, timeout=180,
    )
    (folder / "audit.js").write_text(AUDIT)
    return folder


def test_the_server_passes_every_graphql_over_http_audit(tmp_path, audit_folder):
    demo = json.loads(run(tmp_path, "demo", "--json").stdout)
    with serving(tmp_path) as url:
        env = {**os.environ, "AUDIT_URL": url, "AUDIT_KEY": demo["test_key"]}
        output = subprocess.run(["node", "audit.js"], cwd=audit_folder, env=env, capture_output=True, text=True, timeout=120, check=True)
    results = json.loads(output.stdout)
    assert len(results) > 50  # the audit really ran
    failed = [f"{r['id']} {r['name']}: {r['reason']}" for r in results if r["status"] != "ok"]
    assert not failed, "\n".join(failed)
