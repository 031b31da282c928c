"""Bytes -> text for every reader: encoding detection, sanity checks, line endings, delimiters.

Partners deliver UTF-8, UTF-8 with BOM, cp1252 (Windows Excel "CSV") and cp850 (DOS / old
exports). `decode` finds out which, refuses what is not text at all (zip archives, Excel
workbooks, binary garbage, empty files) and returns text with every line ending turned into
"\\n", so that line numbers count exactly as a text editor shows them.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Sequence

from sources.readers.base import DeliveryFormatError

#: Delimiters `detect_delimiter` considers, in order of preference when the evidence is equal.
DELIMITERS: tuple[str, ...] = (";", "\t", "|", ",")

_GERMAN = frozenset("äöüÄÖÜß")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_SEP_HINT = re.compile(r'^\ufeff?"?sep=(.)"?[ \t]*$', re.IGNORECASE)
# Control bytes that never occur in text files (tab, LF, FF, CR and DOS EOF 0x1a excepted).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 26)) + b"\x7f"
_BINARY_SAMPLE = 65536
_BINARY_SHARE = 0.02
_CHUNK = 65536
_DECISIVE = 50


def describe(delimiter: str) -> str:
    """A delimiter as people say it in a message: ';' ',' '|' or 'tab'."""
    return "tab" if delimiter == "\t" else repr(delimiter)


def describe_de(delimiter: str) -> str:
    """A delimiter as people say it in a German message: ';' ',' '|' or 'Tabulator'."""
    return "Tabulator" if delimiter == "\t" else repr(delimiter)


def encoding_de(name: str) -> str:
    """An encoding as written in a German message: UTF-8, UTF-16 … upper case, code pages as
    they are (cp1252), and the phrases of `looks_like` in German."""
    name = name.replace(" after a UTF-8 BOM", " (hinter einer UTF-8-Byte-Order-Mark)")
    name = name.replace(" with BOM", " mit Byte-Order-Mark")
    return re.sub(r"\butf-(8|16|32)(-sig|-le|-be)?\b", lambda m: m.group(0).upper(), name)


def _line_of(data: bytes | str, offset: int) -> int:
    """1-based line of a byte/char offset, counting CRLF, LF and lone CR as one line end each."""
    head = data[:offset]
    if isinstance(head, bytes):
        return head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n") + 1
    return head.count("\n") + head.count("\r") - head.count("\r\n") + 1


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR become LF."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _reject_non_text(data: bytes, file_name: str) -> None:
    if not data:
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
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        head = data[:2048]
        if b"[Content_Types].xml" in head or b"xl/" in head:
            raise DeliveryFormatError(
                file_name,
                "the file is an Excel workbook (.xlsx), not a CSV text file",
                expected="CSV text — save the sheet as 'CSV (Trennzeichen-getrennt)'",
                found="an xlsx (zip) archive",
                stage="file",
                problem_de="die Datei ist eine Excel-Arbeitsmappe (.xlsx), keine CSV-Textdatei",
                expected_de="CSV-Text – das Tabellenblatt in Excel unter 'Speichern unter' als "
                "'CSV (Trennzeichen-getrennt)' speichern",
                found_de="ein xlsx-Archiv (zip)",
            )
        raise DeliveryFormatError(
            file_name,
            "the file is a zip archive, not a CSV text file",
            expected="CSV text — unzip the delivery first",
            found="the zip signature 'PK'",
            stage="file",
            problem_de="die Datei ist ein zip-Archiv, keine CSV-Textdatei",
            expected_de="CSV-Text – die Lieferung bitte zuerst entpacken",
            found_de="die zip-Kennung 'PK' am Dateianfang",
        )
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise DeliveryFormatError(
            file_name,
            "the file is an old Excel workbook (.xls), not a CSV text file",
            expected="CSV text — save the sheet as 'CSV (Trennzeichen-getrennt)'",
            found="an OLE2/xls file",
            stage="file",
            problem_de="die Datei ist eine alte Excel-Arbeitsmappe (.xls), keine CSV-Textdatei",
            expected_de="CSV-Text – das Tabellenblatt in Excel unter 'Speichern unter' als "
            "'CSV (Trennzeichen-getrennt)' speichern",
            found_de="eine OLE2-/xls-Datei",
        )
    if data.startswith(b"\x1f\x8b"):
        raise DeliveryFormatError(
            file_name,
            "the file is gzip-compressed, not a CSV text file",
            expected="CSV text — decompress the delivery first",
            found="the gzip signature 0x1f 0x8b",
            stage="file",
            problem_de="die Datei ist gzip-komprimiert, keine CSV-Textdatei",
            expected_de="CSV-Text – die Lieferung bitte zuerst entpacken",
            found_de="die gzip-Kennung 0x1f 0x8b am Dateianfang",
        )
    if data.startswith(b"%PDF"):
        raise DeliveryFormatError(
            file_name,
            "the file is a PDF, not a CSV text file",
            expected="CSV text",
            found="%PDF",
            stage="file",
            problem_de="die Datei ist ein PDF, keine CSV-Textdatei",
            expected_de="CSV-Text",
            found_de="die PDF-Kennung %PDF am Dateianfang",
        )
    nul = data.find(b"\x00")
    if nul >= 0:
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
            line=_line_of(data, nul),
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
            line=_line_of(data, first),
            expected="CSV text",
            found=f"{controls} control bytes in the first {len(sample)} bytes, "
            f"the first is 0x{sample[first]:02x} at byte offset {first}",
            stage="file",
            problem_de="die Datei ist eine Binärdatei, kein Text",
            expected_de="CSV-Text",
            found_de=f"{controls} Steuerzeichen in den ersten {len(sample)} Bytes, "
            f"das erste ist 0x{sample[first]:02x} an Byte-Position {first}",
        )


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


def _guess_single_byte(data: bytes) -> tuple[str, str, int]:
    """(text, encoding, margin): cp1252 or cp850, whichever reads as more plausible German;
    ties go to cp1252. Scored chunk by chunk until one leads by `_DECISIVE` points, so a large
    file costs no more than a small one. `margin` is the lead (0 when only one could decode)."""
    try:
        as_1252: str | None = data.decode("cp1252")
    except UnicodeDecodeError:
        as_1252 = None  # cp1252 leaves 0x81 0x8d 0x8f 0x90 0x9d undefined; cp850 uses them
    as_850 = data.decode("cp850")
    if as_1252 is None:
        return as_850, "cp850", 0
    lead = 0  # > 0: cp1252 reads better
    for start in range(0, len(as_850), _CHUNK):
        end = start + _CHUNK + 1
        lead += german_score(as_1252[start:end]) - german_score(as_850[start:end])
        if abs(lead) >= _DECISIVE:
            break
    if lead >= 0:
        return as_1252, "cp1252", lead
    return as_850, "cp850", -lead


def looks_like(data: bytes) -> str:
    """The encoding auto-detection would choose for `data` (used in error messages)."""
    bom = data.startswith(codecs.BOM_UTF8)
    if bom:
        data = data[3:]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return _guess_single_byte(data)[1] + (" after a UTF-8 BOM" if bom else "")
    return "utf-8 with BOM" if bom else "utf-8"


def _canonical(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None


def decode(data: bytes, file_name: str, encoding: str = "auto") -> tuple[str, str]:
    """Decode a delivery; returns (text, encoding used) with line endings normalised to "\\n".

    `encoding="auto"`: UTF-8 BOM -> "utf-8-sig"; UTF-16 BOM -> "utf-16" (Excel "Unicode text");
    valid UTF-8 -> "utf-8"; otherwise "cp1252" or "cp850", whichever yields plausible German.
    A declared encoding is applied strictly (a UTF-8 BOM is dropped under "utf-8"); a byte it
    cannot decode, or single-byte text that only makes sense in the other code page, raises
    DeliveryFormatError with the line. Empty files, zip/xlsx/xls/gzip/PDF payloads and binary
    data raise DeliveryFormatError as well.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and encoding in (
        "auto",
        "utf-16",
    ):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as err:
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
            ) from None
        return _checked_text(normalize_newlines(text), file_name), "utf-16"

    declared = None if encoding == "auto" else _canonical(encoding)
    if (
        declared
        and not declared.startswith(("utf-16", "utf-32"))
        and data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    ):
        # Excel's "Unicode text": the BOM says what it is — not "UTF-16 without a BOM"
        raise DeliveryFormatError(
            file_name,
            f"the file is UTF-16 text (it starts with a UTF-16 byte order mark), not {declared}",
            line=1,
            expected=f"{declared} as declared for this source — in Excel save as "
            "'CSV (Trennzeichen-getrennt)', not as 'Unicode-Text'",
            found="the UTF-16 byte order mark 0x" + data[:2].hex(),
            stage="file",
            problem_de=f"die Datei ist UTF-16-Text (sie beginnt mit einer UTF-16-Byte-Order-Mark), "
            f"kein {encoding_de(declared)}",
            expected_de=f"{encoding_de(declared)}, wie für diese Quelle angegeben – in Excel als "
            "'CSV (Trennzeichen-getrennt)' speichern, nicht als 'Unicode-Text'",
            found_de="die UTF-16-Byte-Order-Mark 0x" + data[:2].hex(),
        )
    if declared and declared.startswith(("utf-16", "utf-32")):
        if not data:
            _reject_non_text(data, file_name)
        text = _strict(data, declared, file_name, declared=True)
        return _checked_text(normalize_newlines(text.removeprefix("\ufeff")), file_name), declared

    _reject_non_text(data, file_name)

    if declared is None:
        if data.startswith(codecs.BOM_UTF8):
            used = "utf-8-sig"
            text = _strict(data, used, file_name, declared=False)
        else:
            try:
                text, used = data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                text, used, _ = _guess_single_byte(data)
        return _checked_text(normalize_newlines(text), file_name), used

    used = declared
    if data.startswith(codecs.BOM_UTF8):
        if used == "utf-8":
            used = "utf-8-sig"
        elif data[3:].isascii():
            data = data[3:]  # a BOM before plain ASCII: harmless under any code page
    text = _strict(data, used, file_name, declared=True)
    if used in ("cp1252", "cp850", "iso8859-1", "iso8859-15"):
        _check_plausible(data, text, used, file_name)
    return _checked_text(normalize_newlines(text), file_name), used


