"""Built-in tools, imported only when used: ``from baton.tools.builtins import code_execution``.

- ``memory_tools``: notes an agent keeps across conversations.
- ``code_execution``: the model's code, run in a sandbox (``Bubblewrap``, ``Docker``, or by name
  only ``UnsafeSubprocess``) under ``Limits``.
- ``files``: read, write, list, search and patch files inside one root directory.
- ``shell``: shell commands in the same sandbox, under a ``ShellPolicy`` (allow, deny, ask).
- ``web_fetch``: a web page as readable text; private addresses refused unless allowed.
- ``web_search``: one search tool over Tavily, Brave or SearXNG.
- ``WebSearch()``, ``CodeInterpreter()``, ``FileSearch(...)``: the provider's own tools
  (``baton.models.hosted``), with a local ``fallback=`` where a provider lacks one.
"""

from ...models.hosted import CodeInterpreter, FileSearch, HostedTool, WebSearch
from .bubblewrap import Bubblewrap
from .code_execution import CodeExecution, code_execution, default_sandbox
from .docker import Docker
from .files import OutsideRoot, files
from .limits import Limits
from .memory import Namespace, memory_tools, resolve_namespace, variable_namespace
from .sandbox import Execution, Sandbox, Workspace, WorkspaceClosed, WrittenFile
from .shell import Shell, shell
from .shell_policy import ShellPolicy, Verdict
from .unsafe import UnsafeSubprocess
from .web_fetch import BlockedAddress, FetchFailed, web_fetch
from .web_search import Brave, SearchFailed, SearchProvider, SearXNG, Tavily, web_search

__all__ = [
    "BlockedAddress",
    "Brave",
    "Bubblewrap",
    "CodeExecution",
    "CodeInterpreter",
    "Docker",
    "Execution",
    "FetchFailed",
    "FileSearch",
    "HostedTool",
    "Limits",
    "Namespace",
    "OutsideRoot",
    "Sandbox",
    "SearXNG",
    "SearchFailed",
    "SearchProvider",
    "Shell",
    "ShellPolicy",
    "Tavily",
    "UnsafeSubprocess",
    "Verdict",
    "WebSearch",
    "Workspace",
    "WorkspaceClosed",
    "WrittenFile",
    "code_execution",
    "default_sandbox",
    "files",
    "memory_tools",
    "resolve_namespace",
    "shell",
    "variable_namespace",
    "web_fetch",
    "web_search",
]
