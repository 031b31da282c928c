"""`bildungsmonitor`: run the nightly job through Dagster, open the UI.

    bildungsmonitor run [--data-dir DIR]     run the nightly job now; prints a summary;
                                             exit 0 = published, 1 = a blocking check failed
                                             (nothing published), 2 = the run broke otherwise,
                                             3 = published, a live source could not be fetched,
                                             4 = published, with sources held back (a delivery
                                             was rejected; their last good data is published),
                                             5 = refused: another run is in progress,
                                             6 = the environment (no space left, data directory
                                             read-only or missing, permission denied)
    bildungsmonitor publications             the kept publications (run id, time, sources, checks)
    bildungsmonitor rollback RUN_ID          republish a kept publication atomically; exit 0
                                             done, 2 unknown run, 5 a run is in progress
    bildungsmonitor ui [--port 3000]         dagster dev with the same instance (DAGSTER_HOME)
    bildungsmonitor daemon                   the Dagster daemon, as the systemd unit runs it
    bildungsmonitor webserver [--port 3000]  the Dagster UI, as the systemd unit runs it
    bildungsmonitor screen FILE --source ID  check a delivery before sending it; exit 0 pass,
                                             1 warnings only, 2 fail ([--json])
    bildungsmonitor export [--public] [--format csv|csv-international|xlsx|parquet]
                           [--indicator ID …] [--region CODE|ruhr …] [--years 2018-2022]
                           [--out DIR]       indicators and measures from the publication
    bildungsmonitor docs                     regenerate the generated sections of docs/
    bildungsmonitor genesis-metadata --source ID   a GENESIS table's variables and codes
    bildungsmonitor genesis-metadata TABLE --yaml  a starting registry YAML for a table
    bildungsmonitor genesis-metadata --check ID    the source's YAML against the live table;
                                             exit 1 with every mismatch listed
    bildungsmonitor portal [--host H] [--port 8040]  the partner portal (docs/portal.md)
    bildungsmonitor portal add-partner ID    issue an access token (only its hash is stored)
    bildungsmonitor portal revoke ID [--token TOKEN_ID]   revoke a partner's token(s)

A mistake in the source registry or the catalogue YAML is printed as one line per mistake
(file, line, key, what was expected) and the command exits with code 2.

The run goes through the Dagster instance under <data>/dagster_home, so it shows in the UI with
its lineage, logs and check results like a scheduled run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from pipelines.exitcodes import EXIT_ENVIRONMENT, EXIT_REFUSED
from schemas.yamlmodel import YamlError
from sources.registry import PROFILES
from warehouse.db import REPO_ROOT, DataPaths

DAGSTER_YAML = REPO_ROOT / "dagster.yaml"
# a start waits this long for the run lock (the schedule and the sensor take it for a moment
# while they look for dead runs) before it is refused
LOCK_WAIT_SECONDS = 3


def select_registry(args: argparse.Namespace) -> None:
    """--profile / --registry travel as environment variables, so that the UI started by
    `bildungsmonitor ui` and the run started here load the same sources."""
    if getattr(args, "profile", None):
        os.environ["BILDUNGSMONITOR_PROFILE"] = args.profile
    if getattr(args, "registry", None):
        os.environ["BILDUNGSMONITOR_REGISTRY_DIR"] = str(Path(args.registry).resolve())


def selected_registry(args: argparse.Namespace) -> Path:
    """The registry folder --registry / --profile (or their environment variables) name."""
    from sources.registry import registry_dir

    folder = os.environ.get("BILDUNGSMONITOR_REGISTRY_DIR")
    profile = getattr(args, "profile", None) or os.environ.get("BILDUNGSMONITOR_PROFILE")
    return Path(folder) if folder else registry_dir(profile)


def prepare_instance(paths: DataPaths) -> Path:
    """DAGSTER_HOME under the data directory, with the repository's dagster.yaml."""
    home = paths.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != DAGSTER_YAML.read_bytes():
        shutil.copyfile(DAGSTER_YAML, target)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["BILDUNGSMONITOR_DATA_DIR"] = str(paths.root)
    return home


def _paths(args: argparse.Namespace) -> DataPaths:
    if args.data_dir:
        return DataPaths(Path(args.data_dir).resolve())
    return DataPaths.from_env()


