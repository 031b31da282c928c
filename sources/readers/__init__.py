"""Delivery readers: bytes of a delivery -> RawTable (cells as text, with line numbers).

    read_csv(data, file_name, *, encoding="auto", delimiter="auto", header_line=None)
    read_genesis_table(data, file_name, *, encoding="auto")
    read_ffcsv(data, file_name)
    read_json_records(data, file_name)     (the archived payload of a JSON API)

Every structural problem raises DeliveryFormatError naming the file and, where known, line
and column. Cells are not parsed here (see sources.symbols).
"""

from sources.readers.base import DeliveryFormatError, RawRow, RawTable
from sources.readers.csv import read_csv
from sources.readers.decoding import decode
from sources.readers.ffcsv import read_ffcsv
from sources.readers.genesis_table import read_genesis_table
from sources.readers.json_records import read_json_records
from sources.readers.text import detect_delimiter

__all__ = [
    "DeliveryFormatError",
    "RawRow",
    "RawTable",
    "decode",
    "detect_delimiter",
    "read_csv",
    "read_ffcsv",
    "read_genesis_table",
    "read_json_records",
]