def _strict(data: bytes, encoding: str, file_name: str, *, declared: bool) -> str:
    skip = 0
    if encoding == "utf-8-sig" and data.startswith(codecs.BOM_UTF8):
        skip = len(codecs.BOM_UTF8)  # decode the rest as utf-8 so offsets stay those of `data`
    try:
        return data[skip:].decode("utf-8" if skip else encoding)
    except UnicodeDecodeError as err:
        err.start += skip
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
        seems = looks_like(data)
        raise DeliveryFormatError(
            file_name,
            f"byte 0x{data[err.start]:02x} is not valid {label}",
            line=_line_of(data, err.start),
            expected=expected,
            found=f"text that looks like {seems}",
            stage="file",
            problem_de=f"Byte 0x{data[err.start]:02x} ist kein gültiges {label_de}",
            expected_de=expected_de,
            found_de=f"Text, der nach {encoding_de(seems)} aussieht",
        ) from None


def _word_at(text: str, i: int) -> str:
    """The cell-or-word around position i (for messages)."""
    start = max(text.rfind(sep, 0, i) for sep in ("\n", " ", ";", ",", "\t")) + 1
    stops = [p for p in (text.find(sep, i) for sep in ("\n", " ", ";", ",", "\t")) if p >= 0]
    return text[start : min(stops, default=len(text))][:40]