def cmd_run(args: argparse.Namespace) -> int:
    paths = _paths(args)
    select_registry(args)
    from alerts.channels import missing_credentials
    from schemas.operations import load_operations
    from sources.registry import load_registry
    from warehouse.environment import DataDirError, check_data_dir, exception_chain, find_problem
    from warehouse.runlock import RunInProgress, RunLock

    sources = load_registry(selected_registry(args))  # a mistake in the YAML: say so first
    config = load_operations(paths.root, sources)  # alerts and retention (operations.yaml)
    missing = missing_credentials(config.alerts.email, config.alerts.webhook)
    if missing:
        print("\n".join(missing), file=sys.stderr)
        return 2
    try:
        check_data_dir(paths)
        prepare_instance(paths)
        # Dagster and the pipeline are imported only now: DAGSTER_HOME must be set first.
        import dagster as dg

        instance = dg.DagsterInstance.get()
        run_id = str(uuid.uuid4())  # known before the run exists: the lock file names it
        lock = RunLock.acquire(paths, run_id, "cli", wait=LOCK_WAIT_SECONDS)
    except RunInProgress as exc:
        print(exc)
        return EXIT_REFUSED
    except DataDirError as exc:
        print(f"Cannot run: {exc}")
        return EXIT_ENVIRONMENT
    except Exception as exc:
        problem = find_problem(exception_chain(exc), paths.dagster_home)
        if problem is None:
            raise
        print(f"Cannot run: {problem.line()}")
        return EXIT_ENVIRONMENT
    with lock:
        return _run_locked(args, paths, instance, lock, run_id, sources, config)


def _run_locked(args, paths: DataPaths, instance, lock, run_id: str, sources, config) -> int:
    from pipelines.definitions import build_definitions
    from pipelines.jobs import NIGHTLY_JOB
    from pipelines.recovery import recover
    from pipelines.summary import RunSummary
    from warehouse.environment import exception_chain, find_problem
    from warehouse.runlock import remove_leftovers

    try:
        for line in recover(instance, paths, lock, run_id, "bildungsmonitor run").lines():
            print(line)
        defs = build_definitions(data_dir=paths.root)
        job = defs.resolve_job_def(NIGHTLY_JOB)
        print(
            f"Bildungsmonitor: running job '{NIGHTLY_JOB}' (data directory {paths.root}) …",
            flush=True,
        )
        started = time.monotonic()
        # the console shows the pipeline's own messages; every event is in the UI's run log
        level = "DEBUG" if args.verbose else "INFO"
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_id=run_id,
            tags={"trigger": "cli"},
            run_config={"loggers": {"console": {"config": {"log_level": level}}}},
        )
        remove_leftovers(paths)  # what a failed step left behind (a temp file on a full disk)
        summary = RunSummary.collect(paths, result, time.monotonic() - started)
    except Exception as exc:
        with contextlib.suppress(OSError):
            remove_leftovers(paths)
        # e.g. the disk filled up under Dagster's own event log: say what and where, mark the
        # run failed if the instance can still be written (else the next start will)
        problem = find_problem(exception_chain(exc), paths.dagster_home)
        if problem is None:
            raise
        print(f"Run {run_id} stopped by the environment: {problem.line()}")
        with contextlib.suppress(OSError):
            lock.note_stop(problem.line())  # for the next start, if the instance cannot say it
        with contextlib.suppress(Exception):  # the instance may be what cannot be written
            run = instance.get_run_by_id(run_id)
            if run is not None and not run.is_finished:
                instance.report_run_failed(run, problem.line())
        return EXIT_ENVIRONMENT
    print(summary.render())
    from pipelines.alerting import tell

    for line in tell(summary, paths, sources, config):
        print(line)
    return summary.exit_code


