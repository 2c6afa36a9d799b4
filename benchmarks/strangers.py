"""How ``permutate serve`` holds up against hostile requests, on loopback only: the README's safety figures.

``permutate serve`` runs in its own process (``--allow-dir`` the snapshots, ``--allow-url`` only the
scripted model and two helper services). Every request below is sent as an attacker would send it;
each answer is counted as refused (4xx), answered (2xx), a 500, or a hang (no answer in 60 s), and
every response text is searched for a canary that only the loopback "secret" service knows, and for
the server's own home folder. During 70 requests whose manifest drips one byte every half second, an
ordinary start-job and ``/health`` must still answer.

    python benchmarks/strangers.py              # prints one JSON object
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from permutate_nb.testing.hostile_service import CANARY, HostileService

sys.path.insert(0, str(Path(__file__).parent))
from serve import start_api
from throughput import ROOT, start_server

KLARNA = ROOT / "permutate_nb" / "examples" / "snapshots" / "Klarna_Shopping.json"
PRODUCTS = "https://www.klarna.com/us/shopping/public/openai/v0/products"
CLIENT_TIMEOUT = 60.0


def request(model: str, manifest: str = str(KLARNA), **config: Any) -> dict[str, Any]:
    return {
        "name": "strangers", "config": {"max_retries": 0, "cache": False, **config},
        "plugin_groups": [{"name": "g", "plugins": [{"manifest_url": manifest}]}],
        "permutations": [{"name": "p", "llm": {"provider": "OpenAIChat", "model_name": "m", "base_url": model},
                          "tool_selector": {"provider": "OpenAI", "plugin_group_name": "g"}}],
        "test_cases": [{"name": "c", "type": "api_signature_selector", "prompt": "Show me 5 T shirts",
                        "expected_plugin_used": manifest, "expected_api_used": PRODUCTS, "expected_method": "get",
                        "expected_parameters": {"q": "T shirt", "size": 5}}],
    }


def changed(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(data))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def attacks(model: str, secret: str, hop: str) -> list[tuple[str, str, str, Any]]:
    """(name, method, path, body): a dict is sent as JSON, a str as raw JSON text, bytes as they are."""
    base = request(model)
    start = "/api/start-job"
    out: list[tuple[str, str, str, Any]] = []
    loopbacks = ["http://127.0.0.1:{p}/m.json", "http://localhost:{p}/m.json", "http://[::1]:{p}/m.json",
                 "http://0.0.0.0:{p}/m.json", "http://127.1:{p}/m.json", "http://2130706433:{p}/m.json",
                 "http://0x7f000001:{p}/m.json", "http://[::ffff:127.0.0.1]:{p}/m.json", "http://10.0.0.1/m.json",
                 "http://169.254.169.254/latest/meta-data/", "http://192.168.1.1/m.json", "http://[fe80::1]/m.json"]
    port = secret.rsplit(":", 1)[1]
    for url in loopbacks:
        out.append((f"manifest {url}", "POST", start, changed(base, ("plugin_groups", 0, "plugins", 0, "manifest_url"),
                                                             url.format(p=port))))
    for path in ("/etc/passwd", "file:///etc/passwd", "../../../../etc/passwd", "/dev/zero", "/proc/self/environ"):
        out.append((f"manifest {path}", "POST", start, changed(base, ("plugin_groups", 0, "plugins", 0, "manifest_url"), path)))
    out += [
        ("redirect hop to loopback", "POST", start, changed(base, ("plugin_groups", 0, "plugins", 0, "manifest_url"),
                                                           f"{hop}/m.json")),
        ("unresolvable host", "POST", start, changed(base, ("plugin_groups", 0, "plugins", 0, "manifest_url"),
                                                    "http://no-such-host.invalid/m.json")),
        ("llm.base_url loopback", "POST", start, changed(base, ("permutations", 0, "llm", "base_url"), secret + "/v1")),
        ("tool_selector_endpoint loopback", "POST", start, {**base, "config": {**base["config"],
                                                                               "tool_selector_endpoint": secret}}),
        ("url_map outside allow-dir", "POST", start, {**base, "config": {**base["config"],
                                                                         "url_map": {"https://x/m.json": "/etc/passwd"}}}),
        ("model_path outside allow-dir", "POST", start, changed(base, ("permutations", 0, "llm", "model_path"), "/etc/passwd")),
    ]
    for name in ("HOME", "PATH", "PERMUTATE_API_KEY", "OPENAI_API_KEY"):
        out.append((f"api_key_env {name}", "POST", start, changed(base, ("permutations", 0, "llm", "api_key_env"), name)))
    text = json.dumps(base)
    out += [
        ("regex that backtracks", "POST", start, changed(base, ("test_cases", 0, "expected_parameters", "q"),
                                                         {"$regex": "(a|aa)+$"})),
        ("NaN temperature", "POST", start, text.replace('"model_name": "m"', '"model_name": "m", "temperature": NaN')),
        ("Infinity temperature", "POST", start, text.replace('"model_name": "m"', '"model_name": "m", "temperature": Infinity')),
        ("duplicate key", "POST", start, text.replace('"name": "strangers"', '"name": "a", "name": "b"')),
        ("lone surrogate in a prompt", "POST", start, text.replace("Show me 5", "Show me \\ud800")),
        ("empty name", "POST", start, {**base, "name": ""}),
        ("max_tokens 0", "POST", start, changed(base, ("permutations", 0, "llm", "max_tokens"), 0)),
        ("nested 3000 deep", "POST", start, '{"name": ' + "[" * 3000 + "]" * 3000 + "}"),
        ("invalid JSON", "POST", start, '{"name": '),
        ("not UTF-8", "POST", start, b'{"name": "\xff\xfe"}'),
        ("body over the limit", "POST", start, b'{"name": "' + b"x" * 11_000_000 + b'"}'),
        ("unknown job", "GET", "/api/jobs/no-such-job", None),
        ("unknown job result", "GET", "/api/jobs/no-such-job/result?format=xlsx", None),
        ("file name traversal", "GET", "/public/batch_execution_results/..%2F..%2Fjobs.sqlite", None),
    ]
    csv = "/system/batch_execution/process_csv/invoke"
    for name, content in (("CR in an unquoted CSV field", "prompt,model\nab\rcd,m\n"),
                          ("CSV field over 131,072 characters", "prompt,model\n" + "x" * 140_000 + ",m\n"),
                          ("repeated CSV column", "prompt,prompt\na,b\n"),
                          ("header formula", 'prompt,model,"=HYPERLINK(""http://x"",""y"")"\nhi,m,1\n'),
                          ("NUL in CSV", "prompt,model\na\x00,m\n")):
        out.append((name, "POST", csv, {"csv_content": content}))
    out.append(("lone surrogate in csv_content", "POST", csv, '{"csv_content": "prompt\\n\\ud800"}'))
    batch = "/experience/batch_execution/execute_batch/invoke"
    out += [("batch max_tokens 0", "POST", batch, {"executions": [{"prompt": "hi", "model": "m", "max_tokens": 0}]}),
            ("batch temperature nan", "POST", batch, {"executions": [{"prompt": "hi", "model": "m", "temperature": "nan"}]}),
            ("eval dataset nested 3000 deep", "POST", "/api/v1/pipelines/p/eval-datasets",
             '[{"input": "q", "metadata": ' + "[" * 3000 + "]" * 3000 + "}]"),
            ("eval dataset CSV with a CR", "POST", "/api/v1/pipelines/p/eval-datasets", ("text/csv", "input\nab\rcd\n"))]
    return out


def send(client: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    if body is None:
        return client.request(method, path)
    if isinstance(body, dict):
        return client.request(method, path, json=body)
    if isinstance(body, tuple):
        return client.request(method, path, content=body[1].encode(), headers={"content-type": body[0]})
    data = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    return client.request(method, path, content=data, headers={"content-type": "application/json"})


def main() -> None:
    home = tempfile.mkdtemp(prefix="permutate-strangers-")
    os.environ["PERMUTATE_HOME"] = home
    os.environ.pop("OPENAI_BASE_URL", None)
    os.environ["OPENAI_API_KEY"] = "sk-never-sent"  # batch rows name models of the default provider (never called)
    model_proc, model = start_server(0.0, {"default": {"tool_call": {"name": "productsUsingGET",
                                                                     "arguments": {"q": "a" * 40 + "!", "size": 5}}}})
    secret, drip = HostileService(), HostileService(drip=True)
    hop = HostileService(redirect=secret.url)
    api, url = start_api(home, model, drip.url, hop.url)
    counts = {"tried": 0, "refused_4xx": 0, "answered_2xx": 0, "server_errors_5xx": 0, "hangs": 0,
              "canary_leaks": 0, "home_path_leaks": 0}
    outcomes: dict[str, int | str] = {}

    def tally(name: str, answer: httpx.Response | None) -> None:
        counts["tried"] += 1
        if answer is None:
            counts["hangs"] += 1
            outcomes[name] = "hang"
            return
        outcomes[name] = answer.status_code
        kind = {2: "answered_2xx", 4: "refused_4xx", 5: "server_errors_5xx"}.get(answer.status_code // 100)
        if kind:
            counts[kind] += 1
        counts["canary_leaks"] += CANARY in answer.text
        counts["home_path_leaks"] += home in answer.text

    try:
        with httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT) as client:
            for name, method, path, body in attacks(model, secret.url, hop.url):
                try:
                    tally(name, send(client, method, path, body))
                except httpx.TimeoutException:
                    tally(name, None)
        # 70 dripping manifests at once, then an ordinary start-job and /health
        results: list[httpx.Response | None] = []

        def slow(i: int) -> None:
            with httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT) as client:
                try:
                    results.append(client.post("/api/start-job", json=request(model, f"{drip.url}/m{i}.json")))
                except httpx.TimeoutException:
                    results.append(None)

        threads = [threading.Thread(target=slow, args=(i,), daemon=True) for i in range(70)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while drip.active < 70 and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT) as client:
            t0 = time.perf_counter()
            ordinary = client.post("/api/start-job", json=changed(request(model), ("test_cases", 0, "expected_parameters", "q"),
                                                                  "a" * 40 + "!"))
            ordinary_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            health = client.get("/health")
            health_s = time.perf_counter() - t0
        dripping_at_once = drip.active
        drip.stop.set()
        for thread in threads:
            thread.join(CLIENT_TIMEOUT + 5)
        for i, answer in enumerate(results):
            tally(f"drip {i}", answer)
        tally("ordinary start-job during the drip", ordinary)
        tally("health during the drip", health)
        print(json.dumps({**counts, "drip_requests_in_flight": dripping_at_once,
                          "ordinary_start_job_during_drip_s": round(ordinary_s, 3),
                          "ordinary_passed": ordinary.json().get("summary", {}).get("overall_accuracy") == 100.0,
                          "health_during_drip_s": round(health_s, 3), "secret_service_hits": secret.hits,
                          "outcomes": {k: v for k, v in outcomes.items() if not k.startswith("drip ")}}, indent=1))
    finally:
        api.terminate()
        api.wait(30)
        model_proc.terminate()
        model_proc.wait(30)
        for service in (secret, drip, hop):
            service.close()


if __name__ == "__main__":
    main()
