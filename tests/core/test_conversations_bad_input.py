"""Bad conversation input: validation errors naming the field, a backend that does not import in one
CLI line (a real process), a request that cannot run conversations refused before anything runs."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

import permutate_nb as pn

from ..helpers import DEADLINE
from .test_conversations import request

CLOSED = "http://127.0.0.1:9/v1"
TURNS = [{"user": "hi"}]


def _case(**fields: Any) -> dict[str, Any]:
    return {"name": "c", **fields}


@pytest.mark.parametrize(("case", "message"), [
    (_case(), "test_cases[0]: turns: a conversation test case needs turns"),
    (_case(turns=[]), "test_cases[0]: turns: a conversation test case needs turns"),
    (_case(turns=TURNS, expected_state={"items": []}), "test_cases[0]: expected_state: an end state needs a backend"),
    (_case(turns=TURNS, initial_config={"items": []}), "test_cases[0]: initial_config: configures a backend"),
    (_case(turns=TURNS, backend="not a path"), "test_cases[0].backend: 'not a path' is not an import path"),
    (_case(turns=TURNS, trajectory_match="loose"), "test_cases[0].trajectory_match"),
    (_case(turns=[{"user": " "}]), "test_cases[0].turns[0].user: the user message is empty"),
    (_case(turns=[{"user": "a", "expect_no_call": True, "expected_calls": [{"api": "x"}]}]),
     "test_cases[0].turns[0]: expect_no_call: a turn expects either calls"),
    (_case(turns=TURNS, max_steps=0), "test_cases[0].max_steps"),
    (_case(turns=TURNS, expected_calls=[{"plugin": "weather", "api": "get_weather"}]),
     "test_cases[0]: expected_calls: a conversation expects calls per turn"),
])
def test_validation_names_the_field(case: dict[str, Any], message: str) -> None:
    with pytest.raises(pn.RequestError) as error:
        pn.validate(request(CLOSED, case))
    assert message in str(error.value) and "\n" not in str(error.value).strip()


def test_conversation_fields_on_another_type_and_other_languages_are_refused() -> None:
    data = request(CLOSED, _case(turns=TURNS))
    data["test_cases"][0] = {"name": "single", "type": "plugin_selector", "prompt": "p", "expected_plugin_used": "weather",
                             "expected_api_used": "get_weather", "turns": TURNS}
    with pytest.raises(pn.RequestError, match=r"test_cases\[0\]: turns: only a test case of type conversation has it"):
        pn.validate(data)
    data = request(CLOSED, _case(turns=TURNS), auto_translate_to_languages=["English", "German"])
    with pytest.raises(pn.RequestError, match=r"test_cases\[0\]\.turns: a conversation runs its turns as written"):
        pn.validate(data)


def test_a_selector_without_a_chat_history_is_refused() -> None:
    data = request(CLOSED, _case(turns=TURNS))
    data["permutations"][0]["tool_selector"]["provider"] = "Imprompt"
    with pytest.raises(pn.ConfigurationError, match=r"^permutations\[0\]: conversation test cases run on "
                                                    r"tool_selector.provider OpenAI"):
        pn.run(data)


def _cli(folder: Path, case: dict[str, Any], command: str) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    (folder / "job.yaml").write_text(yaml.safe_dump(request(CLOSED, case), sort_keys=False))
    env = {**os.environ, "PERMUTATE_HOME": str(folder / "home"), "OPENAI_API_KEY": "sk-test"}
    return subprocess.run([sys.executable, "-m", "permutate_nb.cli", command, str(folder / "job.yaml")],
                          capture_output=True, text=True, timeout=5 * DEADLINE, env=env, cwd=folder)


def test_the_cli_says_it_in_one_line(tmp_path: Path) -> None:
    runs = {"no-import": (_case(turns=TURNS, backend="no_such_package.backends:Bank"), "run",
                          "backend no_such_package.backends:Bank: cannot import no_such_package.backends: "
                          "ModuleNotFoundError: No module named 'no_such_package'"),
            "no-class": (_case(turns=TURNS, backend="permutate_nb.examples.shopping:Basket"), "validate",
                         "backend permutate_nb.examples.shopping:Basket: permutate_nb.examples.shopping has no Basket"),
            "no-turns": (_case(), "validate", "test_cases[0]: turns: a conversation test case needs turns")}
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = {name: pool.submit(_cli, tmp_path / name, case, command) for name, (case, command, _) in runs.items()}
        outcomes = {name: future.result() for name, future in done.items()}
    for name, (_, _, fragment) in runs.items():
        proc = outcomes[name]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("permutate: error:") and fragment in lines[0], (name, lines)
