"""Sources held back: a rejected delivery holds back only its own source.

A delivery that cannot be read, or fails a blocking check of its source, is rejected whole;
nothing of it is loaded, so the night goes on and publishes every other source's new data and
this source's last good data. The source stays held back — its latest staged delivery is a
rejected one — until a good delivery arrives; a night without a new delivery changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class HeldBack:
    source_id: str
    file_name: str  # the latest rejected delivery
    reason: str  # why it was rejected (the delivery's message)
    since: dt.datetime  # when the first rejection after the last good delivery was staged (UTC)
    since_run_id: str  # the run that staged it
    last_good_file: str | None  # what the publication holds of the source instead
    rejected_in_run: bool  # rejected by the run asked about (else: no new delivery since)

    def line(self) -> str:
        """One line of the run summary and of an alert."""
        kept = f"kept {self.last_good_file}" if self.last_good_file else "no earlier data"
        if self.rejected_in_run:
            return f"{self.source_id} — {self.file_name} rejected: {self.reason} ({kept})"
        return (
            f"{self.source_id} — held back since {self.since:%Y-%m-%d %H:%M} UTC (run "
            f"{self.since_run_id[:8]}…), no new delivery since: {self.file_name} rejected: "
            f"{self.reason} ({kept})"
        )


def held_back_sources(conn: duckdb.DuckDBPyConnection, run_id: str) -> list[HeldBack]:
    """Every source whose latest staged delivery was rejected, as of `run_id`'s end."""
    rows = conn.execute(
        """WITH staged AS (
               SELECT * FROM meta.deliveries
               WHERE state IN ('loaded', 'loaded_with_quarantine', 'rejected')
           ),
           good AS (
               SELECT source_id, max(delivery_seq) AS seq,
                   arg_max(file_name, delivery_seq) AS file_name
               FROM staged WHERE state <> 'rejected' GROUP BY 1
           )
           SELECT s.source_id,
               arg_max(s.file_name, s.delivery_seq), arg_max(s.message, s.delivery_seq),
               min(s.parsed_at), arg_min(s.parsed_run_id, s.delivery_seq),
               any_value(g.file_name), bool_or(s.parsed_run_id = ?)
           FROM staged s LEFT JOIN good g USING (source_id)
           WHERE s.state = 'rejected' AND s.delivery_seq > coalesce(g.seq, -1)
           GROUP BY s.source_id ORDER BY s.source_id""",
        [run_id],
    ).fetchall()
    return [HeldBack(*row) for row in rows]


@dataclass(frozen=True)
class RejectedDelivery:
    delivery_id: str
    source_id: str
    file_name: str
    received_at: dt.datetime
    reason: str
    last_good_file: str | None


def rejected_in_run(conn: duckdb.DuckDBPyConnection, run_id: str) -> list[RejectedDelivery]:
    """The deliveries `run_id` rejected, with what their source keeps instead."""
    rows = conn.execute(
        """SELECT d.delivery_id, d.source_id, d.file_name, d.received_at, d.message,
               (SELECT arg_max(g.file_name, g.delivery_seq) FROM meta.deliveries g
                WHERE g.source_id = d.source_id AND g.delivery_seq < d.delivery_seq
                  AND g.state IN ('loaded', 'loaded_with_quarantine'))
           FROM meta.deliveries d WHERE d.parsed_run_id = ? AND d.state = 'rejected'
           ORDER BY d.source_id, d.delivery_seq""",
        [run_id],
    ).fetchall()
    return [RejectedDelivery(*row) for row in rows]
