"""``Graph``: nodes (agents, teams or functions) and the edges between them.

    flow = Graph(name="article")
    flow.add("writer", writer).add("critic", critic).add("publish", publish_fn)
    flow.edge("writer", "critic")
    flow.edge("critic", "writer", when=lambda s: "REVISE" in s.last_text)  # a cycle, with an exit
    flow.edge("critic", "publish", when=lambda s: "APPROVED" in s.last_text)
    reply = await flow.ask("Tea")

An agent's node is named as the agent (its answers are recorded under its name); a function's
node takes any name. Each node takes one turn when it is reached. After a node, every edge out
of it whose ``when`` holds (a function of the ``TeamState``, sync or async: last answer, tools
called, variables; no ``when``: always) is followed; several followed edges fan out. The nodes
ready together take their turns in parallel, each seeing the conversation as it was at the
fork (not its siblings' turns); once all have ended, each branch's events are stored as one
block, in the order of the edges that reached them (``branches.py`` says how a cancel or a
failure leaves them), and what follows them is ready for the next step. At most the turns left
before a ``MaxTurns`` run together.
``graph.join(name, after=[...], wait="all" | "any")`` makes node ``name`` wait for all (or the
first) of those nodes; with "any", the first to end cancels those still running (their runs
closed as cancelled, their tool calls answered). The ask ends when no node is left to run
(``TeamFinished`` says ``graph done``) or a termination fires. A cycle needs a way out: an
edge in it with a ``when``, or ``termination=``/``max_turns=`` given to the graph; this, and
that edges lead from the start to every node, is checked before the first ask
(``graph.validate()``). A graph's ask pauses as any team's does (a ``Human(...,
suspend=True)`` node, or a node's agent pausing its own turn; the graph needs
``history=`` and ``storage=``): the ready nodes and the joins' arrivals are saved with the
pause, and ``graph.resume`` goes on from there, in any process. A node in a parallel branch
can't pause (a ``ConfigError`` saying so): answer its requests live (``handler=``, ``hitl=``,
the stream). ``graph.to_json()`` describes it by names;
``Graph.from_json(data, nodes=..., conditions=...)`` builds it again.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Literal

from ..agent import Agent
from ..errors import ConfigError
from ..events import ModelResponse, Usage
from ..models.base import EmitChunk, ModelCall, ModelClient, ModelConfig
from ..options import PromptInput, check_one_argument
from .branches import run_branches
from .events import SpeakerSelected
from .human import Human
from .opening import MADE_WITH, no_option
from .recording import TeamAsk
from .state import TeamState, Turn
from .team import DEFAULT_MAX_TURNS, Team, hard_limit, options_of
from .termination import MaxTurns, either, first_fired
from .views import Member, as_member

__all__ = ["Condition", "Graph"]

Condition = Callable[[TeamState], bool | Awaitable[bool]]
NodeFunction = Callable[[TeamState], Any]


class _FunctionModel(ModelConfig, ModelClient):
    """A function node's "model": its answer is what the function returns for the state."""

    def __init__(self, graph: Graph, function: NodeFunction) -> None:
        self.graph = graph
        self.function = function

    @property
    def provider(self) -> str:
        return "function"

    @property
    def model_name(self) -> str:
        return getattr(self.function, "__name__", "function")

    def create_client(self) -> ModelClient:
        return self

    def client(self) -> ModelClient:
        return self

    async def aclose(self) -> None:
        return None

    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        state = self.graph.running(call.conversation_id)
        if state is None:
            raise ConfigError(f"graph node {call.agent!r} runs only inside its graph's ask")
        result = self.function(state)
        if inspect.isawaitable(result):
            result = await result
        # A function that returns nothing (a step done for its effect) answers "(done)".
        text = "" if result is None else result if isinstance(result, str) else str(result)
        return ModelResponse(text or "(done)", usage=Usage(), agent=call.agent)


