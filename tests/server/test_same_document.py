"""A start-job result is one document however it is fetched (seed 000): blocking, ``?wait=false`` then
``GET .../result``, ``pn.Client.run``, and from a new server on the same store after a restart."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import permutate_nb as pn
from tests.helpers import klarna_request

from .conftest import LiveServer
from .helpers import TOOL_CALL, wait_for

DOC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")  # 2023-08-18T16:02:55.314867


def test_every_way_of_fetching_gives_the_same_document(api: LiveServer, scripted: Any,
                                                        start_server: Callable[..., LiveServer]) -> None:
    scripted.set_script(TOOL_CALL)
    request = klarna_request(base_url=scripted.base_url)
    request["test_plugin"] = {"manifest_url": request["plugin_groups"][0]["plugins"][0]["manifest_url"]}
    with api.client() as client:
        blocking = client.post("/api/start-job", json=request).json()
        fetched = client.get(f"/api/jobs/{blocking['job_id']}/result").json()
        submitted = client.post("/api/start-job", params={"wait": "false"}, json=request).json()
        wait_for(client, submitted["job_id"])
        later = client.get(f"/api/jobs/{submitted['job_id']}/result").json()
    assert fetched == blocking
    perm = blocking["permutations"][0]
    assert perm["llm"]["provider"] == "OpenAIChat"  # defaults are shown, as in the document
    assert perm["tool_selector"] == {"provider": "OpenAI", "pipeline_name": "default", "plugin_group_name": "klarna"}
    assert blocking["test_plugin"] == request["test_plugin"]
    for document in (blocking, later):
        assert DOC_TIME.match(document["started_on"]) and DOC_TIME.match(document["completed_on"]), document["started_on"]
    assert later["permutations"] == blocking["permutations"] and later["test_plugin"] == blocking["test_plugin"]

    client_result = pn.Client(api.url).run(request, progress=False).to_dict()
    assert client_result["permutations"] == blocking["permutations"]
    assert DOC_TIME.match(client_result["started_on"])

    api.stop()
    restarted = start_server(allow_dirs=api.settings.allow_dirs)
    with restarted.client() as client:
        assert client.get(f"/api/jobs/{blocking['job_id']}/result").json() == blocking
