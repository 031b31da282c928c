"""Receiving an upload: the multipart body parsed while it streams in, the file's bytes
counted against the limit as they arrive.

The form's small fields (the CSRF token, the source) come before the file; they are checked the
moment the file part begins, so that a request with a wrong token or a source that is not the
partner's writes nothing. Past the limit the reading stops, the partial file is removed and the
answer is 413: nothing of an oversized upload stays on disk.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

FILE_FIELD = "datei"
MAX_FIELD_BYTES = 4096  # a small field (token, source id) longer than this is not one
MAX_PARTS = 8


class UploadRefused(Exception):
    """The upload is refused with `status`; `message_de` tells the partner why."""

    def __init__(self, status: int, message_de: str) -> None:
        super().__init__(message_de)
        self.status = status
        self.message_de = message_de


@dataclass
class ReceivedUpload:
    upload_id: str
    path: Path  # the bytes, under the portal's uploads folder
    original_name: str
    size: int
    sha256: str
    fields: dict[str, str] = field(default_factory=dict)


def too_large(limit: int) -> UploadRefused:
    from portal.words import size_de

    return UploadRefused(
        413,
        f"Die Datei ist größer als erlaubt (höchstens {size_de(limit)}); nichts wurde "
        "gespeichert. Bitte teilen Sie große Lieferungen auf oder wenden Sie sich an die "
        "Geschäftsstelle.",
    )


async def receive_upload(
    request: Request,
    folder: Path,
    limit: int,
    check_fields: Callable[[dict[str, str]], None],
) -> ReceivedUpload:
    """Stream the request's multipart body; `check_fields(fields)` runs before the first byte
    of the file is written (it raises UploadRefused to refuse)."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadRefused(400, "Das Formular wurde nicht als Datei-Upload gesendet.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise too_large(limit)  # refused before a byte is read

    upload_id = secrets.token_hex(16)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{upload_id}.part"
    state = _Parts(partial, limit, check_fields)
    parser = MultipartParser(boundary, state.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if state.error is not None:
                raise state.error
        parser.finalize()
        if state.error is not None:
            raise state.error
        if state.handle is None:
            raise UploadRefused(400, "Es wurde keine Datei ausgewählt.")
        state.handle.close()
        if state.size == 0:
            raise UploadRefused(400, "Die ausgewählte Datei ist leer (0 Byte).")
        final = folder / upload_id
        os.replace(partial, final)
    except BaseException:
        if state.handle is not None:
            state.handle.close()
        partial.unlink(missing_ok=True)
        raise
    return ReceivedUpload(
        upload_id, final, state.filename or "", state.size, state.digest.hexdigest(), state.fields
    )


class _Parts:
    """The parser's callbacks: small fields into `fields`, the file into `partial`."""

    def __init__(self, partial: Path, limit: int, check_fields) -> None:
        self.partial, self.limit, self.check_fields = partial, limit, check_fields
        self.fields: dict[str, str] = {}
        self.handle = None
        self.size = 0
        self.digest = hashlib.sha256()
        self.filename: str | None = None
        self.error: UploadRefused | None = None
        self.parts = 0
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._is_file = False
        self._buffer = bytearray()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _fail(self, error: UploadRefused) -> None:
        if self.error is None:
            self.error = error

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            self._fail(UploadRefused(400, "Das Formular hat zu viele Teile."))
        self._headers, self._name, self._is_file = {}, None, False
        self._buffer = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        self._is_file = self._name == FILE_FIELD
        if not self._is_file or self.error is not None:
            return
        if self.handle is not None:
            return self._fail(UploadRefused(400, "Bitte laden Sie genau eine Datei hoch."))
        try:
            self.check_fields(self.fields)  # before a byte of the file is written
        except UploadRefused as refused:
            return self._fail(refused)
        self.filename = (filename or b"").decode("utf-8", "replace")
        self.handle = open(self.partial, "xb")  # noqa: SIM115 (closed by receive_upload)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        chunk = data[start:end]
        if not self._is_file:
            self._buffer += chunk
            if len(self._buffer) > MAX_FIELD_BYTES:
                self._fail(UploadRefused(400, "Ein Formularfeld ist zu lang."))
            return
        if self.size + len(chunk) > self.limit:
            return self._fail(too_large(self.limit))
        self.size += len(chunk)
        self.digest.update(chunk)
        self.handle.write(chunk)

    def _part_end(self) -> None:
        if not self._is_file and self._name and self.error is None:
            self.fields[self._name] = self._buffer.decode("utf-8", "replace")
