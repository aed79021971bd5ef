"""The dev server of a team (``baton dev module:team``): the chat's AG-UI stream has a step per
member turn, the timeline streams every stored event once and in order (the team's own events
between the members' runs included), a team paused on a human member shows its interrupt and
resumes, and ``baton dev`` loads a team by name."""

from __future__ import annotations

from typing import Any

import httpx
from devui_agents import crew, edited
from devui_support import baton_dev, bearer, named_events, run_input, sse
from serving import uvicorn_serving

from baton.devui import DevApp


async def test_a_team_chats_in_steps_and_its_timeline_has_every_event_once() -> None:
    app = DevApp(crew())
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        headers = bearer(app)
        info = (await http.get("/api/info", headers=headers)).json()
        assert info["agent"] == "crew" and info["members"] == ["writer", "critic"]
        first = await http.post("/agui/", json=run_input("conv-crew", "Tea?"), headers=headers)
        events = sse(first.text)
        steps = [(e["type"], e["stepName"]) for e in events if e["type"].startswith("STEP_")]
        assert steps == [
            ("STEP_STARTED", "writer"),
            ("STEP_FINISHED", "writer"),
            ("STEP_STARTED", "critic"),
            ("STEP_FINISHED", "critic"),
        ]
        kinds = [e["type"] for e in events]
        assert kinds.count("RUN_STARTED") == kinds.count("RUN_FINISHED") == 1
        entries: list[dict[str, Any]] = []
        known = 0
        async with http.stream(
            "GET", "/api/conversations/conv-crew/timeline", headers=headers
        ) as stream:
            async for name, data in named_events(stream.aiter_lines()):
                if name == "snapshot":
                    known = len(data["entries"])
                    stored = [e["event"]["type"] for e in data["entries"]]
                    assert stored[0] == "TeamStarted" and stored[-1] == "TeamFinished"
                    # the next ask, while this stream is open
                    second = await http.post(
                        "/agui/", json=run_input("conv-crew", "Coffee?"), headers=headers
                    )
                    assert second.status_code == 200
                else:
                    entries.append(data)
                    finished = [e for e in entries if e["event"]["type"] == "RunFinished"]
                    if len(finished) == 2:
                        break
        stored_entries = [e for e in entries if e["index"] is not None]
        # every new stored event, once, in order: the team's own between the members' runs
        assert [e["index"] for e in stored_entries] == list(
            range(known, known + len(stored_entries))
        )
        team_events = [
            (e["event"]["type"], e["event"].get("member"))
            for e in stored_entries
            if e["event"]["type"] in ("TeamStarted", "SpeakerSelected")
        ]
        assert team_events == [
            ("TeamStarted", None),
            ("SpeakerSelected", "writer"),
            ("SpeakerSelected", "critic"),
        ]
        runs = [e["event"]["agent"] for e in entries if e["event"]["type"] == "RunStarted"]
        assert runs == ["writer", "critic"]  # each member's turn is a run of its own
        selected = next(e for e in entries if e["event"]["type"] == "SpeakerSelected")
        assert selected["event"]["reason"]  # why the member was chosen
        # the model call a member's response answered is that member's
        response = next(e for e in entries if e["event"]["type"] == "ModelResponse")
        call = await http.get(
            f"/api/conversations/conv-crew/request?index={response['index']}", headers=headers
        )
        assert call.json()["agent"] == "writer"
        everything = (await http.get("/api/conversations/conv-crew/events", headers=headers)).json()
        assert everything["entries"][-1]["event"]["type"] == "TeamFinished"
        assert everything["interrupts"] == []


async def test_a_team_paused_on_its_human_member_shows_the_interrupt_and_resumes() -> None:
    app = DevApp(edited())
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        headers = bearer(app)
        asked = sse(
            (await http.post("/agui/", json=run_input("conv-ed", "Write."), headers=headers)).text
        )
        outcome = asked[-1]["outcome"]
        assert asked[-1]["type"] == "RUN_FINISHED" and outcome["type"] == "interrupt"
        [interrupt] = outcome["interrupts"]
        snapshot = (await http.get("/api/conversations/conv-ed/events", headers=headers)).json()
        assert [i["id"] for i in snapshot["interrupts"]] == [interrupt["id"]]
        assert snapshot["interrupts"][0]["reason"] == "input_required"
        resume = [
            {"interruptId": interrupt["id"], "status": "resolved", "payload": {"text": "Shorter."}}
        ]
        body = {**run_input("conv-ed", "x"), "messages": [], "resume": resume}
        resumed = sse((await http.post("/agui/", json=body, headers=headers)).text)
        assert resumed[-1]["type"] == "RUN_FINISHED"
        assert resumed[-1].get("outcome", {"type": "success"})["type"] == "success"
        texts = [e["delta"] for e in resumed if e["type"] == "TEXT_MESSAGE_CONTENT"]
        assert texts == ["Draft two."]
        after = (await http.get("/api/conversations/conv-ed/events", headers=headers)).json()
        assert after["interrupts"] == []
        assert after["entries"][-1]["event"]["type"] == "TeamFinished"


def test_baton_dev_serves_a_team_named_as_module_attribute() -> None:
    with baton_dev("devui_agents:crew", "--no-browser") as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "baton dev: crew at http://127.0.0.1:" in line, line
        url = line.split(" at ", 1)[1].strip()
        base, _, token = url.partition("/?token=")
        auth = {"authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/info", headers=auth).json()["members"] == [
            "writer",
            "critic",
        ]
        answered = httpx.post(f"{base}/agui/", json=run_input("c", "Tea?"), headers=auth)
        assert [e["type"] for e in sse(answered.text)].count("STEP_STARTED") == 2
    assert process.returncode == 0  # stopped by Ctrl-C, cleanly
