"""Bytes -> text, checked once and read back in blocks: encoding detection and sanity checks.

Partners deliver UTF-8, UTF-8 with BOM, cp1252 (Windows Excel "CSV") and cp850 (DOS / old
exports). `check_text` finds out which, refuses what is not text at all (zip archives, Excel
workbooks, binary garbage, empty files) — with the line of the first offending byte — and
returns a `Text`, from which the readers take the text block by block with every line ending
turned into "\\n", so that line numbers count exactly as a text editor shows them.

Nothing here holds the whole delivery in memory: the checks run over blocks of the file (or
of the bytes given), and `Text.blocks()` decodes again block by block. A delivery of any size
costs the memory of one block.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sources.readers.base import DeliveryFormatError

BLOCK = 8 * 1024 * 1024
_GERMAN = frozenset("äöüÄÖÜß")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
# Control bytes that never occur in text files (tab, LF, FF, CR and DOS EOF 0x1a excepted).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 26)) + b"\x7f"
_BINARY_SAMPLE = 65536
_BINARY_SHARE = 0.02
_CHUNK = 65536
_DECISIVE = 50
_SINGLE_BYTE = ("cp1252", "cp850", "iso8859-1", "iso8859-15")
_WORD_WINDOW = 1 << 20  # how far back a message looks for the start of a garbled word

Source = bytes | Path


def encoding_de(name: str) -> str:
    """An encoding as written in a German message: UTF-8, UTF-16 … upper case, code pages as
    they are (cp1252), and the phrases of `looks_like` in German."""
    name = name.replace(" after a UTF-8 BOM", " (hinter einer UTF-8-Byte-Order-Mark)")
    name = name.replace(" with BOM", " mit Byte-Order-Mark")
    return re.sub(r"\butf-(8|16|32)(-sig|-le|-be)?\b", lambda m: m.group(0).upper(), name)


def german_score(text: str) -> int:
    """How plausible `text` is as German: +1 for each ä ö ü Ä Ö Ü ß next to a letter, -1 for each
    other non-letter, non-ASCII character between two letters (mojibake such as 'M„nner' or
    'Stra▀e'). Other accented letters count 0, so foreign names do not tip the balance."""
    score = 0
    end = len(text)
    for match in _NON_ASCII.finditer(text):
        i = match.start()
        char = text[i]
        before = text[i - 1] if i > 0 else " "
        after = text[i + 1] if i + 1 < end else " "
        if char in _GERMAN:
            if before.isalpha() or after.isalpha():
                score += 1
        elif not char.isalpha() and before.isalpha() and after.isalpha():
            score -= 1
    return score


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR become LF."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- reading the bytes ------------------------------------------------------------------------


def _open(source: Source) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes | bytearray) else open(source, "rb")


def _size(source: Source) -> int:
    return len(source) if isinstance(source, bytes | bytearray) else Path(source).stat().st_size


def _blocks(source: Source, skip: int = 0, size: int = BLOCK) -> Iterator[bytes]:
    with _open(source) as handle:
        handle.seek(skip)
        while block := handle.read(size):
            yield block


def head_bytes(source: Source, length: int) -> bytes:
    """The first `length` bytes (a file's signature)."""
    return _read(source, 0, length)


def _read(source: Source, start: int, length: int) -> bytes:
    with _open(source) as handle:
        handle.seek(max(start, 0))
        return handle.read(length)


@dataclass
class _Survey:
    """What one pass over the bytes learns (offsets are byte offsets from the start)."""

    size: int = 0
    head: bytes = b""
    nul: int | None = None
    high: int | None = None
    utf8_error: int | None = None  # of the bytes after a UTF-8 BOM, if there is one
    ascii_after_bom: bool = True
    # whether the bytes decode as cp1252: learnt only when a code page must be guessed
    cp1252_error: int | None = None
    cp1252_checked: bool = False
    block_starts: list[int] = field(default_factory=list)


def _survey(source: Source) -> _Survey:
    survey = _Survey(size=_size(source))
    utf8 = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    bom = False
    for block in _blocks(source):
        survey.block_starts.append(offset)
        if offset == 0:
            survey.head = block[:_BINARY_SAMPLE]
            bom = block.startswith(codecs.BOM_UTF8)
        if survey.nul is None and (found := block.find(b"\x00")) >= 0:
            survey.nul = offset + found
        if survey.high is None and (high := _HIGH_BYTE.search(block)):
            survey.high = offset + high.start()
        skip = 3 if bom and offset == 0 else 0
        if survey.ascii_after_bom and not block[(3 if offset == 0 else 0) :].isascii():
            survey.ascii_after_bom = False
        if survey.utf8_error is None:
            try:
                utf8.decode(block[skip:])
            except UnicodeDecodeError as err:
                survey.utf8_error = _error_offset(offset + skip, err, utf8)
        offset += len(block)
    if survey.utf8_error is None:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError as err:  # a sequence cut off at the end
            survey.utf8_error = _error_offset(offset, err, utf8)
    return survey


def _error_offset(block_offset: int, err: UnicodeDecodeError, decoder) -> int:
    """The file offset of a decoding error (the decoder may hold bytes of the block before)."""
    pending = len(decoder.getstate()[0]) if hasattr(decoder, "getstate") else 0
    return block_offset + err.start - pending


def _line_of(source: Source, offset: int) -> int:
    """1-based line of a byte offset, counting CRLF, LF and lone CR as one line end each."""
    lines, carry_cr = 1, False
    position = 0
    for block in _blocks(source):
        part = block[: max(offset - position, 0)]
        lines += part.count(b"\n") + part.count(b"\r") - part.count(b"\r\n")
        if carry_cr and part.startswith(b"\n"):
            lines -= 1  # the CR at the end of the block before and this LF are one line end
        carry_cr = part.endswith(b"\r")
        position += len(block)
        if position >= offset:
            break
    return lines


def _strict(source: Source, encoding: str, skip: int = 0) -> UnicodeDecodeError | None:
    """Decode everything after `skip` strictly; the first error, with a file offset in
    `err.start`, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = skip
    for block in _blocks(source, skip):
        try:
            decoder.decode(block)
        except UnicodeDecodeError as err:
            err.start = _error_offset(offset, err, decoder)
            return err
        offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:
        err.start = _error_offset(offset, err, decoder)
        return err
    return None


# --- the checks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NotText:
    """A file format partners send instead of CSV text, recognised by its first bytes."""

    signatures: tuple[bytes, ...]
    problem: str
    expected: str
    found: str
    problem_de: str
    expected_de: str
    found_de: str
    inside: tuple[bytes, ...] = ()  # and one of these within the first 2 KB


_SAVE_AS_CSV = "CSV text — save the sheet as 'CSV (Trennzeichen-getrennt)'"
_SAVE_AS_CSV_DE = (
    "CSV-Text – das Tabellenblatt in Excel unter 'Speichern unter' als "
    "'CSV (Trennzeichen-getrennt)' speichern"
)
_UNPACK_DE = "CSV-Text – die Lieferung bitte zuerst entpacken"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
# in order: the first that matches names the file
_NOT_TEXT = (
    _NotText(
        _ZIP,
        "the file is an Excel workbook (.xlsx), not a CSV text file",
        _SAVE_AS_CSV,
        "an xlsx (zip) archive",
        "die Datei ist eine Excel-Arbeitsmappe (.xlsx), keine CSV-Textdatei",
        _SAVE_AS_CSV_DE,
        "ein xlsx-Archiv (zip)",
        inside=(b"[Content_Types].xml", b"xl/"),
    ),
    _NotText(
        _ZIP,
        "the file is a zip archive, not a CSV text file",
        "CSV text — unzip the delivery first",
        "the zip signature 'PK'",
        "die Datei ist ein zip-Archiv, keine CSV-Textdatei",
        _UNPACK_DE,
        "die zip-Kennung 'PK' am Dateianfang",
    ),
    _NotText(
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
        "the file is an old Excel workbook (.xls), not a CSV text file",
        _SAVE_AS_CSV,
        "an OLE2/xls file",
        "die Datei ist eine alte Excel-Arbeitsmappe (.xls), keine CSV-Textdatei",
        _SAVE_AS_CSV_DE,
        "eine OLE2-/xls-Datei",
    ),
    _NotText(
        (b"\x1f\x8b",),
        "the file is gzip-compressed, not a CSV text file",
        "CSV text — decompress the delivery first",
        "the gzip signature 0x1f 0x8b",
        "die Datei ist gzip-komprimiert, keine CSV-Textdatei",
        _UNPACK_DE,
        "die gzip-Kennung 0x1f 0x8b am Dateianfang",
    ),
    _NotText(
        (b"%PDF",),
        "the file is a PDF, not a CSV text file",
        "CSV text",
        "%PDF",
        "die Datei ist ein PDF, keine CSV-Textdatei",
        "CSV-Text",
        "die PDF-Kennung %PDF am Dateianfang",
    ),
)


def _reject_non_text(source: Source, survey: _Survey, file_name: str) -> None:
    data = survey.head
    if not survey.size:
        raise DeliveryFormatError(
            file_name,
            "the file is empty",
            expected="a text file with a header line",
            found="0 bytes",
            stage="file",
            problem_de="die Datei ist leer",
            expected_de="eine Textdatei mit einer Kopfzeile",
            found_de="0 Bytes",
        )
    for kind in _NOT_TEXT:
        if data.startswith(kind.signatures) and (
            not kind.inside or any(marker in data[:2048] for marker in kind.inside)
        ):
            raise DeliveryFormatError(
                file_name,
                kind.problem,
                expected=kind.expected,
                found=kind.found,
                stage="file",
                problem_de=kind.problem_de,
                expected_de=kind.expected_de,
                found_de=kind.found_de,
            )
    if survey.nul is not None:
        nul = survey.nul
        sample = data[:_BINARY_SAMPLE]
        if max(sample[0::2].count(0), sample[1::2].count(0)) > 0.4 * len(sample) / 2:
            raise DeliveryFormatError(
                file_name,
                "the file looks like UTF-16 text without a byte order mark",
                expected="UTF-8, cp1252 or cp850 text (or UTF-16 with a byte order mark)",
                found="a NUL byte in every other position",
                stage="file",
                problem_de="die Datei sieht aus wie UTF-16-Text ohne Byte-Order-Mark",
                expected_de="Text in UTF-8, cp1252 oder cp850 (oder UTF-16 mit Byte-Order-Mark)",
                found_de="an jeder zweiten Stelle ein NUL-Byte",
            )
        raise DeliveryFormatError(
            file_name,
            "the file is binary, not text",
            line=_line_of(source, nul),
            expected="CSV text",
            found=f"a NUL byte at byte offset {nul}",
            stage="file",
            problem_de="die Datei ist eine Binärdatei, kein Text",
            expected_de="CSV-Text",
            found_de=f"ein NUL-Byte an Byte-Position {nul}",
        )
    sample = data[:_BINARY_SAMPLE]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > max(3, _BINARY_SHARE * len(sample)):
        first = next(i for i, b in enumerate(sample) if b in _CONTROL_BYTES)
        raise DeliveryFormatError(
            file_name,
            "the file is binary, not text",
            line=_line_of(source, first),
            expected="CSV text",
            found=f"{controls} control bytes in the first {len(sample)} bytes, "
            f"the first is 0x{sample[first]:02x} at byte offset {first}",
            stage="file",
            problem_de="die Datei ist eine Binärdatei, kein Text",
            expected_de="CSV-Text",
            found_de=f"{controls} Steuerzeichen in den ersten {len(sample)} Bytes, "
            f"das erste ist 0x{sample[first]:02x} an Byte-Position {first}",
        )


def _guess_single_byte(source: Source, survey: _Survey, skip: int = 0) -> tuple[str, int]:
    """(encoding, margin): cp1252 or cp850, whichever reads as more plausible German; ties go
    to cp1252. Scored chunk by chunk until one leads by `_DECISIVE` points, so a large file
    costs no more than a small one. `margin` is the lead (0 when only cp850 can decode:
    cp1252 leaves 0x81 0x8d 0x8f 0x90 0x9d undefined; cp850 uses them)."""
    if not survey.cp1252_checked:
        err = _strict(source, "cp1252", skip)
        survey.cp1252_error = err.start if err is not None else None
        survey.cp1252_checked = True
    if survey.cp1252_error is not None and survey.cp1252_error >= skip:
        return "cp850", 0
    lead = 0  # > 0: cp1252 reads better
    start = skip
    while start < survey.size:
        piece = _read(source, start, _CHUNK + 1)
        lead += german_score(piece.decode("cp1252")) - german_score(piece.decode("cp850"))
        if abs(lead) >= _DECISIVE:
            break
        start += _CHUNK
    if lead >= 0:
        return "cp1252", lead
    return "cp850", -lead


def _looks_like(source: Source, survey: _Survey) -> str:
    """The encoding auto-detection would choose for the bytes (used in error messages)."""
    bom = survey.head.startswith(codecs.BOM_UTF8)
    if survey.utf8_error is None:
        return "utf-8 with BOM" if bom else "utf-8"
    return _guess_single_byte(source, survey, 3 if bom else 0)[0] + (
        " after a UTF-8 BOM" if bom else ""
    )


def _canonical(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None


def _strict_error(
    source: Source,
    survey: _Survey,
    err: UnicodeDecodeError,
    encoding: str,
    file_name: str,
    declared: bool,
) -> DeliveryFormatError:
    label = "utf-8" if encoding == "utf-8-sig" else encoding
    expected = (
        f"{label} as declared for this source" if declared else f"{label} (the file has a BOM)"
    )
    label_de = encoding_de(label)
    expected_de = (
        f"{label_de}, wie für diese Quelle angegeben"
        if declared
        else f"{label_de} (die Datei beginnt mit einer Byte-Order-Mark)"
    )
    seems = _looks_like(source, survey)
    byte = _read(source, err.start, 1)[0]
    return DeliveryFormatError(
        file_name,
        f"byte 0x{byte:02x} is not valid {label}",
        line=_line_of(source, err.start),
        expected=expected,
        found=f"text that looks like {seems}",
        stage="file",
        problem_de=f"Byte 0x{byte:02x} ist kein gültiges {label_de}",
        expected_de=expected_de,
        found_de=f"Text, der nach {encoding_de(seems)} aussieht",
    )


def _word_at(source: Source, codec: str, i: int) -> str:
    """The cell-or-word around byte (= character, single-byte codes only) position i."""
    start = max(i - _WORD_WINDOW, 0)
    text = _read(source, start, i - start + 4096).decode(codec)
    j = i - start
    separators = ("\n", " ", ";", ",", "\t")
    begin = max(text.rfind(sep, 0, j) for sep in separators) + 1
    stops = [p for p in (text.find(sep, j) for sep in separators) if p >= 0]
    return text[begin : min(stops, default=len(text))][:40]


def _garbled(source: Source, file_name: str, used: str, guess: str, i: int) -> DeliveryFormatError:
    word = _word_at(source, used, i)
    return DeliveryFormatError(
        file_name,
        f"the text decoded as {used} is garbled, e.g. {word!r}",
        line=_line_of(source, i),
        expected=f"{used} as declared for this source",
        found=f"text that looks like {guess}",
        stage="file",
        problem_de=f"der als {encoding_de(used)} gelesene Text ist verstümmelt, z. B. {word!r}",
        expected_de=f"{encoding_de(used)}, wie für diese Quelle angegeben",
        found_de=f"Text, der nach {encoding_de(guess)} aussieht",
    )


def _check_plausible(source: Source, survey: _Survey, used: str, file_name: str, skip: int) -> None:
    """A declared single-byte code page never fails to decode; refuse the cases where it
    produces mojibake ('M„nner', 'Sch³ler', 'MÃ¼nster') because the file is UTF-8 or in the
    other code page."""
    if survey.high is None or skip:
        return  # plain ASCII (after a dropped BOM) reads the same in every code page
    if survey.utf8_error is None:
        raise _garbled(source, file_name, used, "utf-8", survey.high)
    guess, margin = _guess_single_byte(source, survey, skip)
    if margin < 3 or (guess == "cp850") == (used == "cp850"):
        return
    position = survey.high
    offset = skip
    for block in _blocks(source, skip):
        text, other = block.decode(used, "replace"), block.decode(guess, "replace")
        hit = next(
            (
                m.start()
                for m in _NON_ASCII.finditer(other)
                if other[m.start()] in _GERMAN and text[m.start()] != other[m.start()]
            ),
            None,
        )
        if hit is not None:
            position = offset + hit
            break
        offset += len(block)
    raise _garbled(source, file_name, used, guess, position)


@dataclass(frozen=True)
class Text:
    """A delivery whose bytes decode: what it is and how to read it."""

    file_name: str
    encoding: str  # as messages name it: utf-8, utf-8-sig, cp1252, cp850, utf-16 …
    source: Source
    codec: str  # the codec the body is decoded with
    skip: int = 0  # bytes before the text (a byte order mark that is dropped)
    strip_bom_char: bool = False  # a declared UTF-16/32 keeps the BOM as U+FEFF: drop it

    def blocks(self, size: int = BLOCK) -> Iterator[str]:
        """The text in pieces of about `size` bytes, line endings normalised, each piece
        ending with a line end (the last one possibly not)."""
        decoder = codecs.getincrementaldecoder(self.codec)()
        pending = ""
        first = True
        for block in _blocks(self.source, self.skip, size):
            text = pending + decoder.decode(block)
            if first and self.strip_bom_char:
                text = text.removeprefix("\ufeff")
            first = False
            # a CR at the end may be the first half of a CRLF: keep it for the next block
            held = "\r" if text.endswith("\r") else ""
            text = normalize_newlines(text[: len(text) - len(held)])
            cut = text.rfind("\n")
            pending = text[cut + 1 :] + held
            if cut >= 0:
                yield text[: cut + 1]
        rest = pending + decoder.decode(b"", final=True)
        if first and self.strip_bom_char:
            rest = rest.removeprefix("\ufeff")
        if rest:
            yield normalize_newlines(rest)

    def read(self) -> str:
        """The whole text (for small payloads and tests)."""
        return "".join(self.blocks())

    def lines(self, start: int = 1) -> Iterator[str]:
        """Every line from line `start` on, without its line end. Blocks before `start` are
        only counted, never split."""
        number = 1
        for block in self.blocks():
            body = block[:-1] if block.endswith("\n") else block
            count = body.count("\n") + 1
            if number + count <= start:
                number += count
                continue
            yield from body.split("\n")[max(start - number, 0) :]
            number += count


def _not_only_whitespace(text: Text) -> Text:
    if not any(block.strip() for block in text.blocks()):
        raise DeliveryFormatError(
            text.file_name,
            "the file is empty",
            expected="a text file with a header line",
            found="only whitespace",
            stage="file",
            problem_de="die Datei ist leer",
            expected_de="eine Textdatei mit einer Kopfzeile",
            found_de="nur Leerzeichen und Leerzeilen",
        )
    return text


def check_text(
    source: Source, file_name: str, encoding: str = "auto", *, excel: bool = False
) -> Text:
    """Check a delivery's bytes and say how to decode them.

    `encoding="auto"`: UTF-8 BOM -> "utf-8-sig"; UTF-16 BOM -> "utf-16" (Excel "Unicode text");
    valid UTF-8 -> "utf-8"; otherwise "cp1252" or "cp850", whichever yields plausible German.
    With `excel`, a declared cp1252 or UTF-8 also accepts the other one Excel writes: "CSV
    UTF-8" (UTF-8 with a BOM — unmistakable) for cp1252, "CSV (Trennzeichen-getrennt)"
    (cp1252, when it reads as German) for UTF-8.
    A declared encoding is applied strictly (a UTF-8 BOM is dropped under "utf-8"); a byte it
    cannot decode, or single-byte text that only makes sense in the other code page, raises
    DeliveryFormatError with the line. Empty files, zip/xlsx/xls/gzip/PDF payloads and binary
    data raise DeliveryFormatError as well.
    """
    head = _read(source, 0, 4)
    utf16_bom = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if utf16_bom and encoding in ("auto", "utf-16"):
        err = _strict(source, "utf-16")
        if err is not None:
            raise DeliveryFormatError(
                file_name,
                "the file starts with a UTF-16 byte order mark but is not valid UTF-16",
                expected="UTF-16 text",
                found=f"undecodable bytes at offset {err.start}",
                stage="file",
                problem_de="die Datei beginnt mit einer UTF-16-Byte-Order-Mark, "
                "ist aber kein gültiges UTF-16",
                expected_de="UTF-16-Text",
                found_de=f"nicht lesbare Bytes ab Byte-Position {err.start}",
            )
        return _not_only_whitespace(Text(file_name, "utf-16", source, "utf-16"))

    declared = None if encoding == "auto" else _canonical(encoding)
    if declared and not declared.startswith(("utf-16", "utf-32")) and utf16_bom:
        # Excel's "Unicode text": the BOM says what it is — not "UTF-16 without a BOM"
        raise DeliveryFormatError(
            file_name,
            f"the file is UTF-16 text (it starts with a UTF-16 byte order mark), not {declared}",
            line=1,
            expected=f"{declared} as declared for this source — in Excel save as "
            "'CSV (Trennzeichen-getrennt)', not as 'Unicode-Text'",
            found="the UTF-16 byte order mark 0x" + head[:2].hex(),
            stage="file",
            problem_de=f"die Datei ist UTF-16-Text (sie beginnt mit einer UTF-16-Byte-Order-Mark), "
            f"kein {encoding_de(declared)}",
            expected_de=f"{encoding_de(declared)}, wie für diese Quelle angegeben – in Excel als "
            "'CSV (Trennzeichen-getrennt)' speichern, nicht als 'Unicode-Text'",
            found_de="die UTF-16-Byte-Order-Mark 0x" + head[:2].hex(),
        )
    survey = _survey(source)
    if declared and declared.startswith(("utf-16", "utf-32")):
        if not survey.size:
            _reject_non_text(source, survey, file_name)
        err = _strict(source, declared)
        if err is not None:
            raise _strict_error(source, survey, err, declared, file_name, declared=True)
        return _not_only_whitespace(Text(file_name, declared, source, declared, 0, True))

    _reject_non_text(source, survey, file_name)
    bom = survey.head.startswith(codecs.BOM_UTF8)

    if declared is None:
        if bom:
            if survey.utf8_error is not None:
                err = UnicodeDecodeError("utf-8", b"", survey.utf8_error, survey.utf8_error + 1, "")
                raise _strict_error(source, survey, err, "utf-8-sig", file_name, declared=False)
            return _not_only_whitespace(Text(file_name, "utf-8-sig", source, "utf-8", 3))
        if survey.utf8_error is None:
            return _not_only_whitespace(Text(file_name, "utf-8", source, "utf-8"))
        used, _ = _guess_single_byte(source, survey)
        return _not_only_whitespace(Text(file_name, used, source, used))

    utf8_text = survey.utf8_error is None
    if excel and declared == "cp1252" and bom and utf8_text and not survey.ascii_after_bom:
        # Excel's "CSV UTF-8": the BOM and valid UTF-8 after it say what it is
        return _not_only_whitespace(Text(file_name, "utf-8-sig", source, "utf-8", 3))
    if (
        excel
        and declared in ("utf-8", "utf-8-sig")
        and not utf8_text
        and not bom
        and _guess_single_byte(source, survey)[0] == "cp1252"
    ):  # Excel's "CSV (Trennzeichen-getrennt)"
        return _not_only_whitespace(Text(file_name, "cp1252", source, "cp1252"))
    used, skip = declared, 0
    if bom:
        if used == "utf-8":
            used, skip = "utf-8-sig", 3
        elif survey.ascii_after_bom:
            skip = 3  # a BOM before plain ASCII: harmless under any code page
    codec = "utf-8" if used == "utf-8-sig" else used
    err = _strict(source, codec, skip)
    if err is not None:
        raise _strict_error(source, survey, err, used, file_name, declared=True)
    if codec == "cp1252":  # the pass just made says it: no second one when guessing
        survey.cp1252_error, survey.cp1252_checked = None, True
    if used in _SINGLE_BYTE:
        _check_plausible(source, survey, used, file_name, skip)
    return _not_only_whitespace(Text(file_name, used, source, codec, skip))


def decode(data: Source, file_name: str, encoding: str = "auto") -> tuple[str, str]:
    """The whole text of a (small) delivery and the encoding used: `check_text` + read."""
    text = check_text(data, file_name, encoding)
    return text.read(), text.encoding