def _check_plausible(data: bytes, text: str, used: str, file_name: str) -> None:
    """A declared single-byte code page never fails to decode; refuse the cases where it
    produces mojibake ('M„nner', 'Sch³ler', 'MÃ¼nster') because the file is UTF-8 or in the
    other code page."""
    high = _HIGH_BYTE.search(data)
    if high is None:
        return  # plain ASCII reads the same in every code page
    first_high = high.start()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        raise _garbled(file_name, used, "utf-8", text, first_high)
    other_text, guess, margin = _guess_single_byte(data)
    if margin < 3 or (guess == "cp850") == (used == "cp850"):
        return
    position = next(
        (
            m.start()
            for m in _NON_ASCII.finditer(other_text)
            if other_text[m.start()] in _GERMAN and text[m.start()] != other_text[m.start()]
        ),
        first_high,
    )
    raise _garbled(file_name, used, guess, text, position)


def _garbled(file_name: str, used: str, guess: str, text: str, i: int) -> DeliveryFormatError:
    return DeliveryFormatError(
        file_name,
        f"the text decoded as {used} is garbled, e.g. {_word_at(text, i)!r}",
        line=_line_of(text, i),
        expected=f"{used} as declared for this source",
        found=f"text that looks like {guess}",
        stage="file",
        problem_de=f"der als {encoding_de(used)} gelesene Text ist verstümmelt, "
        f"z. B. {_word_at(text, i)!r}",
        expected_de=f"{encoding_de(used)}, wie für diese Quelle angegeben",
        found_de=f"Text, der nach {encoding_de(guess)} aussieht",
    )


def _checked_text(text: str, file_name: str) -> str:
    if not text.strip():
        raise DeliveryFormatError(
            file_name,
            "the file is empty",
            expected="a text file with a header line",
            found="only whitespace",
            stage="file",
            problem_de="die Datei ist leer",
            expected_de="eine Textdatei mit einer Kopfzeile",
            found_de="nur Leerzeichen und Leerzeilen",
        )
    return text


def sep_hint(line: str) -> str | None:
    """The delimiter named by Excel's `sep=;` first line, or None if `line` is no such hint."""
    match = _SEP_HINT.match(line)
    return match.group(1) if match else None


def _width(rows: list[list[str]]) -> list[int]:
    """Number of cells per row, not counting trailing empty cells."""
    widths = []
    for row in rows:
        n = len(row)
        while n > 1 and not row[n - 1].strip():
            n -= 1
        widths.append(n)
    return widths


def detect_delimiter(header_line: str, more_lines: Sequence[str] = ()) -> str | None:
    """The delimiter of a header line: ';' ',' tab or '|'; None if the line contains none.

    With `more_lines` (a few data lines after the header) a candidate that splits every line
    into as many cells as the header wins over one that does not, so that
    'Name;Schüler, weiblich, deutsch' is read as two columns, not three. Otherwise the
    candidate giving the most header cells wins; ties go to ';', tab, '|', ','. Delimiters
    inside quotes do not count.
    """
    best: tuple[int, int, int, str] | None = None
    for preference, delimiter in enumerate(DELIMITERS):
        if delimiter not in header_line:
            continue
        try:
            rows = list(csv.reader([header_line, *more_lines], delimiter=delimiter))
        except csv.Error:
            continue
        if not rows:
            continue
        widths = _width([r for r in rows if r])
        header_cells = widths[0] if widths else 0
        if header_cells < 2:
            continue
        consistent = sum(1 for w in widths[1:] if w == header_cells)
        key = (consistent, header_cells, -preference, delimiter)
        if best is None or key > best:
            best = key
    return best[3] if best else None
