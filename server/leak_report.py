"""POST /leaks/github: leak reports from GitHub's secret-scanning partner program.

GitHub posts a JSON list of `{token, type, url, source}` and signs the raw
body (ECDSA P-256 / SHA-256, DER, base64) with the key named in
Github-Public-Key-Identifier. Anyone can reach this URL, so the signature is
the only thing that makes a report count: checks run cheapest first and
nothing is read from or written to the database until it verifies. The
public keys come from a file the operator maintains (GitHub's
`meta/public_keys/secret_scanning` answer, saved as is): no network call, so
an offline install works and a report cannot make us fetch anything.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request
from starlette.responses import Response

from server.services import leaks
from server.settings import PREFIX, Settings

KEY_ID_HEADER = "github-public-key-identifier"
SIGNATURE_HEADER = "github-public-key-signature"
FIELDS = ("token", "type", "url", "source")


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def load_public_keys(path: str) -> dict[str, ec.EllipticCurvePublicKey]:
    """Key identifier -> P-256 public key; empty when no file is configured.

    Read once when the app is built, so a broken file stops the server at
    start (with the setting named) rather than failing GitHub's reports
    later. Keys that are no longer `is_current` still count: GitHub may sign
    with them while it rotates.
    """
    if not path:
        return {}
    where = f"{PREFIX}GITHUB_SCANNING_KEYS_FILE ({path})"
    try:
        listed = orjson.loads(Path(path).expanduser().read_bytes())["public_keys"]
        found = {}
        for entry in listed:
            key = serialization.load_pem_public_key(entry["key"].encode())
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
                raise TypeError(f"key {entry['key_identifier']!r} is not an ECDSA P-256 key")
            found[str(entry["key_identifier"])] = key
    except OSError as error:
        raise SystemExit(f"{where}: cannot read it: {error.strerror}") from None
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise SystemExit(f'{where}: expected {{"public_keys": [{{"key_identifier", "key" (PEM), "is_current"}}]}}: {error}') from None
    return found


class GitHubLeakReport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.public_keys = load_public_keys(settings.github_scanning_keys_file)

    async def handle(self, request: Request) -> Response:
        try:
            key = self._signing_key(request)
            body = await self._body(request)
            self._verify(key, request.headers[SIGNATURE_HEADER], body)
            sightings = _parse(body)
        except Refused as refused:
            return _json({"error": refused.code, "message": refused.message}, refused.status)
        findings = await leaks.report(sightings, self.settings.secret_key)
        # GitHub's feedback format; token_hash, never token_raw: the answer must not carry a key.
        return _json([{"token_hash": f.sighting.token_hash, "token_type": f.sighting.type, "label": f.verdict.value} for f in findings], 200)

    def _signing_key(self, request: Request) -> ec.EllipticCurvePublicKey:
        identifier = request.headers.get(KEY_ID_HEADER, "")
        if not identifier or not request.headers.get(SIGNATURE_HEADER):
            raise Refused(401, "UNAUTHENTICATED", "Missing Github-Public-Key-Identifier or Github-Public-Key-Signature.")
        key = self.public_keys.get(identifier)
        if key is None:
            # Also the answer when no keys file is configured: nothing can verify.
            raise Refused(401, "UNAUTHENTICATED", "Unknown public key identifier.")
        return key

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Refused(413, "PAYLOAD_TOO_LARGE", f"The body may be at most {limit} bytes.")
        # Counted as it streams too: a missing or false Content-Length must not let more in.
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, "PAYLOAD_TOO_LARGE", f"The body may be at most {limit} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _verify(key: ec.EllipticCurvePublicKey, signature: str, body: bytes) -> None:
        try:
            key.verify(base64.b64decode(signature, validate=True), body, ec.ECDSA(hashes.SHA256()))
        except (binascii.Error, InvalidSignature, ValueError):
            # Bad base64, bad DER and a wrong signature look the same from outside.
            raise Refused(401, "UNAUTHENTICATED", "The signature does not verify.") from None


def _parse(body: bytes) -> list[leaks.Sighting]:
    """The whole report or nothing: one bad entry refuses it before any key is touched."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Refused(400, "BAD_REQUEST", "The body is not valid JSON.") from None
    if not isinstance(data, list):
        raise Refused(400, "BAD_REQUEST", "The body must be a JSON array of {token, type, url, source}.")
    sightings = []
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(name), str) for name in FIELDS):
            raise Refused(400, "BAD_REQUEST", f"Entry {index} must be an object with string token, type, url and source.")
        sightings.append(leaks.Sighting(*(entry[name] for name in FIELDS)))
    return sightings


def _json(body: Any, status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers={"cache-control": "no-store"})
