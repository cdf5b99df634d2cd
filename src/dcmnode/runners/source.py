"""Where a pipeline class comes from, so that another process can load it again.

``dcmnode run my_node.py`` imports a file that is no importable module; a
`ProcessRunner` child or a Dask worker cannot unpickle its classes by name.
The command line records ``"path.py:Class"`` on the class (``_source``)
and the child loads the file again with `load_class`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from dcmnode.errors import ConfigError


def import_file(path: Path) -> ModuleType:
    """Execute the Python file *path* as a module of its own and return it.

    The file's folder goes first on ``sys.path``, so the file can import
    modules that sit next to it. Raises `ConfigError` naming the file when
    it is missing or its import fails.
    """
    if not path.is_file():
        raise ConfigError(f"pipeline file {path} does not exist")
    module_name = f"dcmnode_user_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def load_class(source: str) -> type:
    """The class named by ``"path.py:Class"`` (as recorded in a pipeline's ``_source``)."""
    path_text, _, class_name = source.rpartition(":")
    found = getattr(import_file(Path(path_text)), class_name, None)
    if not isinstance(found, type):
        raise ConfigError(f"{path_text} has no class {class_name!r}")
    return found
