"""How big the notebook view and the HTML report get, and how long they take to make, per number of runs.

A job of wrong, errored and passing runs (a third each) on the scripted OpenAI-compatible server,
read back from the job store; then the notebook view (the first 1,000 runs listed, each with its
transcript) and the report (every run) are rendered and timed.

    PYTHONPATH=. python benchmarks/view_size.py [--runs 300 1002 2502]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, nargs="+", default=[300, 1002, 2502])
    args = parser.parse_args()
    os.environ["PERMUTATE_HOME"] = tempfile.mkdtemp(prefix="permutate-view-size-")
    os.environ.setdefault("OPENAI_API_KEY", "scripted")
    import permutate_nb as pn
    from permutate_nb.notebook.view import render_html
    from permutate_nb.testing.scripted_server import ScriptedOpenAIServer
    from tests.helpers import mixed_request

    with ScriptedOpenAIServer() as server:
        for runs in args.runs:
            job = pn.run(mixed_request(server, repeats=runs // 3), cache=False)
            result = pn.results(job.job_id)
            started = time.perf_counter()
            view = render_html(result)
            view_s = time.perf_counter() - started
            started = time.perf_counter()
            path = result.write(Path(tempfile.mkdtemp()) / "report.html")
            report_s = time.perf_counter() - started
            print(f"{len(result.details):>6} runs: notebook view {len(view) / 1e6:.2f} MB in {view_s:.2f} s; "
                  f"report {path.stat().st_size / 1e6:.2f} MB in {report_s:.2f} s")


if __name__ == "__main__":
    main()
