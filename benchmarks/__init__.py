"""National-scale benchmarks: the pipeline side by side with DuckDB alone.

    python -m benchmarks --size 10M            (or ./go bench --size 10M)

`dataset` writes a national synthetic dataset as partner deliveries in the project's own
formats (streamed, cached under the work directory), `reference.sql` + `reference` compute the
same checks and indicator values with DuckDB alone, `measure` times subprocesses (wall, peak
RSS), `compare` matches the pipeline's publication against the reference and times the
analysts' query, `cli` ties it together (docs/performance.md).

Nothing in sources/, expectations/, warehouse/ or pipelines/ imports this package.
"""
