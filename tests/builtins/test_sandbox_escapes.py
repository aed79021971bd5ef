"""Escape attempts in the Bubblewrap sandbox: each is contained, and the result says which limit
stopped it. Without bubblewrap these tests skip with the install line."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_support import TIGHT, needs_bwrap, processes_of

from baton.errors import ConfigError, MissingDependency
from baton.tools.builtins import Bubblewrap, Limits, Workspace
from baton.tools.builtins.identities import is_root

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux")


async def test_a_tcp_connection_to_a_loopback_service_of_the_host_fails(
    bwrap_workspace: Workspace,
) -> None:
    connected = asyncio.Event()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await bwrap_workspace.run_code(
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
            "    print('CONNECTED')\n"
            "except OSError as exc:\n"
            "    print('refused', type(exc).__name__)\n"
        )
    assert result.ok, result.report()
    assert "refused ConnectionRefusedError" in result.stdout
    assert not connected.is_set()


async def test_a_dns_lookup_fails(bwrap_workspace: Workspace) -> None:
    result = await bwrap_workspace.run_code(
        "import socket\n"
        "for host in ('example.com', 'pypi.org'):\n"
        "    try:\n"
        "        print('RESOLVED', socket.getaddrinfo(host, 443))\n"
        "    except OSError as exc:\n"
        "        print('no dns', type(exc).__name__)\n"
        "print([i for _, i in socket.if_nameindex()])\n"
    )
    assert result.ok, result.report()
    assert "RESOLVED" not in result.stdout
    assert result.stdout.count("no dns gaierror") == 2
    assert "['lo']" in result.stdout  # the namespace's own loopback, nothing else


async def test_writes_outside_the_scratch_directory_fail_or_stay_private(
    bwrap_workspace: Workspace, tmp_path: Path
) -> None:
    host_target = tmp_path / "written-from-the-sandbox"
    result = await bwrap_workspace.run_code(
        "import os\n"
        f"for path in ('/etc/evil', '/usr/evil', '/snippet/evil', {str(host_target)!r}):\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('WROTE', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, exc.strerror)\n"
        "open('/tmp/private', 'w').write('only in the sandbox')\n"
        "open('kept', 'w').write('in scratch')\n"
    )
    assert result.ok, result.report()
    assert "WROTE" not in result.stdout
    assert result.stdout.count("refused") == 4
    assert not host_target.exists()
    assert not os.path.lexists("/tmp/private")  # noqa: ASYNC240
    assert [f.path for f in result.files] == ["kept"]
    assert (bwrap_workspace.scratch / "kept").read_text() == "in scratch"


async def test_the_hosts_home_and_files_are_not_there(
    bwrap_workspace: Workspace, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t")
    home = os.environ.get("HOME", "/root")
    result = await bwrap_workspace.run_code(
        "import os\n"
        f"for path in ({home!r}, '/home', '/root', {str(secret)!r}, '/etc/shadow'):\n"
        "    try:\n"
        "        if os.path.isdir(path):\n"
        "            print(path, 'lists', os.listdir(path))\n"
        "        else:\n"
        "            print(path, 'reads', open(path).read())\n"
        "    except OSError as exc:\n"
        "        print(path, 'refused', exc.strerror)\n"
        "print('whoami', os.getuid(), os.getgid(), os.getgroups())\n"
    )
    assert result.ok, result.report()
    assert "s3cr3t" not in result.stdout
    assert "lists" not in result.stdout
    assert "/etc/shadow refused Permission denied" in result.stdout
    uid = int(result.stdout.split("whoami ")[1].split()[0])
    assert uid != 0
    if is_root():  # running as root, the program runs as the workspace's own fresh uid
        assert uid == bwrap_workspace.uid


async def test_the_hosts_environment_is_not_there(
    bwrap_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_TEST_SECRET", "do-not-leak-42")
    result = await bwrap_workspace.run_code(
        "import os\n"
        "print(sorted(os.environ))\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit():\n"
        "        try:\n"
        "            print(open(f'/proc/{pid}/environ', 'rb').read())\n"
        "        except OSError as exc:\n"
        "            print(pid, exc.strerror)\n"
    )
    assert result.ok, result.report()
    assert "do-not-leak-42" not in result.stdout
    assert "BATON_TEST_SECRET" not in result.stdout
    assert "['HOME', 'LANG', 'PATH', 'PWD', 'PYTHONDONTWRITEBYTECODE', 'TMPDIR']" in result.stdout


async def test_a_python_fork_bomb_hits_the_process_limit(bwrap_workspace: Workspace) -> None:
    result = await bwrap_workspace.run_code("import os\nwhile True:\n    os.fork()\n")
    assert result.limit == "processes", result.report()
    assert "limit of 16 processes" in result.note
    if bwrap_workspace.uid is not None:
        assert processes_of(bwrap_workspace.uid) == []


async def test_a_shell_fork_bomb_is_contained(bwrap_workspace: Workspace) -> None:
    # The top shell stays a moment: with `wait` alone it could exit before the bomb's first
    # refused fork (its children are not its jobs), and the pid namespace then ended the bomb
    # before any limit was hit, so the note depended on the machine's load.
    result = await bwrap_workspace.run_code("bomb() { bomb | bomb & }; bomb; sleep 2", "shell")
    assert result.limit in ("processes", "wall_seconds"), result.report()
    if bwrap_workspace.uid is not None:
        assert processes_of(bwrap_workspace.uid) == []
    # The workspace is usable afterwards: the process budget was not used up for good.
    after = await bwrap_workspace.run_code("print('still here')")
    assert after.ok and after.stdout == "still here\n", after.report()


async def test_a_memory_bomb_hits_the_memory_limit(bwrap_workspace: Workspace) -> None:
    result = await bwrap_workspace.run_code(
        "hog = []\nwhile True:\n    hog.append(bytearray(16 * 1024 * 1024))\n"
    )
    assert result.limit == "memory_mb", result.report()
    assert result.exit_code not in (0, None)
    assert "the memory limit is 256 MB" in result.report()


async def test_a_cpu_loop_hits_the_cpu_limit(bwrap_workspace: Workspace) -> None:
    result = await bwrap_workspace.run_code("while True:\n    pass\n")
    assert result.limit == "cpu_seconds", result.report()
    assert result.exit_code == 128 + 24  # SIGXCPU
    assert "CPU time limit of 1 s" in result.report()


async def test_an_endless_sleep_is_killed_at_the_wall_time_with_its_children() -> None:
    needs_bwrap()
    limits = Limits(wall_seconds=1, cpu_seconds=1)
    async with await Bubblewrap().open(limits) as workspace:
        result = await workspace.run_code("sleep 1000 & sleep 1000 & sleep 1000", "shell")
        assert result.limit == "wall_seconds", result.report()
        assert result.exit_code is None
        assert "wall-time limit of 1 s" in result.report()
        if workspace.uid is not None:
            assert processes_of(workspace.uid) == []


async def test_a_daemon_left_behind_does_not_survive_the_run(bwrap_workspace: Workspace) -> None:
    result = await bwrap_workspace.run_code(
        "import os, subprocess, time\n"
        "subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
        "print('started')\n"
    )
    assert result.ok, result.report()
    if bwrap_workspace.uid is not None:
        assert processes_of(bwrap_workspace.uid) == []


async def test_an_endless_file_hits_the_file_size_limit(bwrap_workspace: Workspace) -> None:
    python = await bwrap_workspace.run_code(
        "with open('endless', 'wb') as f:\n    while True:\n        f.write(b'x' * 65536)\n"
    )
    assert python.limit == "file_size_mb", python.report()
    assert "size limit of 2 MB" in python.report()
    assert (bwrap_workspace.scratch / "endless").stat().st_size <= 2 * 1024 * 1024
    shell = await bwrap_workspace.run_code("yes > endless2", "shell")
    assert shell.limit == "file_size_mb", shell.report()
    assert shell.exit_code == 128 + 25  # SIGXFSZ


async def test_endless_output_is_cut_and_counted(bwrap_workspace: Workspace) -> None:
    result = await bwrap_workspace.run_code("import sys\nsys.stdout.write('y' * 100_000)\n")
    assert result.ok
    assert len(result.stdout) == 16 * 1024
    assert result.dropped_stdout == 100_000 - 16 * 1024
    assert f"({100_000 - 16 * 1024} more bytes dropped)" in result.report()


async def test_too_many_open_files_hit_the_limit() -> None:
    needs_bwrap()
    async with await Bubblewrap().open(Limits(open_files=16)) as workspace:
        result = await workspace.run_code("files = [open(f'f{i}', 'w') for i in range(100)]\n")
    assert result.limit == "open_files", result.report()


async def test_each_workspace_runs_as_its_own_uid() -> None:
    needs_bwrap()
    if not is_root():
        pytest.skip("only root can give each workspace its own uid")
    sandbox = Bubblewrap()
    async with await sandbox.open(TIGHT) as first, await sandbox.open(TIGHT) as second:
        assert first.uid is not None and second.uid is not None
        assert first.uid != second.uid
        one = await first.run_code("import os; print(os.getuid())")
        two = await second.run_code("import os; print(os.getuid())")
    assert one.stdout.strip() == str(first.uid)
    assert two.stdout.strip() == str(second.uid)


async def test_a_sandbox_that_cannot_start_the_program_is_a_config_error() -> None:
    """bwrap's own failure (here: no such interpreter inside) is the developer's to fix; a
    program that fails by itself is a result like any other."""
    needs_bwrap()
    async with await Bubblewrap(python="python-not-in-the-sandbox").open(TIGHT) as workspace:
        with pytest.raises(ConfigError, match="bwrap: execvp python-not-in-the-sandbox"):
            await workspace.run_code("print(1)")
        failed = await workspace.run_code("echo 'bwrap: fake' >&2; exit 1", "shell")
        assert failed.exit_code == 1 and failed.stderr == "bwrap: fake\n"


async def test_a_missing_bwrap_names_the_package() -> None:
    with pytest.raises(MissingDependency, match="install the 'bubblewrap' package"):
        await Bubblewrap(executable="bwrap-not-installed-here").open()


def test_the_host_loopback_really_has_a_listener_to_attack() -> None:
    """The first test's server is real: the host side of the connection works."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        probe.listen()
        port = probe.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