class Graph(Team):
    """A graph of nodes (see the module docs). ``start`` is the first node (default: the
    first added)."""

    def __init__(self, *, name: str = "graph", start: str | None = None, **options: Any) -> None:
        # Checked now, though the team is made when first asked (see validate).
        unknown = sorted(options.keys() - MADE_WITH)
        if unknown:
            raise no_option(unknown[0], options_of(Graph), "Graph(...)")
        hard_limit(name, options.get("termination"), options.get("max_turns", DEFAULT_MAX_TURNS))
        self._options = options
        self._name = name
        self._start = start
        self._nodes: dict[str, Member] = {}
        self._kinds: dict[str, str] = {}
        self._edges: list[tuple[str, str, Condition | None]] = []
        self._joins: dict[str, tuple[tuple[str, ...], str]] = {}
        self._built = False
        # Until built (Team.__init__ sets the rest), what a graph not yet asked is read for:
        # its name and description (as a member or a tool) and its repr.
        self.name = name
        self.description: str | None = options.get("description")
        self.middleware: tuple[Any, ...] = ()

    def __repr__(self) -> str:
        return f"Graph({self._name!r}, [{', '.join(self._nodes)}])"

    # -- building ----------------------------------------------------------------------------

    def add(self, name: str, node: Any) -> Graph:
        """Add node ``name``: an agent, a team, a ``Human``, ``Member(...)`` or a function of
        the ``TeamState`` (sync or async) whose return value is the node's answer."""
        self._check_open()
        if name in self._nodes:
            raise ConfigError(f"graph {self._name!r} has a node named {name!r} already")
        if isinstance(node, Human):
            member = Member(node, name=name)
            self._kinds[name] = "human"
        elif isinstance(node, Agent | Team | Member):
            member = as_member(node)
            target = member.target
            if isinstance(target, Agent) and target.name != name:
                raise ConfigError(
                    f"graph node {name!r} is agent {target.name!r}: name the node as the agent "
                    "(its answers are recorded under its own name)"
                )
            member = Member(target, view=member.view, name=name, description=member.description)
            self._kinds[name] = "team" if isinstance(target, Team) else "agent"
        elif callable(node):
            check_one_argument(
                node,
                f"graph node {name!r}: a function node takes the TeamState (one argument, e.g. "
                "lambda state: ...) and returns its answer",
            )
            member = Member(Agent(name, config=_FunctionModel(self, node)), name=name)
            self._kinds[name] = "function"
        else:
            raise ConfigError(
                f"a graph node is an agent, a team or a function of the state, got {node!r}"
            )
        self._nodes[name] = member
        return self

    def edge(self, source: str, target: str, *, when: Condition | None = None) -> Graph:
        """Follow ``source`` -> ``target`` after ``source``'s turn (when ``when(state)``)."""
        self._check_open()
        for node in (source, target):
            if node not in self._nodes:
                raise ConfigError(f"graph {self._name!r} has no node {node!r}: add it first")
        if when is not None:
            check_one_argument(
                when,
                f"edge {source} -> {target}: when= takes a function of the TeamState (one "
                "argument, e.g. lambda state: 'DONE' in state.last_text)",
            )
        self._edges.append((source, target, when))
        return self

    def join(
        self, name: str, *, after: Sequence[str], wait: Literal["all", "any"] = "all"
    ) -> Graph:
        """Make node ``name`` wait for ``after`` (edges from each of them to it are added)."""
        self._check_open()
        if wait not in ("all", "any"):
            raise ConfigError(f"join wait= takes 'all' or 'any', got {wait!r}")
        if isinstance(after, str) or not isinstance(after, Sequence) or not after:
            raise ConfigError(
                f"join {name!r} needs the list of nodes it waits for, e.g. after=['a', 'b'], "
                f"got {after!r:.80}"
            )
        for node in (name, *after):
            if node not in self._nodes:
                raise ConfigError(f"graph {self._name!r} has no node {node!r}: add it first")
        self._joins[name] = (tuple(after), wait)
        for source in after:
            if not any(s == source and t == name for s, t, _ in self._edges):
                self._edges.append((source, name, None))
        return self

    def _check_open(self) -> None:
        if self._built:
            raise ConfigError(f"graph {self._name!r} was asked already: build it before")

    def validate(self) -> None:
        """Check the graph (a start, every node reached from it, every cycle with a way out)
        and fix it for asking."""
        if self._built:
            return
        if not self._nodes:
            raise ConfigError(f"graph {self._name!r} has no nodes: graph.add(name, agent)")
        start = self._start or next(iter(self._nodes))
        if start not in self._nodes:
            raise ConfigError(f"graph {self._name!r}: start={start!r} is not a node")
        for name, member in self._nodes.items():
            if _contains(member, self, set()):
                # Its turn would ask the graph again, inside itself, without end.
                raise ConfigError(
                    f"graph {self._name!r}: node {name!r} holds the graph itself (a team "
                    "inside a team must not contain the outer one)"
                )
        reached = self._reachable(start)
        unreached = [n for n in self._nodes if n not in reached]
        if unreached:
            # Such a node never takes a turn: most likely an edge forgotten, or a typo'd start.
            raise ConfigError(
                f"graph {self._name!r}: no edge leads from the start {start!r} to "
                f"{', '.join(map(repr, unreached))}, so it would never run: add an edge to it "
                "(graph.edge(a, b)), start elsewhere (start=...), or leave it out"
            )
        limited = "termination" in self._options or "max_turns" in self._options
        if not limited:
            for cycle in self._cycles():
                pairs = set(zip(cycle, [*cycle[1:], cycle[0]], strict=True))
                if not any(when is not None for s, t, when in self._edges if (s, t) in pairs):
                    raise ConfigError(
                        f"graph {self._name!r} has a cycle {' -> '.join([*cycle, cycle[0]])} "
                        "with no way out: give one of its edges a when= condition, or the "
                        "graph a termination= or max_turns="
                    )
        super().__init__(self._name, list(self._nodes.values()), **self._options)
        self.start = start
        self._built = True

    def _successors(self) -> dict[str, list[str]]:
        """Each node's edges' targets, in the edges' order (conditions aside)."""
        out: dict[str, list[str]] = {n: [] for n in self._nodes}
        for source, target, _ in self._edges:
            out[source].append(target)
        return out

    def _reachable(self, start: str) -> set[str]:
        """The nodes some path of edges leads to from ``start`` (conditions aside)."""
        out = self._successors()
        seen, todo = {start}, [start]
        while todo:
            for target in out[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    def _cycles(self) -> list[list[str]]:
        """One cycle per back edge found by a depth-first walk from every node."""
        out = self._successors()
        cycles: list[list[str]] = []
        state: dict[str, int] = {}  # 1: on the path, 2: done
        path: list[str] = []

        def walk(node: str) -> None:
            state[node] = 1
            path.append(node)
            for nxt in out[node]:
                if state.get(nxt) == 1:
                    cycles.append(path[path.index(nxt) :])
                elif nxt not in state:
                    walk(nxt)
            path.pop()
            state[node] = 2

        for node in self._nodes:
            if node not in state:
                walk(node)
        return cycles

    def to_json(self) -> dict[str, Any]:
        """The graph by names: nodes (and their kind), edges (a condition by its function's
        name), joins."""
        return {
            "name": self._name,
            "start": self._start or next(iter(self._nodes), None),
            "nodes": [{"name": n, "kind": self._kinds[n]} for n in self._nodes],
            "edges": [
                {"from": s, "to": t, "when": None if w is None else _name_of(w)}
                for s, t, w in self._edges
            ],
            "joins": [
                {"name": n, "after": list(a), "wait": w} for n, (a, w) in self._joins.items()
            ],
        }

    @classmethod
    def from_json(
        cls,
        data: Mapping[str, Any],
        *,
        nodes: Mapping[str, Any],
        conditions: Mapping[str, Condition] | None = None,
        **options: Any,
    ) -> Graph:
        """Build a graph from ``to_json()``'s description, with the nodes and conditions given
        by name."""
        conditions = conditions or {}
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"Graph.from_json: takes the dict graph.to_json() returns, got {data!r:.80}"
            )
        try:
            graph = cls._from_description(data, nodes, conditions, options)
        except (KeyError, TypeError, AttributeError) as error:
            raise ConfigError(
                f"Graph.from_json: the description is not one graph.to_json() makes "
                f"({type(error).__name__}: {error}); it has 'nodes' [{{'name': ...}}], "
                "'edges' [{'from': ..., 'to': ..., 'when': ...}] and 'joins' [{'name': ..., "
                "'after': [...], 'wait': ...}]"
            ) from None
        return graph

    @classmethod
    def _from_description(
        cls,
        data: Mapping[str, Any],
        nodes: Mapping[str, Any],
        conditions: Mapping[str, Condition],
        options: dict[str, Any],
    ) -> Graph:
        graph = cls(name=data.get("name", "graph"), start=data.get("start"), **options)
        for node in data.get("nodes", ()):
            name = node["name"]
            if name not in nodes:
                raise ConfigError(f"Graph.from_json: no node given for {name!r} (nodes={{...}})")
            graph.add(name, nodes[name])
        joined = {j["name"] for j in data.get("joins", ())}
        for edge in data.get("edges", ()):
            when = edge.get("when")
            if when is not None and when not in conditions:
                raise ConfigError(f"Graph.from_json: no condition given for {when!r}")
            if when is None and edge["to"] in joined:
                continue  # added again by the join
            graph.edge(edge["from"], edge["to"], when=None if when is None else conditions[when])
        for join in data.get("joins", ()):
            graph.join(join["name"], after=join["after"], wait=join["wait"])
        return graph

    # -- asking ------------------------------------------------------------------------------

    def prepare(self) -> None:
        self.validate()

    def kept_on_pause(self, state: TeamState) -> dict[str, Any]:
        # Which nodes are ready next and which joins have had arrivals is the graph's own
        # knowledge (edge conditions were decided on the state as it was then): saved as it
        # stands, not worked out again from the history on resume.
        plan = _plan(state, self.start)
        return {
            "ready": [[name, why] for name, why in plan.ready],
            "arrived": {target: sorted(names) for target, names in plan.arrived.items()},
        }

    def restore_on_resume(self, state: TeamState, kept: Mapping[str, Any]) -> None:
        ready, arrived = kept.get("ready"), kept.get("arrived")
        if (
            not isinstance(ready, list)
            or not all(isinstance(r, list) and len(r) == 2 for r in ready)
            or not isinstance(arrived, dict)
            or not all(isinstance(a, list) for a in arrived.values())
        ):
            raise ConfigError(
                f"graph {self.name!r}: the paused ask saved no plan of its ready nodes (paused "
                "by another kind of team?): resume with the graph that paused"
            )
        named = {str(n) for n, _ in ready} | set(arrived)
        named.update(str(n) for names in arrived.values() for n in names)
        unknown = sorted(named - set(self._nodes))
        if unknown:
            raise ConfigError(
                f"graph {self.name!r} paused with nodes {unknown} ready or joined, which it does "
                f"not have ({list(self._nodes)}): resume with the graph that paused"
            )
        plan = _plan(state, self.start)
        plan.ready = [(str(name), str(why)) for name, why in ready]
        plan.arrived = {str(target): {str(n) for n in names} for target, names in arrived.items()}

    async def choose(self, state: TeamState) -> tuple[Member, str]:
        name, why = _plan(state, self.start).ready.pop(0)
        return self.by_name[name], why

    async def step(self, ask: TeamAsk, task: PromptInput | None) -> str | None:
        """One node's turn, or the nodes ready together (a fan-out) in parallel: see
        ``branches.py``."""
        state = ask.state
        plan = _plan(state, self.start)
        # Up to the turns left before a MaxTurns fires (the hard limit included): nodes
        # beyond wait for the next step.
        limits = [m.n for m in either(self._stop, MaxTurns)]
        room = max(1, min(limits, default=len(plan.ready)) - len(state.turns))
        if len(plan.ready) == 1 or room == 1:
            return await super().step(ask, task)
        wave, plan.ready = plan.ready[:room], plan.ready[room:]
        turns = []
        selections: list[SpeakerSelected] = []
        for i, (name, why) in enumerate(wave):
            member = self.by_name[name]
            selected = SpeakerSelected(state.team_id, self.name, name, why, state.next_turn + i)
            selections.append(selected)
            prompt = await self.prompt_for(state, member, task)
            turns.append((name, self._branch_turn(member, prompt, selected)))
        fork = len(ask.conversation.events)
        done: list[Turn | None] = []
        timeout = self._timeout
        try:
            if timeout is None:
                await run_branches(ask, turns, done, lambda name: self._racing(plan, name))
            else:
                limit = asyncio.timeout(max(0.0, timeout.seconds - state.elapsed))
                try:
                    async with limit:
                        await run_branches(ask, turns, done, lambda n: self._racing(plan, n))
                except TimeoutError:
                    if not limit.expired():
                        raise
                    _count(state, done)
                    return repr(timeout)
        except BaseException:
            _count(state, done)  # the turns that ended count, however the step ends
            raise
        # A branch cancelled once it began (a join on "any") has its selection stored: the
        # turns selected next are numbered after it.
        kept = {id(e) for e in ask.conversation.events[fork:] if isinstance(e, SpeakerSelected)}
        state.cut += sum(
            1 for turn, s in zip(done, selections, strict=True) if turn is None and id(s) in kept
        )
        for turn in done:  # in the stored order, each with the state as after its turn
            if turn is not None:
                state.add(turn)
                await self._follow(state, plan, turn.member)
        return ("graph done" if not plan.ready else None) or await first_fired(self._stop, state)

    def _branch_turn(
        self, member: Member, prompt: PromptInput | None, selected: SpeakerSelected
    ) -> Callable[[TeamAsk], Coroutine[Any, Any, Turn]]:
        async def take(branch: TeamAsk) -> Turn:
            return await self._take_turn(branch, member, prompt, selected)

        return take

    def _racing(self, plan: _Plan, name: str) -> list[str]:
        """The nodes to cancel now that ``name`` ended: the others a join on "any" waits for,
        when ``name`` is its first arrival."""
        cancel: list[str] = []
        for target, (after, wait) in self._joins.items():
            if wait == "any" and name in after and not plan.arrived.get(target):
                cancel.extend(n for n in after if n != name)
        return cancel

    async def finished(self, state: TeamState) -> str | None:
        plan = _plan(state, self.start)
        await self._follow(state, plan, state.turns[-1].member)
        return None if plan.ready else "graph done"

    async def _follow(self, state: TeamState, plan: _Plan, last: str) -> None:
        """Make ready what follows node ``last``'s turn: its edges whose condition holds."""
        followed = [
            target
            for source, target, when in self._edges
            if source == last and (when is None or await _holds(when, state))
        ]
        for target in followed:
            join = self._joins.get(target)
            if join is not None:
                after, wait = join
                arrived = plan.arrived.setdefault(target, set())
                arrived.add(last)
                if wait == "any" and len(arrived) > 1:
                    continue  # ran on the first arrival already
                if wait == "all" and not set(after) <= arrived:
                    continue
                if wait == "all":
                    plan.arrived[target] = set()
            plan.ready.append((target, f"after {last}"))