def cmd_publications(args: argparse.Namespace) -> int:
    """The kept publications, newest first; * marks the one analysts see."""
    from warehouse.publications import history_dir, kept_publications

    paths = _paths(args)
    kept = kept_publications(paths)
    print(f"Publications kept in {history_dir(paths)} (newest first; * = published now):")
    for publication in kept:
        print(publication.line())
    if not kept:
        print("  (none yet)")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """Republish a kept publication, atomically, while no run is working."""
    from warehouse.environment import exception_chain, find_problem
    from warehouse.publications import UnknownPublication, find_kept, republish
    from warehouse.runlock import RunInProgress, RunLock

    paths = _paths(args)
    try:
        kept = find_kept(paths, args.run_id)
    except UnknownPublication as exc:
        print(exc)
        return 2
    try:
        with RunLock.acquire(paths, None, "rollback", wait=LOCK_WAIT_SECONDS):
            target = republish(paths, kept, "rollback")
    except RunInProgress as exc:
        print(exc)
        return EXIT_REFUSED
    except OSError as exc:
        problem = find_problem(exception_chain(exc), paths.root)
        if problem is None:
            raise
        print(f"Cannot roll back: {problem.line()}")
        return EXIT_ENVIRONMENT
    print(
        f"Rolled back: {target} is the publication of run {kept.run_id} (published "
        f"{kept.published_at:%Y-%m-%d %H:%M:%S} UTC) again. The next run publishes anew from "
        "the warehouse."
    )
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    paths = _paths(args)
    select_registry(args)
    from sources.registry import load_registry

    load_registry(selected_registry(args))  # a mistake in the YAML: say so before starting
    home = prepare_instance(paths)
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home})", flush=True)
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-m",
        "pipelines.definitions",
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    return subprocess.call(command, cwd=REPO_ROOT)


def _serve(args: argparse.Namespace, program: str, *options: str) -> int:
    """A Dagster service on the pipeline's instance (DAGSTER_HOME under the data directory),
    after the registry and operations.yaml were checked; it replaces this process, so systemd
    supervises the service itself (deploy/*.service)."""
    paths = _paths(args)
    select_registry(args)
    from alerts.channels import missing_credentials
    from schemas.operations import load_operations
    from sources.registry import load_registry

    sources = load_registry(selected_registry(args))  # a mistake in the YAML: say so first
    config = load_operations(paths.root, sources)
    missing = missing_credentials(config.alerts.email, config.alerts.webhook)
    if missing:
        print("\n".join(missing), file=sys.stderr)
        return 2
    prepare_instance(paths)
    command = [str(Path(sys.executable).parent / program), *options]
    print(f"{' '.join(command)} (DAGSTER_HOME={paths.dagster_home})", flush=True)
    os.chdir(REPO_ROOT)
    os.execv(command[0], command)
    return 0  # (not reached)


def cmd_daemon(args: argparse.Namespace) -> int:
    return _serve(args, "dagster-daemon", "run", "-m", "pipelines.definitions")


def cmd_webserver(args: argparse.Namespace) -> int:
    return _serve(
        args, "dagster-webserver", "-m", "pipelines.definitions", "-h", args.host,
        "-p", str(args.port),
    )  # fmt: skip


def cmd_docs(args: argparse.Namespace) -> int:
    from pipelines.docs import regenerate

    changed = regenerate()
    for path in changed:
        print(f"updated {path.relative_to(REPO_ROOT)}")
    if not changed:
        print("docs are up to date")
    return 0


