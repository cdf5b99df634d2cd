"""Settings: class attributes <- TOML file <- environment <- command line.

A *setting* is a public, annotated (or plainly valued) attribute of a
`~dcmnode.Pipeline` subclass: ``port: int = 11112``, or a user's own
``destination: Address | None = None``. Values from text (environment,
``--set``) are converted by the annotation; every error names the setting
and where its value came from.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dcmnode.errors import ConfigError
from dcmnode.network.address import Address

ENV_PREFIX = "DCMNODE_"
_SIMPLE = (str, int, float, bool, Address, list, tuple, type(None))
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def settings_of(cls: type) -> dict[str, Any]:
    """Map every setting of pipeline class *cls* to its annotation (or ``Any``)."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        # Class by class, so that one unresolvable user annotation (a name
        # imported only for type checkers) costs only that class's hints;
        # its settings then take their type from their default value.
        try:
            hints.update(typing.get_type_hints(klass))
        except Exception:
            for name, raw in getattr(klass, "__annotations__", {}).items():
                if isinstance(raw, str) and raw.startswith(("ClassVar", "typing.ClassVar")):
                    hints[name] = typing.ClassVar
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        for name in list(getattr(klass, "__annotations__", {})) + list(vars(klass)):
            if name.startswith("_") or name in found:
                continue
            annotation = hints.get(name, Any)
            if annotation is typing.ClassVar or typing.get_origin(annotation) is typing.ClassVar:
                continue
            value = getattr(cls, name, None)
            if name in getattr(klass, "__annotations__", {}) or isinstance(value, _SIMPLE):
                if callable(value) and not isinstance(value, Address):
                    continue
                found[name] = annotation
    return found


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """*value* if it is a whole number >= *minimum*; else a `ConfigError` naming *name*."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"a whole number >= {minimum}"
        raise ConfigError(f"{name}: must be {wanted}, got {value!r}")
    return value


def check_seconds(name: str, value: object, zero: str | None = None) -> float:
    """*value* as seconds > 0 -- or >= 0 when *zero* says what 0 means; else a `ConfigError`."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or value < 0 or (value == 0 and zero is None):  # type: ignore[operator]
        wanted = "a positive number of seconds" if zero is None else f"seconds >= 0 (0: {zero})"
        raise ConfigError(f"{name}: must be {wanted}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _unknown(name: str, known: Mapping[str, Any], source: str) -> ConfigError:
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"unknown setting {name!r} (from {source}){hint}")


def convert(name: str, annotation: Any, value: Any, source: str) -> Any:
    """Convert *value* (text or TOML value) to the type *annotation* asks for."""
    try:
        return _convert(annotation, value)
    except (ValueError, TypeError, ConfigError) as exc:
        raise ConfigError(f"setting {name!r} (from {source}): {exc}") from None


def _convert(annotation: Any, value: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if type(None) in options and (
            value is None or (isinstance(value, str) and value.strip().lower() in ("", "none"))
        ):
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value)
            except (ValueError, TypeError, ConfigError) as exc:
                errors.append(str(exc))
        raise ValueError(" / ".join(errors))
    if annotation is Any:
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ValueError(f"expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            return int(value.strip())
        raise ValueError(f"expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            return float(value.strip())
        raise ValueError(f"expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"expected text, got {value!r}")
    if annotation is Address:
        if isinstance(value, Address):
            return value
        if isinstance(value, str):
            return Address.parse(value)
        raise ValueError(f"expected AET@host:port, got {value!r}")
    if origin in (list, tuple, Sequence) or annotation in (list, tuple):
        args = typing.get_args(annotation)
        item = args[0] if args else Any
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            raise ValueError(f"expected a list, got {value!r}")
        return [_convert(item, v) for v in value]
    if isinstance(annotation, type) and isinstance(value, annotation):
        return value
    raise ValueError(f"cannot convert {value!r} to {annotation}")


def from_default(cls: type, name: str, annotation: Any) -> Any:
    """For unannotated settings, infer the type from the class default."""
    if annotation is not Any:
        return annotation
    default = getattr(cls, name, None)
    if isinstance(default, bool | int | float | str | Address):
        return type(default)
    if isinstance(default, list | tuple):
        return list
    return Any


def resolve(
    cls: type,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    assignments: Sequence[str] = (),
) -> dict[str, Any]:
    """Collect overrides for *cls* from a TOML file, the environment and ``name=value`` texts.

    Later sources win: TOML < environment (``DCMNODE_PORT=104``) < assignments.
    Returns only the settings that were overridden.
    """
    known = settings_of(cls)
    overrides: dict[str, Any] = {}

    def put(name: str, value: Any, source: str) -> None:
        if name not in known:
            raise _unknown(name, known, source)
        overrides[name] = convert(name, from_default(cls, name, known[name]), value, source)

    if config_file is not None:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        for name, value in data.items():
            if isinstance(value, dict):
                raise ConfigError(f"config file {path}: tables are not settings ([{name}])")
            put(name, value, str(path))
    for key, value in (os.environ if environ is None else environ).items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX) :].lower()
            if name in known:
                put(name, value, f"environment {key}")
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--set {text!r}: expected name=value")
        put(name.strip(), value, f"--set {name.strip()}")
    return overrides
