"""The ``baton worker`` commands: ``run`` a worker process on Redis Streams, ``submit`` a task
and wait for its output, ``serve`` a worker over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import BatonError, ConfigError
from ..loading import load_target
from .spec import WorkerSpec, is_spec_id

__all__ = ["load_agent", "worker_app"]

T = TypeVar("T")


def load_agent(target: str) -> Any:
    """The agent ``--agent module:attribute`` names (imported from the working directory; a
    function there is called to make it)."""
    return load_target(target, lambda o: hasattr(o, "ask"), "a baton Agent", option="--agent")


def worker_app() -> Any:
    """The ``baton worker`` typer app."""
    import typer

    # Said in the help: without --redis a worker shares the local server's database 0.
    _REDIS_HELP = "Redis URL (default: redis://127.0.0.1:6379/0)."
    app = typer.Typer(
        help="Bounded workers: run, submit to and serve a *.worker.md contract.",
        no_args_is_help=True,
    )

    @app.command("run")
    def run_command(
        spec: Path = typer.Argument(..., help="The *.worker.md file."),
        agent: str = typer.Option(..., "--agent", help="The agent, as 'module:attribute'."),
        redis: str | None = typer.Option(
            None, "--redis", envvar="BATON_REDIS_URL", help=_REDIS_HELP, show_default=False
        ),
        concurrency: int = typer.Option(4, "--concurrency", "-c", help="Tasks run at once."),
        prefix: str = typer.Option("baton:", "--prefix", help="Redis key prefix."),
        heartbeat: float = typer.Option(5.0, "--heartbeat", help="Seconds between heartbeats."),
        retry_delay: float = typer.Option(0.5, "--retry-delay", help="First retry backoff (s)."),
        every: float | None = typer.Option(
            None, "--every", help="Also submit --task every SECONDS (once across processes)."
        ),
        cron: str | None = typer.Option(
            None, "--cron", help="Also submit --task at a cron expression's times (UTC)."
        ),
        task: str = typer.Option("", "--task", help="The task a --every/--cron tick submits."),
        missed: str = typer.Option(
            "skip", "--missed", help="Ticks missed while down: skip, or catch_up (up to 10)."
        ),
    ) -> None:
        """Run a worker process: take the spec's tasks from Redis and run them on the agent."""
        options = _RunOptions(
            concurrency, prefix, heartbeat, retry_delay, every, cron, task, missed
        )
        _said(lambda: asyncio.run(_run(spec, agent, redis, options)))

    @app.command("submit")
    def submit_command(
        spec: str = typer.Argument(..., help="The *.worker.md file, or the spec's id."),
        payload: str = typer.Option(..., "--payload", help="The task's JSON payload."),
        redis: str | None = typer.Option(
            None, "--redis", envvar="BATON_REDIS_URL", help=_REDIS_HELP, show_default=False
        ),
        prefix: str = typer.Option("baton:", "--prefix", help="Redis key prefix."),
        wait: bool = typer.Option(
            True, "--wait/--no-wait", help="Wait for the output and print it."
        ),
        timeout: float | None = typer.Option(
            None, "--timeout", help="Seconds to wait (default: for ever)."
        ),
    ) -> None:
        """Submit a task to the spec's workers; print its output (or its run id with --no-wait)."""
        raise typer.Exit(
            _said(lambda: asyncio.run(_submit(spec, payload, redis, prefix, wait, timeout)))
        )

    @app.command("serve")
    def serve_command(
        spec: Path = typer.Argument(..., help="The *.worker.md file."),
        agent: str = typer.Option(..., "--agent", help="The agent, as 'module:attribute'."),
        http: str = typer.Option("127.0.0.1:8000", "--http", help="Serve on HOST:PORT."),
        token: str | None = typer.Option(
            None,
            "--token",
            envvar="BATON_WORKER_TOKEN",
            help="Bearer token clients must send (default: one is generated and printed).",
            show_default=False,
        ),
        no_token: bool = typer.Option(
            False, "--no-token", help="No token: loopback address and clients only."
        ),
        concurrency: int = typer.Option(16, "--concurrency", "-c", help="Runs at once."),
    ) -> None:
        """Serve a worker over HTTP: POST /runs, GET /runs/{run_id}."""
        try:
            asyncio.run(_serve(spec, agent, http, token, no_token, concurrency))
        except ConfigError as exc:
            print(f"ConfigError: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            pass

    return app


def _said(command: Callable[[], T]) -> T:
    """Run a command's body; a Baton error (Redis refusing the URL's database or
    unreachable, a bad spec) is said in one line, not a traceback: exit 2 for a
    ``ConfigError``, 1 for the others."""
    import typer

    try:
        return command()
    except ConfigError as exc:
        print(f"ConfigError: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    except BatonError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None


async def _serve(
    spec_path: Path, target: str, http: str, token: str | None, no_token: bool, concurrency: int
) -> None:
    from ..endpoint_guard import host_and_port, is_loopback
    from .http import WorkerApp
    from .requires import require
    from .worker import Worker

    host, port = host_and_port(http)
    if no_token and not is_loopback(host):
        raise ConfigError(
            f"--no-token serves without authentication and is only allowed on a loopback "
            f"address (127.0.0.1, ::1, localhost), not {host!r}; give a token instead"
        )
    uvicorn = require("uvicorn", "worker", "baton worker serve")
    spec = WorkerSpec.load(spec_path)
    app = WorkerApp(
        Worker(load_agent(target), spec), token=token, no_token=no_token, concurrency=concurrency
    )
    print(f"Serving worker {spec.id!r} at http://{http}/runs", file=sys.stderr, flush=True)
    if token is None and app.token is not None:
        print(f"Bearer token (generated; choose one with --token): {app.token}", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    loop = asyncio.get_running_loop()
    handle_exit = server.handle_exit

    def stop(signum: int, frame: Any) -> None:
        # Called by uvicorn's signal handling: a first signal stops taking requests and lets
        # the runs accepted with 202 finish (the app's lifespan); a second gives up on them.
        if server.should_exit:
            loop.call_soon_threadsafe(app.pool.cancel)
            print(f"worker {spec.id} stopping at once", file=sys.stderr, flush=True)
        elif app.pool.in_progress:
            print(
                f"worker {spec.id} stopping: finishing {app.pool.in_progress} accepted runs "
                "(signal again to stop at once)",
                file=sys.stderr,
                flush=True,
            )
        handle_exit(signum, frame)

    server.handle_exit = stop
    await server.serve()


@dataclass(frozen=True)
class _RunOptions:
    concurrency: int
    prefix: str
    heartbeat: float
    retry_delay: float
    every: float | None
    cron: str | None
    task: str
    missed: str


def _triggers(spec: WorkerSpec, options: _RunOptions) -> list[Any]:
    """The triggers the spec (front matter ``triggers``) and the command line (``--every``,
    ``--cron``) declare."""
    from .triggers import Schedule, Tick, Trigger

    if (options.every is not None or options.cron is not None) and not options.task:
        raise ConfigError("--every and --cron submit a --task: give its text")
    if options.missed not in ("skip", "catch_up"):
        raise ConfigError(f"--missed is skip or catch_up, not {options.missed!r}")
    declared: list[dict[str, Any]] = [dict(t) for t in spec.triggers]
    for kind, value in (("every", options.every), ("cron", options.cron)):
        if value is not None:
            declared.append({kind: value, "task": options.task, "missed": options.missed})
    triggers = []
    for number, trigger in enumerate(declared, 1):
        kind = "every" if "every" in trigger else "cron"
        schedule = (
            Schedule.every(float(trigger["every"]))
            if kind == "every"
            else Schedule.cron(trigger["cron"])
        )
        name = trigger.get("name") or f"{spec.id}-{kind}-{number}"

        def payload(tick: Tick, trigger: dict[str, Any] = trigger) -> dict[str, Any]:
            context = {**trigger.get("context", {}), "tick": tick.iso}
            return {"run_id": tick.run_id, "task": trigger["task"], "context": context}

        triggers.append(
            Trigger.scheduled(
                name,
                schedule,
                payload,
                missed=trigger.get("missed", "skip"),
                catch_up=int(trigger.get("catch_up", 10)),
            )
        )
    return triggers


async def _run(spec_path: Path, target: str, redis: str | None, options: _RunOptions) -> None:
    from .redis_client import WorkerClient
    from .redis_runner import RedisRunner
    from .triggers import Tick, TriggerRunner
    from .worker import Worker

    spec = WorkerSpec.load(spec_path)
    triggers = _triggers(spec, options)
    worker = Worker(load_agent(target), spec, retry_delay=options.retry_delay)
    for trigger in triggers:  # a tick the input schema refuses would fail on every tick
        _, refused = worker.check(trigger.payload(Tick(trigger.name, 0.0, "check")))
        if refused is not None:
            raise ConfigError(
                f"trigger {trigger.name!r} submits {{run_id, task, context}}, which the spec's "
                f"input schema refuses ({'; '.join(refused.result['details'])}); accept that "
                "shape in the input schema, or submit ticks from Python (TriggerRunner)"
            )
    runner = RedisRunner(
        worker,
        redis,
        concurrency=options.concurrency,
        prefix=options.prefix,
        heartbeat=options.heartbeat,
    )
    ticking: asyncio.Task[None] | None = None
    if triggers:
        client = WorkerClient(redis, spec.id, prefix=options.prefix)
        scheduler = TriggerRunner(
            triggers, client.submit, redis=client.connector.url or redis, prefix=options.prefix
        )
        ticking = asyncio.create_task(scheduler.run(), name="baton-worker-triggers")
    loop = asyncio.get_running_loop()

    stopping = False

    def stop(signum: int) -> None:
        nonlocal stopping
        if stopping:
            # A second signal: the operator won't wait. The tasks in hand are not acknowledged,
            # so Redis hands them to another worker (at least once), as after a crash.
            print(
                f"worker {spec.id} stopped at once: its {runner.in_hand} tasks in hand will be "
                "taken again by another worker",
                flush=True,
            )
            os._exit(128 + signum)
        stopping = True
        print(
            f"worker {spec.id} stopping: finishing {runner.in_hand} tasks in hand "
            "(signal again to stop at once)",
            flush=True,
        )
        runner.stop()
        if ticking is not None:
            ticking.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(signum, stop, signum)
    print(f"worker {spec.id} ready ({runner.consumer})", flush=True)
    await runner.run()
    if ticking is not None:
        with contextlib.suppress(asyncio.CancelledError):
            await ticking
    print(f"worker {spec.id} stopped after {runner.handled} tasks", flush=True)


async def _submit(
    spec: str,
    payload_text: str,
    redis: str | None,
    prefix: str,
    wait: bool,
    timeout: float | None,  # noqa: ASYNC109
) -> int:
    from .redis_client import WorkerClient

    path = Path(spec)
    is_file = path.suffix == ".md" or path.is_file()  # noqa: ASYNC240 (once, at start)
    loaded = WorkerSpec.load(path) if is_file else None
    spec_id = loaded.id if loaded is not None else spec
    if loaded is None and not is_spec_id(spec_id):
        raise ConfigError(f"{spec!r} is neither a *.worker.md file nor a worker's id")
    try:
        payload = json.loads(payload_text)
    except ValueError as exc:
        raise ConfigError(f"--payload is not JSON ({exc})") from None
    client = WorkerClient(
        redis,
        spec_id,
        prefix=prefix,
        idempotency_key=loaded.idempotency_key if loaded else "run_id",
    )
    if not wait:
        print(await client.submit(payload))
        return 0
    try:  # run() submits, then waits
        output = await client.run(payload, timeout=timeout)
    except TimeoutError as exc:
        print(f"TimeoutError: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(output))
    return 0 if output["status"] == "ok" else 1