def cmd_genesis_metadata(args: argparse.Namespace) -> int:
    """What the GENESIS service says about a table: its whole nested structure, each
    variable's role, codes, labels and units (from the table's flat file), and the change
    stamp — to write or check a mapping. `--yaml` prints a starting registry entry for the
    table, `--check SOURCE` lists every mismatch between a registry entry and the live table
    (exit 1 if there is any)."""
    select_registry(args)
    from schemas.catalogue import load_catalogue
    from sources.clients.genesis import GenesisClient, GenesisCredentials, GenesisSettings
    from sources.clients.http import FetchError, RetryPolicy
    from sources.fetch import describe_genesis_table, flat_rows, genesis_client, missing_variable
    from sources.genesis_structure import check_mapping, starting_yaml, structure_of
    from sources.registry import GenesisApi, load_registry

    source = None
    wanted = args.check or args.source
    if wanted:
        sources = load_registry(selected_registry(args))
        source = sources.get(wanted)
        if source is None or not isinstance(source.api, GenesisApi):
            genesis = sorted(s.id for s in sources.values() if isinstance(s.api, GenesisApi))
            print(f"{wanted!r} is not a genesis_api source here; these are: {', '.join(genesis)}")
            return 2
        api = source.api
        table, base_url = api.table, api.base_url
        username_env, password_env = api.username_env, api.password_env
        parameters = dict(api.parameters)
    elif args.table:
        table, base_url = args.table, args.base_url
        username_env, password_env = args.username_env, args.password_env or None
        parameters = {"area": "all"}
    else:
        print("name a table (genesis-metadata TABLE), --source ID or --check ID")
        return 2
    found_as = None

    def progress(message: str) -> None:  # stdout is the answer (a YAML file with --yaml)
        print(message, file=sys.stderr)

    try:
        username = os.environ.get(username_env)
        if not username:
            raise missing_variable(table, username_env, source.id if source else "genesis-metadata")
        credentials = GenesisCredentials(
            username, os.environ.get(password_env, "") if password_env else ""
        )
        if source is not None:
            client = genesis_client(source, credentials, progress)
        else:
            settings = GenesisSettings(
                base_url, poll_interval_seconds=args.poll_interval, retry=RetryPolicy(attempts=3)
            )
            client = GenesisClient(settings, credentials, progress)
        with client:
            area = parameters.get("area", "all")
            try:
                metadata = client.table_metadata(table, area=area)
            except FetchError as exc:
                # a name the service does not know: is there a table of a name like it?
                if args.check is None or exc.kind == "credentials":
                    raise
                like = [code for code, _ in client.find_tables(f"{table}*", area=area)]
                found_as = next((code for code in like if code != table), None)
                if found_as is None:
                    print(f"{source.path.name}: table: the service has no table {table} ({exc})")
                    return 1
                metadata = client.table_metadata(found_as, area=area)
            # the roles, codes and units are the flat file's to say: fetch it as a night would
            fetched = client.fetch_table(found_as or table, parameters, ask_updated=False)
    except FetchError as exc:
        print(exc)
        return 1
    rows = flat_rows(fetched.csv() if fetched.is_zip else fetched.payload)
    structure = structure_of(found_as or table, metadata, rows)
    if args.yaml:
        text, irregular = starting_yaml(
            structure,
            load_catalogue(),
            base_url=base_url,
            username_env=username_env,
            password_env=password_env,
            source_id=args.id,
        )
        print(text, end="")
        for note in irregular:
            print(f"not regular: {note} — edit the entry before using it", file=sys.stderr)
        return 0
    if args.check:
        assert source is not None
        mismatches = check_mapping(source, structure, load_catalogue(), found_as=found_as)
        for mismatch in mismatches:
            print(f"{source.path.name}: {mismatch}")
        if mismatches:
            print(
                f"{len(mismatches)} mismatch{'es' * (len(mismatches) > 1)} between "
                f"{source.path.name} and the live table {found_as or table}"
            )
            return 1
        print(
            f"{source.path.name} matches the live table {table} ({structure.lines:,} lines: "
            f"{len(structure.variables)} variables, {len(structure.values)} value "
            f"variable{'s' * (len(structure.values) > 1)}, time {structure.time_code})"
        )
        return 0
    print(describe_genesis_table(metadata, rows))
    return 0