def _contains(member: Member, graph: Graph, seen: set[int]) -> bool:
    """Whether ``member`` is ``graph`` or holds it at any depth (a graph not yet built holds
    its nodes)."""
    target = member.target
    if target is graph:
        return True
    if not isinstance(target, Team) or id(target) in seen:
        return False
    seen.add(id(target))
    inner = target._nodes.values() if isinstance(target, Graph) else target.members
    return any(_contains(m, graph, seen) for m in inner)


def _count(state: TeamState, done: Sequence[Turn | None]) -> None:
    for turn in done:
        if turn is not None:
            state.add(turn)


class _Plan:
    __slots__ = ("arrived", "ready")

    def __init__(self, start: str) -> None:
        self.ready: list[tuple[str, str]] = [(start, "start")]
        self.arrived: dict[str, set[str]] = {}


def _plan(state: TeamState, start: str) -> _Plan:
    plan = state.scratch.get("graph")
    if plan is None:
        plan = state.scratch["graph"] = _Plan(start)
    assert isinstance(plan, _Plan)
    return plan


async def _holds(when: Condition, state: TeamState) -> bool:
    result = when(state)
    if inspect.isawaitable(result):
        result = await result
    return bool(result)


def _name_of(function: Callable[..., Any]) -> str:
    return getattr(function, "__name__", type(function).__name__)
