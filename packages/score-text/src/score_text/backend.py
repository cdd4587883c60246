"""Choosing the Keras backend: torch unless the user already chose one."""

from __future__ import annotations

import os
import sys
from typing import Any

DEFAULT_BACKEND = "torch"


def ensure_backend() -> str:
    """Set ``KERAS_BACKEND`` to torch when the user has not set it; call before the first ``import keras``."""
    return os.environ.setdefault("KERAS_BACKEND", DEFAULT_BACKEND)


def keep_tensorflow_out() -> None:
    """On the torch backend, stop Keras importing tensorflow just because it is installed.

    Keras's saving code asks ``tf.available`` (which imports tensorflow) even on the torch backend; torch and
    tensorflow in one process can crash, so Keras's lazy tensorflow module is marked unavailable here.
    """
    import keras

    if keras.backend.backend() != "torch" or "tensorflow" in sys.modules:
        return
    try:
        from keras.src.utils import module_utils
    except ImportError:  # a future keras layout: nothing to patch
        return
    lazy = getattr(module_utils, "tensorflow", None)
    if lazy is not None and getattr(lazy, "_available", None) is None and getattr(lazy, "module", None) is None:
        lazy._available = False


def keras_module() -> Any:
    """The keras module, imported after :func:`ensure_backend`."""
    ensure_backend()
    import keras

    keep_tensorflow_out()
    return keras
