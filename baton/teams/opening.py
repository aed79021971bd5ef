"""How a team's ask opens its conversation: the options it takes, the claim (a new
conversation, a stored one by id, or the one a reply continues), and the repair of what a dead
process left open (a member's run, then team asks), before the first turn."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, cast

from ..conversation import Conversation, claim_stored, new_conversation
from ..errors import ConfigError, ConversationBusy
from ..history import History, Storage
from ..options import ASK_OPTION_NAMES, check_mapping, unknown_option
from ..run import close_open_run
from ..storing import store
from .human import pause_key
from .recording import innermost
from .state import closing_teams, open_teams

if TYPE_CHECKING:
    from .reply import TeamReply

__all__ = [
    "MADE_WITH",
    "MEMBER_OPTIONS",
    "TEAM_OPTIONS",
    "no_option",
    "open_conversation",
    "repair",
]

# relay: a parent ask answers the members' human requests (the team as a sub-task);
# middleware, observers: added to every member's (e.g. the parent's inherited Telemetry, a
# served team's dev UI recorder); suspend_on_human: a member's question (context.input)
# pauses the team's ask (a served team's client answers it) instead of waiting on the stream.
MEMBER_OPTIONS = frozenset({"relay", "middleware", "observers", "suspend_on_human"})
TEAM_OPTIONS = frozenset({"conversation_id", "stream", "wait_busy", "variables"}) | MEMBER_OPTIONS
# What every team is made with (a pattern adds its own: a swarm's start=, ...), not per ask.
MADE_WITH = frozenset(
    {"termination", "max_turns", "history", "storage", "description", "variables"}
)


def no_option(name: str, known: Collection[str], where: str) -> ConfigError:
    """The error for an option a team (``where``) does not take, naming the nearest one it
    does (a team takes no model settings: none is suggested)."""
    return unknown_option(name, known, where, takes_settings=False)


async def open_conversation(
    history: History | None,
    variables: dict[str, Any],
    options: Mapping[str, Any],
    after: TeamReply | None,
) -> Conversation:
    """Claim the conversation a team's ask runs on (see the module docs)."""
    for key in options:
        if key not in TEAM_OPTIONS:
            raise _not_for_an_ask(key)
    check_mapping("variables", options.get("variables"))  # before anything is claimed
    wait = options.get("wait_busy", 0)
    if after is not None:
        return await after.claim_next(cast(Any, {"wait_busy": wait}))
    conversation_id = options.get("conversation_id")
    if conversation_id is None:
        return new_conversation(options.get("stream"), dict(variables), history)
    if history is None:
        raise ConfigError(
            "team.ask(conversation_id=...) continues a stored conversation and needs a "
            "history: give the team history=MemoryHistory() (or another History); to "
            "continue in memory, call reply.ask(...)"
        )
    return await claim_stored(
        history,
        conversation_id,
        stream=options.get("stream"),
        variables=variables,
        wait=wait,
    )


def _not_for_an_ask(key: str) -> ConfigError:
    if key in MADE_WITH:  # max_turns=, termination=: the team's, not its members'
        return ConfigError(
            f"{key}= is set when the team is made (e.g. RoundRobin([...], {key}=...)), not "
            f"per ask; a team's ask takes {', '.join(sorted(TEAM_OPTIONS))}"
        )
    if key in ASK_OPTION_NAMES:
        return ConfigError(
            f"a team's ask takes {', '.join(sorted(TEAM_OPTIONS))}; {key}= is an "
            "option of its members' agents (set it on the agent)"
        )
    return no_option(key, TEAM_OPTIONS, "a team's ask")


async def repair(conversation: Conversation, storage: Storage | None) -> None:
    """Close what a dead process left open: a member's run, then team asks."""
    events = conversation.events
    if not events:
        return
    still_open = open_teams(events)
    if still_open and storage is not None:
        # Checked first: a team paused in a member's own run has that run open too.
        paused = await storage.get(pause_key(conversation.id))
        if isinstance(paused, dict) and paused.get("team_id") in {t for t, _ in still_open}:
            waiting = innermost(paused)  # a member team's pause: who waits there
            ids = waiting.get("request_id") or ", ".join(waiting.get("request_ids") or ())
            raise ConversationBusy(
                f"conversation {conversation.id} has an ask of team {paused.get('team')!r} "
                f"paused while waiting for {waiting.get('member')!r} (request {ids}); finish it "
                f"first with team.resume({conversation.id!r}, HumanMessage(request_id=..., "
                "text=...))"
            )
    paused_run = await close_open_run(conversation, storage)
    if paused_run is not None:
        raise ConversationBusy(
            f"conversation {conversation.id} has an ask of {paused_run.agent!r} paused while "
            "waiting for a human; finish it first with that agent's resume(...)"
        )
    closing = closing_teams(
        conversation.events,
        "Interrupted",
        "The process running this team stopped before it finished.",
    )
    if closing:
        await store(conversation, closing)
