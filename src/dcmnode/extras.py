"""Optional dependencies ("extras"), imported where a feature needs them.

``pip install dcmnode`` installs what every node needs. Heavier packages come
with extras: ``dcmnode[results]`` (highdicom, nibabel, matplotlib, scikit-image) and
``dcmnode[dask]`` (Dask distributed); ``dcmnode[all]`` installs both.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError

__all__ = ["require"]


def require(extra: str, module: str, feature: str) -> ModuleType:
    """Import an optional module, or say which extra installs it.

    Parameters
    ----------
    extra
        Name of the extra that provides the module, e.g. ``"results"``.
    module
        Absolute module name passed to :func:`importlib.import_module`,
        e.g. ``"highdicom"`` or ``"matplotlib.figure"``.
    feature
        What needs the module, as the user knows it, e.g. ``"segmentation()"``.

    Returns
    -------
    ModuleType
        The imported module.

    Raises
    ------
    MissingExtraError
        The module (or one it imports) cannot be imported; the message names
        ``feature``, ``module`` and ``pip install 'dcmnode[extra]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(
            f"{feature} needs the optional module {module!r}, which cannot be imported"
            f" ({error}); install it with: pip install 'dcmnode[{extra}]'",
            name=module,
        ) from error
