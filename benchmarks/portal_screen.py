"""`python -m benchmarks.portal_screen`: how long a partner waits in the portal for the
screener's answer to a 3,000-line delivery (issue 13: within 1 s).

Starts the real portal (uvicorn on loopback) on a scratch data directory — with a copy of a
publication if there is one (default ./data/published/bildungsmonitor.duckdb, as after `./go`),
so the year-over-year and revision checks run as in production — signs in with a fresh token
and uploads the benchmark's 3,000-line leavers delivery (benchmarks/dataset.py) several times
under different names (each is screened anew), timing upload -> findings page.

    python -m benchmarks.portal_screen [--repeat 5] [--publication PATH]

Prints one line per upload, the median and the maximum, and one JSON line; exit 0 when the
median is within 1 s.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

TARGET_S = 1.0
DEFAULT_PUBLICATION = Path("data") / "published" / "bildungsmonitor.duckdb"
PARTNER = "benchmark"


def _start(data_dir: Path):
    import uvicorn

    from portal.app import PortalSettings, build_app
    from portal.partners import Partner
    from portal.tokens import TokenStore
    from sources.registry import load_registry
    from warehouse.db import DataPaths

    paths = DataPaths(data_dir)
    partner = Partner(name="Benchmark", email="benchmark@example.org",
                      sources=["schulabgaenger_abschlussart"])  # fmt: skip
    token = TokenStore(paths.root / "portal").issue(PARTNER).token
    settings = PortalSettings(paths, load_registry(), {PARTNER: partner},
                              secure_cookies=False, session_secret="benchmark")  # fmt: skip
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(build_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    host, port = listening.getsockname()
    return server, thread, f"http://{host}:{port}", token


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def main(argv: list[str] | None = None) -> int:
    import httpx

    from benchmarks.dataset import screen_delivery

    parser = argparse.ArgumentParser(prog="python -m benchmarks.portal_screen")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--publication", type=Path, default=DEFAULT_PUBLICATION)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bm-portal-bench-") as scratch:
        delivery = screen_delivery(Path(scratch) / "delivery")
        data_dir = Path(scratch) / "data"
        if args.publication.is_file():
            (data_dir / "published").mkdir(parents=True)
            shutil.copyfile(args.publication, data_dir / "published" / args.publication.name)
        server, thread, url, token = _start(data_dir)
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                csrf = _csrf(client.get("/anmelden").text)
                client.post("/anmelden", data={"csrf": csrf, "token": token})
                csrf = _csrf(client.get("/").text)
                payload = delivery.read_bytes()
                times, verdict = [], None
                for number in range(args.repeat + 1):  # the first warms the imports up
                    started = time.perf_counter()
                    answer = client.post(
                        "/hochladen",
                        data={"csrf": csrf, "quelle": "schulabgaenger_abschlussart"},
                        files={"datei": (f"abgaenger_{number}.csv", payload, "text/csv")},
                    )
                    elapsed = time.perf_counter() - started
                    assert answer.status_code == 200, answer.text[:500]
                    verdict = re.search(r'id="urteil">Ergebnis: (\w+)', answer.text).group(1)
                    if number:
                        times.append(elapsed)
                        print(f"upload {number}: {elapsed:.3f} s ({verdict})")
        finally:
            server.should_exit = True
            thread.join(timeout=15)
    median, worst = statistics.median(times), max(times)
    lines = payload.count(b"\n") - 1
    print(f"portal screen ({lines:,} lines): median {median:.3f} s, max {worst:.3f} s over "
          f"{len(times)} uploads; publication: {'yes' if args.publication.is_file() else 'no'}; "
          f"target {TARGET_S:.0f} s")  # fmt: skip
    print(json.dumps({"portal_screen_lines": lines, "portal_screen_median_s": round(median, 3),
                      "portal_screen_max_s": round(worst, 3), "verdict": verdict,
                      "publication": args.publication.is_file()}))  # fmt: skip
    return 0 if median <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
