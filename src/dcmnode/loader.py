"""Loading a user's pipeline class from ``path/to/file.py[:ClassName]``."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

from dcmnode.errors import ConfigError
from dcmnode.pipeline import Pipeline


def load_pipeline(spec: str) -> type[Pipeline]:
    """Import *spec* (``file.py`` or ``file.py:Class``) and return the pipeline class.

    With no class name the file must define exactly one `Pipeline` subclass.
    """
    path_text, _, class_name = spec.partition(":")
    path = Path(path_text)
    if not path.is_file():
        raise ConfigError(f"pipeline file {path} does not exist")
    module_name = f"dcmnode_user_{abs(hash(path.resolve()))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    # Let the pipeline import modules that sit next to it.
    sys.path.insert(0, str(path.resolve().parent))
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    found = {
        name: obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, Pipeline)
        and obj is not Pipeline
        and obj.__module__ == module_name
    }
    if class_name:
        if class_name not in found:
            known = ", ".join(sorted(found)) or "none"
            raise ConfigError(f"{path} has no Pipeline subclass {class_name!r} (found: {known})")
        cls = found[class_name]
    elif len(found) != 1:
        names = ", ".join(sorted(found)) or "none"
        raise ConfigError(
            f"{path} defines {len(found)} Pipeline subclasses ({names}); "
            f"name one as {path}:ClassName"
        )
    else:
        cls = next(iter(found.values()))
    # Where the class came from, so that a runner can load it again in a
    # fresh process (the synthetic module name cannot be imported there).
    cls._source = f"{path.resolve()}:{cls.__name__}"
    return cls