AS_NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
UNPRIVILEGED_RUN = """
import asyncio, os
from baton.tools.builtins import Bubblewrap, Limits

async def main():
    limits = Limits(processes=16, cpu_seconds=2, wall_seconds=20)
    async with await Bubblewrap().open(limits) as workspace:
        me = await workspace.run_code("import os; print(os.getuid())")
        bomb = await workspace.run_code("import os\\nwhile True:\\n    os.fork()\\n")
        after = await workspace.run_code("print('after')")
    print(workspace.uid, me.stdout.strip(), bomb.limit, after.stdout.strip())

asyncio.run(main())
"""


def test_not_running_as_root_the_sandbox_runs_as_you_and_still_contains_a_fork_bomb() -> None:
    """Most developers are not root: the program runs as their uid, and the process limit is
    counted on top of the processes they already have."""
    needs_bwrap()
    if not is_root() or not os.path.exists("/usr/bin/python3"):
        pytest.skip("needs root (to become an unprivileged user) and /usr/bin/python3")
    site_packages = next(p for p in sys.path if p.endswith("site-packages"))
    worktree = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [*AS_NOBODY, "/usr/bin/python3", "-c", UNPRIVILEGED_RUN],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{worktree}:{site_packages}"},
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "ImportError" in done.stderr or "ModuleNotFoundError" in done.stderr:
        pytest.skip(f"the system python3 cannot import this environment: {done.stderr[-200:]}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "65534", "processes", "after"]
