"""Loading a pipeline's module: from a file, or by its importable name.

``dcmnode run my_node.py`` imports a file that is no importable module; a
`ProcessRunner` child or a Dask worker cannot unpickle its classes by name.
The command line records ``"path.py:Class"`` on the class (``_source``)
and the child loads the file again with `load_class`. A pipeline named as
``package.module:Class`` is importable everywhere and needs no such record.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import site
import sys
import sysconfig
from importlib.machinery import FrozenImporter, PathFinder
from pathlib import Path
from types import ModuleType

from dcmnode.errors import ConfigError

__all__ = ["import_file", "import_module", "load_class", "shadowing"]


def import_file(path: Path) -> ModuleType:
    """Execute the Python file *path* as a module of its own and return it.

    The file's folder goes first on ``sys.path``, so the file can import
    modules that sit next to it. Raises `ConfigError` naming the file when
    it is missing, when a file or package in its folder would shadow an
    installed one (see `shadowing`), or when its import fails.
    """
    if not path.is_file():
        raise ConfigError(f"pipeline file {path} does not exist")
    shadows = shadowing(path.resolve().parent)
    if shadows:
        # Said before the import: once a module such as dask.py is first on
        # sys.path, the failure surfaces deep inside a library, far from here.
        raise ConfigError(
            "; ".join(f"{found} shadows the installed package {name!r}" for found, name in shadows)
            + f": the folder of {path} goes first on the import path, so Python would import "
            "these instead; rename them"
        )
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


def import_module(name: str) -> ModuleType:
    """Import the module *name* (``package.module``), as uvicorn does for ``module:app``.

    The current folder is searched last, after the installed packages, so a
    module of the current folder can be named without shadowing anything.
    """
    if not all(part.isidentifier() for part in name.split(".")):
        raise ConfigError(f"{name!r} is neither a pipeline file (PATH.py) nor a module name")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise ConfigError(
                f"cannot import {name}: no module named {exc.name!r} (install it, or run "
                "from the folder that holds it, or name a file as PATH.py)"
            ) from exc
        raise ConfigError(f"importing {name} failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise ConfigError(f"importing {name} failed: {type(exc).__name__}: {exc}") from exc


def shadowing(folder: Path) -> list[tuple[Path, str]]:
    """Files and packages in *folder* named like an installed or standard-library module.

    Returns ``(path in folder, module name)`` pairs: with *folder* first on
    ``sys.path`` (as for a pipeline file), ``import name`` would load them
    instead of the installed package or standard-library module.
    """
    found: list[tuple[Path, str]] = []
    for entry in sorted(folder.iterdir()):
        if entry.suffix == ".py" and entry.is_file():
            name = entry.stem
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            name = entry.name
        else:
            continue
        if name.isidentifier() and _installed(name, folder):
            found.append((entry, name))
    return found


def _installed(name: str, folder: Path) -> bool:
    """Whether ``import name`` finds something installed, *folder* aside."""
    if name in sys.builtin_module_names or FrozenImporter.find_spec(name) is not None:
        return False  # found before sys.path is searched: cannot be shadowed
    # Only the standard library and site-packages count: a folder of another
    # pipeline loaded earlier is on sys.path too, and is no package to shadow.
    places = [p for p in _install_dirs() if Path(p).resolve() != folder]
    if PathFinder.find_spec(name, places) is not None:
        return True
    # Editable installs answer through finders of their own on sys.meta_path.
    for finder in sys.meta_path:
        if finder in (PathFinder, FrozenImporter) or not hasattr(finder, "find_spec"):
            continue
        try:
            spec = finder.find_spec(name, None)
        except Exception:  # noqa: BLE001 - a third-party finder's failure is no answer
            continue
        origin = getattr(spec, "origin", None)
        if spec is not None and not (origin and Path(origin).resolve().is_relative_to(folder)):
            return True
    return False


def _install_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    dirs.update(site.getsitepackages())
    user = site.getusersitepackages()
    if isinstance(user, str):
        dirs.add(user)
    return sorted(d for d in dirs if os.path.isdir(d))


def load_class(source: str) -> type:
    """The class named by ``"path.py:Class"`` (as recorded in a pipeline's ``_source``)."""
    path_text, _, class_name = source.rpartition(":")
    found = getattr(import_file(Path(path_text)), class_name, None)
    if not isinstance(found, type):
        raise ConfigError(f"{path_text} has no class {class_name!r}")
    return found
