"""``AGUIApp``: an agent as an AG-UI endpoint (a Starlette app).

    app = AGUIApp(agent, token="...")       # POST a RunAgentInput to "/", read the events

Each POST of a ``RunAgentInput`` is one AG-UI run: ``RUN_STARTED``, the run's events as they
happen (``baton.agui.translate``), the conversation's variables as ``STATE_SNAPSHOT`` /
``STATE_DELTA`` (the input's ``state`` sets variables of the same names), then
``RUN_FINISHED`` or ``RUN_ERROR``. The answer is a server-sent event stream (``ag_ui``'s
``EventEncoder`` picks the format from ``Accept``).

Threads are conversations (``threadId`` is the conversation id). With an agent ``history=``,
the server's history is the truth and the client's messages only add the new ones (see
``baton.agui.inputs``); without one, the client's messages are the conversation, rebuilt for
every request.

Front-end tools (``RunAgentInput.tools``) are offered to the model with the agent's own. A call
to one ends the AG-UI run as a success whose ``pendingToolCallIds`` name the calls, with the
Baton run paused in the agent's storage; the next request, carrying a tool message per call,
resumes it (``agent.resume``), in this process or any other that shares the history and
storage.

Human in the loop uses AG-UI interrupts: an approval (``ApprovalPolicy``, or a tool made with
``requires_approval=True``) or a question (``context.input``) pauses the run, which ends with
``RUN_FINISHED`` whose outcome is ``{"type": "interrupt", "interrupts": [...]}``: an approval
is an interrupt with ``reason: "tool_call"``, the call's ``toolCallId`` and the response
schema ``{"approved": bool, "reason"?: str}``; a question has ``reason: "input_required"`` and
``{"text": str}``. The client answers with the next request's ``resume`` entries (all of them:
``buildResumeArray`` in ``@ag-ui/client``); a ``cancelled`` entry denies an approval. The
endpoint asks with ``suspend_on_human=True`` and, for tools requiring approval when the agent
has no ``ApprovalPolicy`` of its own, ``ApprovalPolicy(suspend=True)``. Pausing needs an agent
with ``history=`` and ``storage=``; without them such a run ends with ``RUN_ERROR`` saying so.
Keep ``hitl=`` unset on an agent served this way: a handler would answer the requests itself.

Safety: a bearer token is required (generated when not given: ``app.token``) unless
``no_token=True``, which serves loopback clients only (development). A browser may call from
the endpoint's own origin or one in ``allowed_origins`` (add CORS in front for other origins);
on a loopback address only loopback ``Host`` names are answered (421; ``allowed_hosts`` adds
some), against DNS rebinding.
A body larger than ``max_body`` bytes (default 8 MiB) is answered 413, a malformed one 400
(not UTF-8 JSON or nested too deeply: ``parse_json``, which reads a lone surrogate escape as
U+FFFD; or ids holding control characters) or 422 (not a ``RunAgentInput``), with a short
reason; the agent's errors reach the client as
``RUN_ERROR``: Baton's by their message, others by their type only (the traceback is logged
here, never sent).

A team (``baton.teams``) is served like an agent: ``AGUIApp(team)``. Each member's turn is an
AG-UI step named after the member (``STEP_STARTED`` / ``STEP_FINISHED``) holding its messages
(``TEXT_MESSAGE_START.name`` is the member), all inside the request's one ``RUN_STARTED`` /
``RUN_FINISHED``. The ask pauses on a ``Human(name, suspend=True)`` member (an
``input_required`` interrupt, answered with ``{"text": ...}``) and on a member agent's approval
(a ``tool_call`` interrupt), both continued with ``team.resume``; front-end tools are refused,
and so is a team whose approvals nobody could answer (see ``baton.agui.teams``).

Only Baton's public API is used: ``agent.run`` (``reply.run`` for a client-held
conversation), ``agent.resume`` with the run's stream, and the run's events; for a team,
``team.run`` / ``reply.run``, ``team.paused`` and ``team.resume``.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from ag_ui.core import (
    BaseEvent,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunFinishedSuccessOutcome,
    RunStartedEvent,
)
from ag_ui.encoder import EventEncoder
from pydantic import ValidationError
from pydantic_core import to_jsonable_python
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..agent import Agent
from ..conversation import Conversation
from ..endpoint_guard import EndpointGuard, parse_json
from ..errors import AskSuspended, BatonError, ConfigError
from ..events import (
    Event,
    HumanMessage,
    ModelResponse,
    ToolCallError,
    ToolCallResult,
    Usage,
)
from ..hitl import ApprovalPolicy
from ..hooks import Middleware, Observer
from ..redaction import logger
from ..reply import Reply
from ..runstate import RunState, load_run_state
from ..stream import MemoryStream
from ..teams import Team
from ..teams.serving import check_humans
from ._extra import require_extra
from .frontend import FrontendTools, StateCapture, current_state
from .inputs import (
    BadInput,
    answers_for,
    check_tool_names,
    interrupts_of,
    new_user_parts,
    pending_tool_calls,
    replayed_conversation,
)
from .state import StateTracker
from .teams import approvals_for, refuse_frontend_tools, replayed_team_reply
from .translate import Translator

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from ..options import AskOptions

__all__ = ["AGUIApp"]

log = logger("baton.agui")

_STATE_POINTS = (ModelResponse, ToolCallResult, ToolCallError)  # where variables may change
_BATCH_LIMIT = 1024  # encoded events waiting for the writer before the run is held back
# Control characters (C0, DEL, C1): what an id may not hold (ids may hold any other text).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class AGUIApp:
    """An agent (or a team) served over AG-UI: an ASGI app answering ``POST path`` (default
    ``/``) with the run's AG-UI events. See the module docs for threads, front-end tools,
    teams, interrupts and the guard (``token`` / ``no_token`` / ``allowed_origins`` /
    ``allowed_hosts``: the ``Host`` values, with port, a loopback-bound endpoint also
    answers to). ``middleware`` and
    ``observers`` are added to every ask the endpoint makes (after the agent's own: the dev
    UI watches the runs through them)."""

    def __init__(
        self,
        agent: Agent[Any] | Team,
        *,
        token: str | None = None,
        no_token: bool = False,
        allowed_origins: Sequence[str] = (),
        allowed_hosts: Sequence[str] = (),
        path: str = "/",
        max_body: int = 8 * 1024 * 1024,
        middleware: Sequence[Middleware] = (),
        observers: Sequence[Observer] = (),
    ) -> None:
        require_extra()
        if not isinstance(agent, Agent | Team):
            raise ConfigError(
                f"AGUIApp serves a baton Agent or a team (baton.teams), not {agent!r}"
            )
        self.agent = agent
        self.path = path
        self.max_body = max_body
        self._guard = EndpointGuard(
            token,
            no_token=no_token,
            allowed_origins=allowed_origins,
            allowed_hosts=allowed_hosts,
            realm="baton-agui",
        )
        self._frontend = FrontendTools()
        # Made once: the same middleware objects every ask, so the agent's plan cache hits.
        layers: list[Any] = [StateCapture()]
        if isinstance(agent, Team):
            check_humans(agent, "AG-UI", "an interrupt")
            layers.extend(approvals_for(agent, middleware))
        elif not any(
            isinstance(m, ApprovalPolicy) for m in (*agent.middleware, *middleware)
        ) and any(t.requires_approval for t in agent.tools.values()):
            # (A policy of the agent's or the app's own decides: a second would ask again.)
            layers.append(ApprovalPolicy(suspend=True))
        layers.extend(middleware)
        self._middleware = tuple(layers)
        self._observers = tuple(observers)
        self._app = Starlette(routes=[Route(path, self._endpoint, methods=["POST"])])

    @property
    def token(self) -> str | None:
        """The bearer token clients must send (None with ``no_token=True``)."""
        return self._guard.token

    def __repr__(self) -> str:
        return f"AGUIApp({self.agent.name!r}, path={self.path!r}, {self._guard!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await self._guard.admit(scope, send, as_json=True):
            await self._app(scope, receive, send)

    # -- the request ------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        body = await self._guard.read_body(request, self.max_body)
        if body is None:
            return JSONResponse({"error": "the request body is too large"}, status_code=413)
        try:
            data = parse_json(body, mend_surrogates=True)  # a browser's cut emoji: U+FFFD
        except ValueError as exc:
            return JSONResponse(
                {"error": f"the body must be a JSON RunAgentInput: {exc}"}, status_code=400
            )
        try:
            run_input = RunAgentInput.model_validate(data)
        except ValidationError as exc:
            problems = [
                {"at": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]}
                for e in exc.errors(include_url=False, include_input=False)[:20]
            ]
            return JSONResponse(
                {"error": "the body is not a valid AG-UI RunAgentInput", "problems": problems},
                status_code=422,
            )
        for field, value in (("threadId", run_input.thread_id), ("runId", run_input.run_id)):
            if _CONTROL.search(value):  # NUL and other control characters: no store keeps them
                return JSONResponse(
                    {"error": f"the {field} holds a control character: ids are printable text"},
                    status_code=400,
                )
        encoder = EventEncoder(accept=request.headers.get("accept", ""))
        return StreamingResponse(
            self._encoded(run_input, encoder),
            media_type=encoder.get_content_type(),
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def _encoded(self, run_input: RunAgentInput, encoder: EventEncoder) -> AsyncIterator[str]:
        # The events are made in a task of their own and written in batches: everything made
        # while the last write was going out leaves in the next one. One write per event would
        # cost a send (and a client read) per event, many times the event's own cost.
        pending: deque[str] = deque()
        ready = asyncio.Event()
        drained = asyncio.Event()
        finished = False

        async def produce() -> None:
            nonlocal finished
            try:
                async for event in self.events(run_input):
                    pending.append(encoder.encode(event))
                    ready.set()
                    if len(pending) >= _BATCH_LIMIT:  # back-pressure: wait for the writer
                        drained.clear()
                        await drained.wait()
            finally:
                finished = True
                ready.set()

        producer = asyncio.create_task(produce())
        try:
            while pending or not finished:
                if not pending:
                    ready.clear()
                    await ready.wait()
                    continue
                batch = "".join(pending)
                pending.clear()
                drained.set()
                yield batch
            await producer  # its error, if any (events() turns the agent's into RUN_ERROR)
        finally:
            if not producer.done():  # the client went away: stop the run
                producer.cancel()
                await asyncio.wait({producer})

    async def events(self, run_input: RunAgentInput) -> AsyncIterator[BaseEvent]:
        """The AG-UI events of one run of the agent (what a POST answers, before encoding)."""
        thread, run_id = run_input.thread_id, run_input.run_id
        yield RunStartedEvent(thread_id=thread, run_id=run_id)
        translator = Translator(team=isinstance(self.agent, Team))
        state = StateTracker()
        try:
            async for event in self._run(run_input, translator, state):
                yield event
        except AskSuspended as paused:
            for event in translator.close():
                yield event
            for event in state.events():
                yield event
            interrupts, calls = interrupts_of(paused.requests)
            outcome: RunFinishedInterruptOutcome | RunFinishedSuccessOutcome
            if interrupts:
                outcome = RunFinishedInterruptOutcome(interrupts=interrupts)
            else:
                outcome = RunFinishedSuccessOutcome(pending_tool_call_ids=calls or None)
            yield RunFinishedEvent(thread_id=thread, run_id=run_id, outcome=outcome)
        except BatonError as error:
            yield RunErrorEvent(message=str(error), code=type(error).__name__)
        except Exception as error:
            log.exception("AG-UI run %s of thread %s failed", run_id, thread)
            yield RunErrorEvent(
                message=f"the agent failed ({type(error).__name__})", code=type(error).__name__
            )

    def _options(self, run_input: RunAgentInput) -> AskOptions:
        options: AskOptions = {"middleware": self._middleware}
        if self._observers:
            options["observers"] = self._observers
        options["suspend_on_human"] = True  # a question pauses: an interrupt (a member's too)
        if isinstance(self.agent, Team):  # a team's ask takes the members' options only
            refuse_frontend_tools(run_input.tools or ())
            return options
        if run_input.tools:
            check_tool_names(run_input.tools, self.agent.tools)
            options["tools"] = self._frontend.tools(run_input.tools)
        return options

    async def _paused(self, thread: str) -> tuple[Sequence[Any], RunState | None] | None:
        """The requests a paused ask on ``thread`` waits for (None: nothing paused), and, for
        a team, the paused run of the member agent that goes on when they are answered (None:
        the ask goes on from a ``Human`` member's answer, with the next member's run)."""
        agent = self.agent
        if isinstance(agent, Team):
            waiting = await agent.paused(thread)
            return None if waiting is None else (waiting.requests, waiting.run)
        if agent.history is None or agent.storage is None:
            return None
        paused = await load_run_state(agent.storage, thread)
        return None if paused is None else (paused.requests, None)

    async def _run(
        self, run_input: RunAgentInput, translator: Translator, state: StateTracker
    ) -> AsyncIterator[BaseEvent]:
        thread = run_input.thread_id
        options = self._options(run_input)
        paused = await self._paused(thread)
        if paused is not None:
            requests, run = paused
            answers = answers_for(
                requests, run_input.resume or (), pending_tool_calls(run_input.messages)
            )
            if not answers:
                waiting = ", ".join(r.request_id for r in requests)
                raise BadInput(
                    f"thread {thread} has a paused run waiting for {waiting}: answer its "
                    "interrupts with resume entries and its front-end tool calls with tool "
                    "messages"
                )
            if run is not None:  # a member's run goes on: in its step, as when it began
                for event in translator.resume_member(run.agent, run.run_id):
                    yield event
            source = self._resumed(thread, answers, options, state)
            async for event in self._translated(source, translator, state, run_input):
                yield event
            return
        if run_input.resume:
            raise BadInput(f"thread {thread} has no paused run to resume")
        prompt = new_user_parts(run_input.messages)
        if not prompt:
            raise BadInput("no new input: the last message must be a user message")
        if isinstance(run_input.state, dict) and run_input.state:
            options["variables"] = run_input.state
        async for event in self._translated(
            self._asked(run_input, prompt, options, state), translator, state, run_input
        ):
            yield event

    async def _translated(
        self,
        source: AsyncIterator[Event | _Done],
        translator: Translator,
        state: StateTracker,
        run_input: RunAgentInput,
    ) -> AsyncIterator[BaseEvent]:
        reply: Reply[Any] | None = None
        async for event in source:
            if isinstance(event, _Done):
                reply = event.reply
                break
            for out in translator.translate(event):
                yield out
            if isinstance(event, _STATE_POINTS):
                for out in state.events(at=event):
                    yield out
        for out in translator.close():
            yield out
        for out in state.events():
            yield out
        result = None
        if reply is not None and not isinstance(reply.output, str | None):
            try:
                result = to_jsonable_python(reply.output)
            except Exception:  # an output that is not JSON-able: the text is in the messages
                result = None
        yield RunFinishedEvent(
            thread_id=run_input.thread_id, run_id=run_input.run_id, result=result
        )

    async def _asked(
        self,
        run_input: RunAgentInput,
        prompt: Any,
        options: AskOptions,
        state: StateTracker,
    ) -> AsyncIterator[Event | _Done]:
        agent = self.agent
        run: Any
        if agent.history is not None:
            options["conversation_id"] = run_input.thread_id
            run = agent.run(prompt, **options)
        elif isinstance(agent, Team):
            reply = replayed_team_reply(agent, run_input.messages, run_input.thread_id)
            run = reply.run(prompt, **options)
        else:
            run = self._replayed(run_input).run(prompt, **options)
        # The ask's task copies this context when it is made (entering the run): its hooks
        # find this run's state tracker there. Set and reset around that, never across a yield.
        token: Any = current_state.set(state)
        try:
            async with run:
                current_state.reset(token)
                token = None
                async for event in run:
                    yield event
                yield _Done(await run.result())
        finally:
            if token is not None:
                current_state.reset(token)

    def _replayed(self, run_input: RunAgentInput) -> Reply[Any]:
        """The client-held conversation as a reply to continue (no history: see module docs)."""
        agent = cast(Agent[Any], self.agent)
        events, last = replayed_conversation(run_input.messages, agent.name, run_input.thread_id)
        conversation = Conversation(
            id=run_input.thread_id, events=events, variables=dict(agent.variables)
        )
        response = last or ModelResponse()
        return Reply(agent, conversation, "", response.text, response.text, Usage(), response)

    async def _resumed(
        self,
        thread: str,
        answers: Sequence[HumanMessage],
        options: AskOptions,
        state: StateTracker,
    ) -> AsyncIterator[Event | _Done]:
        # agent.resume has no live view: watch its run on a stream of our own (delivery is
        # inline, so every event is queued before the ask's task can finish).
        stream = MemoryStream()
        options["stream"] = stream
        queue: deque[Event] = deque()
        wake = asyncio.Event()

        def take(event: Event) -> None:
            queue.append(event)
            wake.set()

        subscription = stream.subscribe(take)
        token = current_state.set(state)
        try:
            task = asyncio.create_task(self.agent.resume(thread, *answers, **options))
        finally:
            current_state.reset(token)
        try:
            while True:
                while queue:
                    yield queue.popleft()
                if task.done():
                    break
                wake.clear()
                waiter = asyncio.ensure_future(wake.wait())
                await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
            while queue:
                yield queue.popleft()
            yield _Done(task.result())
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            subscription.unsubscribe()


class _Done:
    """The end of a run's events: its reply."""

    __slots__ = ("reply",)

    def __init__(self, reply: Reply[Any]) -> None:
        self.reply = reply
