"""Fuzz the daemon's whole API against its own OpenAPI document.

    .venv/bin/python tools/fuzz.py [--minutes 10] [--seed N]

Starts ``twistd pleromad`` on a loopback port with its embedded PostgreSQL in
a temporary directory, creates an admin account with ``pleromad-ctl`` and a
token for it through the API, then runs schemathesis against
``/api/openapi.json`` twice, anonymously and as the admin, for half the time
each.  Prints, per run, the requests sent, the answers >= 500 and the failed
checks; exits 1 if there was any failure.

The suite's ``tests/test_fuzz.py`` runs the same checks (:data:`CHECKS`)
for a few seconds on every CI run; this is the long run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

BIN = Path(sys.executable).parent
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# Answers that are not JSON; generating bodies for them teaches nothing.
EXCLUDED_PATHS = r"^/(media|emoji|images)/"


@dataclass(frozen=True)
class Summary:
    requests: int
    server_errors: int
    failures: tuple[str, ...]  # one line per distinct failed check
    output: str


def schemathesis(
    base: str,
    report: Path,
    *,
    token: str | None,
    max_examples: int,
    max_time: int | None = None,
    seed: int | None = None,
) -> list[str]:
    """The command line of one schemathesis run against the daemon at ``base``."""
    command = [
        str(BIN / "st"),
        "run",
        f"{base}/api/openapi.json",
        "--url",
        base,
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(max_examples),
        "--exclude-path-regex",
        EXCLUDED_PATHS,
        "--phases",
        "examples,coverage,fuzzing",
        "--suppress-health-check",
        "all",
        "--workers",
        "1",
        "--max-redirects",
        "0",
        "--request-timeout",
        "30",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--output-truncate",
        "true",
    ]
    if max_time is not None:
        command += ["--max-time", str(max_time)]
    if seed is not None:
        command += ["--seed", str(seed)]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    return command


def summarize(report: Path, output: str) -> Summary:
    """Requests, 5xx answers and failures, from a run's ndjson report."""
    sent = server_errors = 0
    failures: set[str] = set()
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for interaction in _interactions(event):
            sent += 1
            status = (interaction.get("response") or {}).get("status_code") or 0
            if status >= 500:
                server_errors += 1
        for failure in _failures(event):
            failures.add(failure)
    return Summary(sent, server_errors, tuple(sorted(failures)), output)


def _interactions(event: dict) -> list[dict]:
    finished = event.get("ScenarioFinished")
    if not finished:
        return []
    recorder = finished.get("recorder") or {}
    return list((recorder.get("interactions") or {}).values())


def _failures(event: dict) -> list[str]:
    finished = event.get("ScenarioFinished")
    if not finished:
        return []
    recorder = finished.get("recorder") or {}
    found = []
    for check_list in (recorder.get("checks") or {}).values():
        for check in check_list:
            if check.get("status") == "failure":
                failure = check.get("failure_info") or {}
                title = (failure.get("failure") or {}).get("title") or check.get("name")
                message = (failure.get("failure") or {}).get("message", "")
                found.append(
                    f"{recorder.get('label', '?')}: {title}: {' / '.join(message.splitlines())}"
                )
    return found


# -- the long run ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(base: str, daemon: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit("the daemon stopped:\n" + log.read_text())
        try:
            if requests.get(base + "/api/pleroma/healthcheck", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit("the daemon never became healthy:\n" + log.read_text())


def _admin_token(base: str, workdir: Path, config: Path) -> str:
    password = "fuzzing admin password"
    subprocess.run(
        [
            str(BIN / "pleromad-ctl"),
            "--config",
            str(config),
            "user",
            "new",
            "fuzzadmin",
            "fuzzadmin@example.org",
            "--password",
            password,
            "--admin",
            "-y",
        ],
        cwd=workdir,
        check=True,
        capture_output=True,
        timeout=120,
    )
    app = requests.post(
        base + "/api/v1/apps",
        json={
            "client_name": "fuzz",
            "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
            "scopes": "read write follow push",
        },
        timeout=30,
    ).json()
    token = requests.post(
        base + "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "username": "fuzzadmin",
            "password": password,
            "scope": "read write follow push",
        },
        timeout=30,
    ).json()
    return token["access_token"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="pleromad-fuzz-"))
    os.chmod(workdir, 0o755)  # the embedded server may run as another user
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    config = workdir / "pleromad.toml"
    config.write_text(
        f'[server]\ndata_dir = "{workdir / "data"}"\nbase_url = "{base}"\n'
        f'listen = "tcp:{port}:interface=127.0.0.1"\n'
    )
    log = workdir / "twistd.log"
    daemon = subprocess.Popen(
        [
            str(BIN / "twistd"),
            "-n",
            "--pidfile=",
            "--logfile",
            str(log),
            "pleromad",
            "--config",
            str(config),
        ],
        cwd=workdir,
    )
    failed = False
    try:
        _wait_healthy(base, daemon, log)
        token = _admin_token(base, workdir, config)
        seconds = max(1, int(args.minutes * 60 / 2))
        for who, credential in (("anonymous", None), ("admin", token)):
            report = workdir / f"{who}.ndjson"
            started = time.monotonic()
            run = subprocess.run(
                schemathesis(
                    base,
                    report,
                    token=credential,
                    max_examples=10_000,
                    max_time=seconds,
                    seed=args.seed,
                ),
                capture_output=True,
                text=True,
                cwd=workdir,
            )
            summary = summarize(report, run.stdout + run.stderr)
            print(
                f"{who}: {summary.requests} requests in {time.monotonic() - started:.0f} s,"
                f" {summary.server_errors} answers >= 500,"
                f" {len(summary.failures)} failed checks"
            )
            for failure in summary.failures:
                print("  " + failure)
            failed = failed or bool(summary.failures) or summary.server_errors > 0
        if any("Traceback" in part.read_text() for part in workdir.glob("twistd.log*")):
            print(f"the daemon logged a traceback: see {log}")
            failed = True
    finally:
        daemon.terminate()
        daemon.wait(60)
        if not args.keep and not failed:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory kept: {workdir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