def cmd_screen(args: argparse.Namespace) -> int:
    """Check a delivery before sending it: nothing is loaded. Exit 0 pass, 1 warnings, 2 fail."""
    select_registry(args)
    from expectations.screening import screen_delivery
    from sources.registry import load_registry

    sources = load_registry(selected_registry(args))
    source = sources.get(args.source)
    if source is None:
        print(f"unknown source {args.source!r}; known: {', '.join(sorted(sources))}")
        return 2
    path = Path(args.file)
    if not path.is_file():
        print(f"{args.file}: no such file / Datei nicht gefunden")
        return 2
    published = _paths(args).published_db
    report = screen_delivery(path.read_bytes(), path.name, source, sources, published)
    print(report.to_json() if args.json else report.render(args.language))
    return report.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    """Build the indicator report from the current publication (after editing the commentary)."""
    from report.site import build_report

    paths = _paths(args)
    if not paths.published_db.exists():
        print(f"{paths.published_db}: no publication yet; run `bildungsmonitor run` first")
        return 2
    target = Path(args.out).resolve() if args.out else paths.report
    kwargs = {"commentary": Path(args.commentary)} if args.commentary else {}
    site = build_report(paths.published_db, target, force=args.force, **kwargs)
    kept = ", unchanged" if site.unchanged else ""  # as the run's summary says it
    print(f"Report: {site.index} ({len(site.pages)} pages{kept})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Indicators and measures from the publication (read-only) as files; --public protects
    small cells (exports/protection.yaml)."""
    from exports.config import PROTECTION_YAML, load_protection
    from exports.formats import write
    from exports.tables import Selection, SelectionError, extract, parse_years

    try:
        selection = Selection(
            tables=tuple(args.tables.split(",")),
            indicators=tuple(args.indicator or ()),
            measures=tuple(args.measure or ()),
            regions=tuple(args.region or ()),
            years=parse_years(args.years) if args.years else None,
        )
        rules = load_protection(Path(args.protection or PROTECTION_YAML)) if args.public else None
        result = extract(_paths(args).published_db, selection, rules)
    except SelectionError as exc:
        print(exc, file=sys.stderr)
        return 2
    out = Path(args.out)
    for path in write(result, selection, out, args.format):
        print(f"wrote {path}")
    if result.suppression is not None:
        s = result.suppression
        print(
            f"small-cell protection: {s.primary} cells suppressed (primary), {s.secondary} "
            f"(secondary), {s.derived} (gaps and percentages that would give them away)"
        )
    return 0


def cmd_portal(args: argparse.Namespace) -> int:
    """The partner portal, or (add-partner, revoke) its access tokens."""
    select_registry(args)
    from portal.partners import partners_file
    from portal.serve import PortalConfig, add_partner, revoke, serve
    from sources.registry import load_registry

    config = PortalConfig(
        _paths(args),
        load_registry(selected_registry(args)),
        Path(args.partners) if args.partners else partners_file(),
    )
    if args.portal_command == "add-partner":
        code, text = add_partner(config, args.partner)
    elif args.portal_command == "revoke":
        code, text = revoke(config, args.partner, args.token)
    else:
        serve(
            config,
            args.host,
            args.port,
            max_upload=args.max_upload_mb * 1024 * 1024,
            secure_cookies=not args.insecure_cookies,
            forwarded_allow_ips=args.forwarded_allow_ips,
        )
        return 0
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", help="data directory (default ./data or $BILDUNGSMONITOR_DATA_DIR)"
    )
    common.add_argument(
        "--profile",
        choices=PROFILES,
        help="sources: demo (bundled files, the default) or production (live APIs, inboxes)",
    )
    common.add_argument("--registry", help="a folder of source YAML files instead of a profile")
    parser = argparse.ArgumentParser(
        prog="bildungsmonitor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[common], help="run the nightly job now, print a summary")
    run.add_argument("-v", "--verbose", action="store_true", help="log every Dagster event")
    run.set_defaults(func=cmd_run)
    ui = sub.add_parser("ui", parents=[common], help="open the Dagster UI (dagster dev)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
    screen = sub.add_parser(
        "screen", parents=[common], help="check a delivery before sending it (nothing is loaded)"
    )
    screen.add_argument("file", help="the file to check")
    screen.add_argument("--source", required=True, help="the source id it is delivered for")
    screen.add_argument("--json", action="store_true", help="machine-readable output")
    screen.add_argument("--language", choices=("both", "de", "en"), default="both")
    screen.set_defaults(func=cmd_screen)
    daemon = sub.add_parser(
        "daemon", parents=[common], help="the Dagster daemon as a service (deploy/*.service)"
    )
    daemon.set_defaults(func=cmd_daemon)
    webserver = sub.add_parser(
        "webserver", parents=[common], help="the Dagster UI as a service (no daemon of its own)"
    )
    webserver.add_argument("--host", default="127.0.0.1")
    webserver.add_argument("--port", type=int, default=3000)
    webserver.set_defaults(func=cmd_webserver)
    publications = sub.add_parser(
        "publications", parents=[common], help="list the kept publications (for a rollback)"
    )
    publications.set_defaults(func=cmd_publications)
    rollback = sub.add_parser(
        "rollback", parents=[common], help="republish a kept publication (atomically)"
    )
    rollback.add_argument("run_id", help="the run whose publication to republish (8+ chars)")
    rollback.set_defaults(func=cmd_rollback)
    report = sub.add_parser(
        "report", parents=[common], help="build the indicator report from the publication"
    )
    report.add_argument("--commentary", help="commentary YAML (default report/commentary.yaml)")
    report.add_argument(
        "--out", help="folder to write the report to (default data/reports/bericht)"
    )
    report.add_argument(
        "--force", action="store_true", help="draw every page even if nothing they show changed"
    )
    report.set_defaults(func=cmd_report)
    export = sub.add_parser(
        "export", parents=[common], help="indicators and measures as CSV, XLSX or Parquet"
    )
    export.add_argument("--out", default="export", help="folder to write into (default ./export)")
    export.add_argument(
        "--format",
        choices=("csv", "csv-international", "xlsx", "parquet"),
        default="csv",
        help="csv: German Excel (UTF-8 with BOM, ';', decimal comma), the default",
    )
    export.add_argument("--public", action="store_true", help="apply small-cell protection")
    export.add_argument("--protection", help="protection rules (default exports/protection.yaml)")
    export.add_argument("--indicator", action="append", help="an indicator id (repeatable)")
    export.add_argument("--measure", action="append", help="a measure id (repeatable)")
    export.add_argument(
        "--region", action="append", help="a region key, RVR, or 'ruhr' (repeatable)"
    )
    export.add_argument("--years", help="start years, e.g. 2018-2022 or 2018/19-2022/23")
    export.add_argument(
        "--tables",
        default="indicators,measures",
        choices=("indicators,measures", "indicators", "measures"),
    )
    export.set_defaults(func=cmd_export)
    docs = sub.add_parser("docs", help="regenerate the generated sections of docs/")
    docs.set_defaults(func=cmd_docs)
    metadata = sub.add_parser(
        "genesis-metadata", parents=[common], help="show a genesis_api table's variables and codes"
    )
    metadata.add_argument("table", nargs="?", help="a table code, e.g. 12411-01-01-4")
    metadata.add_argument("--source", help="id of a genesis_api source: its table")
    metadata.add_argument(
        "--check", metavar="SOURCE", help="compare the source's YAML with the live table"
    )
    metadata.add_argument(
        "--yaml", action="store_true", help="print a starting registry YAML for the table"
    )
    metadata.add_argument("--id", help="the source id of the starting YAML")
    metadata.add_argument(
        "--base-url",
        default="https://www.regionalstatistik.de/genesisws/rest/2020",
        help="the GENESIS service of TABLE (default: Regionalstatistik)",
    )
    metadata.add_argument("--username-env", default="REGIONALSTATISTIK_USERNAME")
    metadata.add_argument("--password-env", default="REGIONALSTATISTIK_PASSWORD")
    metadata.add_argument(
        "--poll-interval", type=float, default=10.0, help="seconds between polls of a job"
    )
    metadata.set_defaults(func=cmd_genesis_metadata)
    portal_common = argparse.ArgumentParser(add_help=False, parents=[common])
    portal_common.add_argument(
        "--partners", help="partners YAML (default portal/partners.yaml or "
        "$BILDUNGSMONITOR_PORTAL_PARTNERS)"
    )  # fmt: skip
    portal = sub.add_parser(
        "portal", parents=[portal_common], help="the partner portal: upload, screen, deliver"
    )
    portal.add_argument("--host", default="127.0.0.1", help="address to listen on")
    portal.add_argument("--port", type=int, default=8040)
    portal.add_argument("--max-upload-mb", type=int, default=100, help="upload limit (MB)")
    portal.add_argument(
        "--insecure-cookies",
        action="store_true",
        help="send the session cookie over plain HTTP too (only for a test on one machine)",
    )
    portal.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="the reverse proxy's address, whose X-Forwarded-For is trusted",
    )
    portal.set_defaults(func=cmd_portal, portal_command=None)
    portal_sub = portal.add_subparsers(dest="portal_command")
    add = portal_sub.add_parser(
        "add-partner", parents=[portal_common], help="issue an access token for a partner"
    )
    add.add_argument("partner", help="the partner's id in the partners YAML")
    revoke = portal_sub.add_parser(
        "revoke", parents=[portal_common], help="revoke a partner's access tokens"
    )
    revoke.add_argument("partner", help="the partner's id")
    revoke.add_argument("--token", help="only this token id (default: all of the partner's)")
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except YamlError as exc:  # the registry or the catalogue: one line per mistake
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
