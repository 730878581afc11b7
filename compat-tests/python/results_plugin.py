"""Records every test's outcome of a compat run as JSON, for the client ×
feature table (compat-tests/feature_table.py, docs/compatibility.md).

Enabled from pytest.ini (`-p results_plugin`). It only observes reports:
no fixture, no hook that changes a report, the exit status or a test's
behaviour. At session end it writes

    {"format": 1, "started": ..., "finished": ..., "exit_status": 0,
     "commit": "<git HEAD or null>", "args": [...],
     "summary": {"passed": n, ...},
     "tests": {"<nodeid>": {"outcome": "passed", "duration_s": 1.23}, ...},
     "collection_errors": ["<nodeid>", ...]}

to $GREGOR_COMPAT_RESULTS (default <repo>/target/compat-results.json;
an empty value writes nothing), atomically; `--collect-only` writes
nothing either. Node ids are pytest's, relative to this directory
(`test_kcat.py::test_metadata_list`).

Outcomes are pytest's own categories (its pytest_report_teststatus hook,
as the terminal summary counts them), setup/call/teardown folded into
one per test: the call's outcome (passed, failed, skipped, xfailed,
xpassed), or the setup's when the test never ran (skipped, or error);
an error in setup or teardown of a test whose call did not fail makes
it "error".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "target" / "compat-results.json"
FORMAT = 1


def results_path() -> Path | None:
    value = os.environ.get("GREGOR_COMPAT_RESULTS")
    if value is None:
        return DEFAULT_PATH
    return Path(value) if value.strip() else None


class Recorder:
    def __init__(self, config):
        self.config = config
        self.started = time.time()
        # nodeid -> {"setup": category, "call": category, "teardown": category}
        self.phases: dict[str, dict[str, str]] = {}
        self.durations: dict[str, float] = {}
        self.collection_errors: list[str] = []

    # -- hooks ----------------------------------------------------------------
    def pytest_runtest_logreport(self, report):
        try:
            category = self.config.hook.pytest_report_teststatus(
                report=report, config=self.config)[0]
        except Exception:  # a plugin's odd answer must not break the run
            category = report.outcome
        if category == "rerun":  # pytest-rerunfailures: the final attempt reports again
            self.phases.pop(report.nodeid, None)
            self.durations.pop(report.nodeid, None)
            return
        self.phases.setdefault(report.nodeid, {})[report.when or "call"] = \
            category or report.outcome
        self.durations[report.nodeid] = (self.durations.get(report.nodeid, 0.0)
                                         + float(getattr(report, "duration", 0.0) or 0.0))

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append(report.nodeid)

    def pytest_sessionfinish(self, session, exitstatus):
        if hasattr(self.config, "workerinput"):  # pytest-xdist worker: the controller writes
            return
        if self.config.option.collectonly:  # nothing ran: keep the last run's file
            return
        path = results_path()
        if path is None:
            return
        try:
            write_atomically(path, self.document(int(exitstatus)))
        except Exception as e:  # never change the run's outcome
            sys.stderr.write(f"results_plugin: could not write {path}: {e}\n")

    # -- the document -----------------------------------------------------------
    def document(self, exit_status: int) -> dict:
        tests = {}
        summary: dict[str, int] = {}
        for nodeid, phases in self.phases.items():
            outcome = fold(phases)
            tests[nodeid] = {"outcome": outcome,
                             "duration_s": round(self.durations.get(nodeid, 0.0), 3)}
            summary[outcome] = summary.get(outcome, 0) + 1
        return {
            "format": FORMAT,
            "started": iso(self.started),
            "finished": iso(time.time()),
            "exit_status": exit_status,
            "commit": git_commit(),
            "args": [str(a) for a in self.config.invocation_params.args],
            "summary": dict(sorted(summary.items())),
            "tests": tests,
            "collection_errors": self.collection_errors,
        }


def fold(phases: dict[str, str]) -> str:
    """One outcome from a test's setup/call/teardown categories."""
    outcome = phases.get("call") or phases.get("setup") or phases.get("teardown") or "error"
    if outcome == "passed" and "call" not in phases:
        outcome = "error"  # set up, never called, yet not skipped: interrupted
    if outcome != "failed" and any(phases.get(w) in ("error", "failed")
                                   for w in ("setup", "teardown")):
        outcome = "error"
    return outcome


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5)
        return (done.stdout.strip() or None) if done.returncode == 0 else None
    except Exception:
        return None


def write_atomically(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(document, f, indent=1, sort_keys=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def pytest_configure(config):
    config.pluginmanager.register(Recorder(config), "gregor-compat-results")
