"""`threemin scan`: finds real keys (pattern and checksum), never look-alikes, never prints a key.

The command tests run the installed console script, as a pre-commit hook
does, in a temporary folder with no THREEMIN_* settings.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server import keys, scan
from server.keys import Environment
from tests.test_cli import THREEMIN

LIVE = keys.generate(Environment.LIVE)
TEST = keys.generate(Environment.TEST)
README = Path(__file__).resolve().parent.parent / "README.md"


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def run_scan(folder: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
    return subprocess.run(
        [THREEMIN, "scan", *args],
        check=False,
        cwd=folder,
        env={**clean, **(env or {})},
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def no_full_key(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.stdout and secret not in result.stderr
        assert secret[8:] not in result.stdout and secret[8:] not in result.stderr  # not even without its prefix


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def broken_checksum(key: str) -> str:
    last = "A" if key[-1] != "A" else "B"
    return key[:-1] + last


def look_alikes() -> list[str]:
    other_env = "tm_test_" + LIVE[8:]  # checksum covers the prefix: switching it breaks the key
    prod = "tm_prod_" + LIVE[8:]
    body = "tm_prod_" + LIVE[8:38]
    return [
        broken_checksum(LIVE),
        other_env,
        prod,
        body + keys.checksum(body),  # a valid checksum, but not a threemin prefix
        "TM_LIVE_" + LIVE[8:],
        LIVE + "x",  # 37 characters after the prefix
        LIVE[:-1],  # 35
        "tm_live_" + "0" * 36,
        "tm_live_…" + LIVE[-4:],  # a masked key, as threemin prints it
    ]


# --- the scanner itself ---------------------------------------------------------


def test_keys_in_nested_files_are_found_at_their_line_and_column(tmp_path):
    write(tmp_path / "app" / "config" / "settings.env", f"# partner keys\nDEBUG=1\nTHREEMIN_KEY={LIVE}\n")
    write(tmp_path / "app" / "deep" / "er" / "client.py", f'headers = {{"Authorization": "Bearer {TEST}"}}\r\nother = "{LIVE}"\n')
    write(tmp_path / "notes.md", "café: é " + TEST + "\n")  # columns count characters, not bytes

    report = scan.scan_paths([tmp_path])

    found = [(Path(f.path).relative_to(tmp_path).as_posix(), f.line, f.column, f.environment, f.masked, f.sha256) for f in report.findings]
    assert found == [
        ("app/config/settings.env", 3, 14, "live", keys.mask(LIVE), sha(LIVE)),
        ("app/deep/er/client.py", 1, 37, "test", keys.mask(TEST), sha(TEST)),
        ("app/deep/er/client.py", 2, 10, "live", keys.mask(LIVE), sha(LIVE)),
        ("notes.md", 1, 9, "test", keys.mask(TEST), sha(TEST)),
    ]
    assert report.scanned_files == 3
    assert str(report.findings[0]) == f"{report.findings[0].path}:3:14: tm_live_…{LIVE[-4:]} (live key)"


def test_two_keys_on_one_line_are_both_found():
    findings = scan.scan_text(f"a={LIVE},b={TEST}")
    assert [(f.column, f.environment) for f in findings] == [(3, "live"), (50, "test")]


def test_look_alikes_are_ignored():
    text = "\n".join(f"key = {candidate}" for candidate in look_alikes())
    assert scan.scan_text(text) == []
    assert keys.PATTERN.search(broken_checksum(LIVE)), "the shape alone would have matched"


@given(
    prefix=st.text(max_size=120),
    before=st.sampled_from([" ", "\n", "\t", '"', "'", "=", ":", "/", "(", ",", "\r\n", "é "]),
    after=st.sampled_from(["", " ", "\n", '"', "'", ";", ")", "\r\n", ".", "-"]),
    suffix=st.text(max_size=120),
    environment=st.sampled_from(list(Environment)),
    random_part=st.text(alphabet=keys.ALPHABET, min_size=keys.RANDOM_LENGTH, max_size=keys.RANDOM_LENGTH),
)
def test_any_text_with_a_key_embedded_yields_exactly_that_key_where_it_is(prefix, before, after, suffix, environment, random_part):
    key = keys.assemble(environment, random_part)
    # `after` == "" with a word character next would make a longer token: no longer a key.
    text = prefix + before + key + (after or " ") + suffix
    start = len(prefix) + len(before)
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    expected = [(line, column, environment.value, keys.mask(key), sha(key))]

    found = [(f.line, f.column, f.environment, f.masked, f.sha256) for f in scan.scan_text(text)]
    assert found == expected
    # Files and stdin go through bytes, line by line: same answer.
    streamed = [(f.line, f.column, f.environment, f.masked, f.sha256) for f in scan.scan_stream(io.BytesIO(text.encode()), "x")]
    assert streamed == expected


def test_skipped_folders_binary_files_fifos_and_symlinks_out_of_the_tree(tmp_path):
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    for folder in (".git", ".venv", "node_modules", "__pycache__", "src/node_modules"):
        write(tree / folder / "leak.txt", LIVE)
    (tree / "image.bin").write_bytes(b"\x89PNG\0\0" + LIVE.encode())
    (tree / "late-nul.txt").write_bytes(b"x" * scan.SNIFF_BYTES + b"\0\n" + LIVE.encode())  # NUL past the sniff: text
    write(outside / "secret.env", LIVE)
    (tree / "linked-folder").symlink_to(outside, target_is_directory=True)
    (tree / "linked-file.env").symlink_to(outside / "secret.env")
    os.mkfifo(tree / "pipe")  # opening it would block forever

    report = scan.scan_paths([tree])

    assert [(Path(f.path).name, f.line) for f in report.findings] == [("late-nul.txt", 2)]
    assert report.skipped == [(str(tree / "image.bin"), "binary")]
    # Named on the command line, a file is scanned wherever it is (pre-commit names files in node_modules too).
    assert len(scan.scan_paths([tree / "node_modules" / "leak.txt", tree / "linked-file.env"]).findings) == 2


def test_files_over_the_size_limit_are_skipped_and_said_so(tmp_path):
    write(tmp_path / "big.log", "x" * 99 + "\n" + LIVE)
    report = scan.scan_paths([tmp_path], max_bytes=100)
    assert report.findings == [] and report.skipped == [(str(tmp_path / "big.log"), "over 100 bytes")]
    assert len(scan.scan_paths([tmp_path], max_bytes=200).findings) == 1

    result = run_scan(tmp_path, "--max-bytes", "100", ".")
    assert result.returncode == 0
    assert "skipped big.log: over 100 bytes" in result.stderr


# --- the command --------------------------------------------------------------------


def test_exit_codes_and_masked_text_output(tmp_path):
    write(tmp_path / "clean" / "a.txt", "no keys here, only " + "\n".join(look_alikes()))
    write(tmp_path / "leaky" / "sub" / "b.yaml", f"partner:\n  key: {LIVE}\n")

    clean = run_scan(tmp_path, "clean")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout == "no threemin keys found. 1 file scanned.\n"

    leaky = run_scan(tmp_path, "leaky", "clean")
    assert leaky.returncode == 1, leaky.stderr
    lines = leaky.stdout.splitlines()
    assert lines[0] == f"leaky/sub/b.yaml:2:8: tm_live_…{LIVE[-4:]} (live key)"
    assert lines[1].startswith("found 1 threemin key: 1 live, 0 test. 2 files scanned.")
    assert len(lines) == 2
    no_full_key(leaky, LIVE)

    missing = run_scan(tmp_path, "leaky", "no-such-folder")
    assert missing.returncode == 2 and "no-such-folder" in missing.stderr and missing.stdout == ""
    assert run_scan(tmp_path, "--max-bytes", "0", "leaky").returncode == 2
    assert run_scan(tmp_path, "--no-such-option").returncode == 2


def test_json_has_the_documented_shape_and_never_the_key(tmp_path):
    write(tmp_path / "x" / "one.txt", f"{TEST}\n\n   {LIVE}\n")
    write(tmp_path / "x" / "two.txt", "nothing")

    result = run_scan(tmp_path, "--json", "x")

    assert result.returncode == 1
    data = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert data == {
        "findings": [
            {"path": "x/one.txt", "line": 1, "column": 1, "environment": "test", "masked": keys.mask(TEST), "sha256": sha(TEST)},
            {"path": "x/one.txt", "line": 3, "column": 4, "environment": "live", "masked": keys.mask(LIVE), "sha256": sha(LIVE)},
        ],
        "scanned_files": 2,
    }
    no_full_key(result, LIVE, TEST)
    assert json.loads(run_scan(tmp_path, "--json", "x/two.txt").stdout) == {"findings": [], "scanned_files": 1}


def test_standard_input_is_scanned_when_no_path_is_given(tmp_path):
    diff = f"diff --git a/.env b/.env\n--- a/.env\n+++ b/.env\n@@ -1 +1,2 @@\n KEEP=1\n+KEY={LIVE}\n+OLD={broken_checksum(TEST)}\n"
    result = run_scan(tmp_path, stdin=diff)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == f"<stdin>:6:6: {keys.mask(LIVE)} (live key)"
    no_full_key(result, LIVE)

    as_json = json.loads(run_scan(tmp_path, "--json", stdin=diff).stdout)
    assert [f["sha256"] for f in as_json["findings"]] == [sha(LIVE)] and as_json["scanned_files"] == 1
    assert run_scan(tmp_path, stdin="nothing to see\n").returncode == 0


def test_no_path_and_a_terminal_on_stdin_is_a_usage_error(tmp_path):
    controller, terminal = os.openpty()
    try:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
        result = subprocess.run([THREEMIN, "scan"], check=False, cwd=tmp_path, env=clean, stdin=terminal, capture_output=True, text=True, timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    assert result.returncode == 2
    assert "git diff | threemin scan" in result.stderr


def test_scan_reads_no_settings_and_touches_no_database(tmp_path):
    write(tmp_path / "a.txt", LIVE)
    # Settings.from_env() would refuse these; `scan` must not even look.
    broken = {"THREEMIN_PORT": "not-a-port", "THREEMIN_DATABASE_URL": "postgres://nobody@203.0.113.1/nothing"}
    result = run_scan(tmp_path, "a.txt", env=broken)
    assert result.returncode == 1, result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.txt"]  # no database, no secret file


# --- what the README and the pre-commit manifest promise ---------------------------


def test_the_readme_gitleaks_rule_matches_what_the_scanner_matches():
    section = README.read_text().split("## Finding leaked keys", 1)[1].split("\n## ", 1)[0]
    rule_toml = re.search(r"```toml\n(.*?)```", section, re.DOTALL).group(1)
    [rule] = tomllib.loads(rule_toml)["rules"]
    assert rule["id"] == "threemin-key" and rule["keywords"] == ["tm_test_", "tm_live_"]
    gitleaks = re.compile(rule["regex"])
    assert gitleaks.groups == 0  # gitleaks would take a group as the secret and redact only that
    samples = [LIVE, TEST, f"x {LIVE} y", f"x{LIVE}", f"{LIVE}0", *look_alikes()]
    for sample in samples:
        assert [m.group() for m in gitleaks.finditer(sample)] == [m.group() for m in keys.PATTERN.finditer(sample)]


def test_pre_commit_manifest_declares_the_hook():
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((README.parent / ".pre-commit-hooks.yaml").read_text())
    [hook] = [hook for hook in hooks if hook["id"] == "threemin-scan"]
    assert hook["entry"] == "threemin scan" and hook["language"] == "python" and hook["pass_filenames"] is True
