"""Ids (conversations, runs, team asks): random, unique across threads and forked processes
(Python's fork hooks or not)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading

import pytest

from baton.conversation import new_id

HEX16 = re.compile(r"[0-9a-f]{16}")


def test_ids_are_16_hex_digits_and_distinct() -> None:
    ids = [new_id() for _ in range(5_000)]
    assert all(HEX16.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_threads_never_take_the_same_id() -> None:
    taken: list[list[str]] = [[] for _ in range(4)]
    start = threading.Barrier(len(taken))

    def take(out: list[str]) -> None:
        start.wait()  # all four draw at once, through refills too
        out.extend(new_id() for _ in range(3_000))

    threads = [threading.Thread(target=take, args=(out,)) for out in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for out in taken for i in out]
    assert len(every) == 12_000
    assert len(set(every)) == len(every)


# Run in a fresh interpreter: forking through C from pytest's process, where other tests have
# left threads running (thread pools, servers), can leave the child waiting on a lock one of
# them held at the fork, for ever.
_FORKED_FROM_C = """
import ctypes, json, os
from baton.conversation import new_id

new_id()  # the parent has made an id before it forks (an app built at import)
fork = ctypes.CDLL(None, use_errno=True).fork
read, write = os.pipe()
pid = fork()
if pid == 0:  # the child: its next ids, then out
    try:
        os.write(write, "".join(new_id() for _ in range(8)).encode())
    finally:
        os._exit(0)
assert pid > 0, ctypes.get_errno()
os.close(write)
with os.fdopen(read) as pipe:
    child = pipe.read()
os.waitpid(pid, 0)
print(json.dumps({"child": child, "parent": "".join(new_id() for _ in range(8))}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="forks through the C library's fork")
def test_a_child_forked_without_pythons_fork_hooks_does_not_repeat_its_parents_ids() -> None:
    """As servers that fork from C do (uWSGI's prefork workers, by default): no
    ``os.register_at_fork`` hook runs in the child, so nothing the parent read ahead may be
    handed out again there."""
    done = subprocess.run(
        [sys.executable, "-c", _FORKED_FROM_C], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    ids = json.loads(done.stdout)
    child, parent = ids["child"], ids["parent"]
    child_ids = {child[i : i + 16] for i in range(0, len(child), 16)}
    parent_ids = {parent[i : i + 16] for i in range(0, len(parent), 16)}
    assert len(child_ids) == 8, child
    assert not child_ids & parent_ids
