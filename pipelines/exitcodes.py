"""Exit codes of `bildungsmonitor run` (documented in docs/operations.md, "Exit codes").

Kept apart from the summary so that the CLI can name them before it imports Dagster.
"""

EXIT_PUBLISHED = 0  # the run published
EXIT_BLOCKED = 1  # a blocking check failed: nothing published, the previous publication stays
EXIT_BROKEN = 2  # the run broke otherwise (the message says how)
EXIT_SOURCE_FAILED = 3  # published, but a live source could not be fetched (last good data)
# published, with sources held back: a delivery was rejected (or one rejected earlier has not been
# followed by a good one); those sources' last good data was published. Wins over 3: a partner
# has to send a corrected file
EXIT_HELD_BACK = 4
EXIT_REFUSED = 5  # refused: another run is in progress (one run at a time); nothing was done
# the environment: no space left on device, a read-only or missing data directory, permission
# denied — one line names the path and the cause; the run is marked failed, nothing is damaged
EXIT_ENVIRONMENT = 6
