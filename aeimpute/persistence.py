"""Model files: an envelope of JSON metadata and tensors, without pickle.

A model file is a zip archive with two members:

``meta.json``
    the envelope (format name and version, library version, which estimator,
    a SHA-256 of the weights) around the estimator's own metadata.
``weights.pt``
    named tensors, written with ``torch.save`` and read back with
    ``torch.load(..., weights_only=True)``, which never executes code.

This module knows nothing about the estimators: each one hands :func:`write`
its ``(meta, tensors)`` (``_get_state``) and rebuilds itself from what
:func:`read` returns (``_set_state``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from aeimpute._files import atomic_path
from aeimpute._version import __version__

FORMAT = "aeimpute-model"
#: version 2: every estimator writes its own state; the blend's candidates by name
FORMAT_VERSION = 2


class ModelFileError(ValueError):
    """A model file is unreadable, tampered with, or from an incompatible version."""


def _major_minor(version: str) -> tuple[int, int]:
    parts = version.split(".")
    return int(parts[0]), int(parts[1])


def json_params(params: dict, tuples: tuple[str, ...] = ()) -> dict:
    """Constructor parameters as JSON values: a RandomState becomes None (estimators save the
    seed they drew from it), the ``tuples`` parameters lists."""
    out = dict(params)
    if isinstance(out.get("random_state"), np.random.RandomState):
        out["random_state"] = None
    for name in tuples:
        if out.get(name) is not None:
            out[name] = list(out[name])
    return out


def params_from_json(params: dict, tuples: tuple[str, ...] = ()) -> dict:
    """Inverse of :func:`json_params` (lists back to tuples)."""
    out = dict(params)
    for name in tuples:
        if out.get(name) is not None:
            out[name] = tuple(out[name])
    return out


def module_tensors(prefix: str, module: Any) -> dict:
    """``{prefix.name: tensor}`` of a torch module's state dict (on the CPU)."""
    return {f"{prefix}.{name}": t.detach().cpu() for name, t in module.state_dict().items()}


def prefixed(tensors: dict, prefix: str) -> dict:
    """The entries of ``tensors`` under ``prefix.``, with the prefix removed."""
    start = prefix + "."
    return {k[len(start) :]: t for k, t in tensors.items() if k.startswith(start)}


def _weights(tensors: dict) -> bytes:
    import torch

    state = {
        name: t if isinstance(t, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(t))
        for name, t in tensors.items()
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def write(path: str | os.PathLike, estimator: str, meta: dict, tensors: dict) -> None:
    """Write a model file atomically (temporary file, then rename).

    Parameters
    ----------
    path : str or path-like
    estimator : str
        The estimator's class name; :func:`read` checks it.
    meta : dict
        JSON-serialisable metadata (no NaN).
    tensors : dict
        ``{name: torch.Tensor or ndarray}``.
    """
    weights = _weights(tensors)
    envelope = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "estimator": estimator,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "state": meta,
    }
    with (
        atomic_path(path) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf,
    ):
        zf.writestr("meta.json", json.dumps(envelope, indent=1, allow_nan=False))
        zf.writestr("weights.pt", weights)


def read(path: str | os.PathLike, estimator: str) -> tuple[dict, dict]:
    """The ``(meta, tensors)`` an estimator of class ``estimator`` wrote to ``path``.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        Not a model file, a corrupt or altered one, one from another
        version of the library, or one that holds another estimator.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if not {"meta.json", "weights.pt"} <= names:
                raise ModelFileError(f"{path} is not an aeimpute model file (members missing)")
            envelope = json.loads(zf.read("meta.json").decode("utf-8"))
            weights = zf.read("weights.pt")
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as err:
        raise ModelFileError(
            f"{path} is not a readable aeimpute model file (truncated or corrupt: {err})"
        ) from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path}: metadata is corrupt ({err})") from err
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an aeimpute model file")
    saved = str(envelope.get("library_version", "0.0"))
    try:
        compatible = _major_minor(saved) == _major_minor(__version__)
    except (ValueError, IndexError):
        compatible = False
    if not compatible:
        raise ModelFileError(
            f"{path} was saved by aeimpute {saved}; this is aeimpute {__version__}. "
            f"Refit the model, or load it with aeimpute {saved}"
        )
    if envelope.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {envelope.get('format_version')}; this aeimpute "
            f"({__version__}) reads version {FORMAT_VERSION}"
        )
    held = envelope.get("estimator")
    if held != estimator:
        raise ModelFileError(
            f"{path} was saved by {held}.save, not {estimator}.save; use {held}.load"
        )
    if hashlib.sha256(weights).hexdigest() != envelope.get("weights_sha256"):
        raise ModelFileError(f"{path}: the weights do not match their checksum (file altered)")
    with restoring(path):
        import torch

        tensors = torch.load(io.BytesIO(weights), weights_only=True, map_location="cpu")
        if not isinstance(tensors, dict) or not isinstance(envelope.get("state"), dict):
            raise ValueError("the file holds no state")
    return envelope["state"], tensors


class ModelFileMixin:
    """``save`` / ``load`` for an estimator that gives and takes its own state.

    The estimator provides ``_get_state() -> (meta, tensors)`` with its
    constructor parameters as JSON under ``meta["params"]``
    (``_params_to_json``), ``_params_from_json`` (the inverse), and
    ``_set_state(meta, tensors, device)``. The file names the class that
    wrote it, and only that class loads it.
    """

    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted model to ``path`` (a zip of JSON metadata and tensors).

        No pickle is used: :meth:`load` reads the tensors with
        ``torch.load(..., weights_only=True)``.
        """
        self._check_fitted()
        write(path, type(self).__name__, *self._get_state())

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None) -> Any:
        """Load a model written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
        device : str, optional
            Where to put the model (``"cpu"``, ``"cuda"``, ``"auto"``); it
            becomes the loaded estimator's ``device`` parameter. By default
            the ``device`` it was saved with, so a model fitted with
            ``device="cuda"`` loads on a CPU-only machine with
            ``device="cpu"``.

        Raises
        ------
        ModelFileError
            The file is not a readable model file of this class and version.
        """
        from aeimpute.runtime import device_for_loading

        meta, tensors = read(path, cls.__name__)
        with restoring(path):
            params = cls._params_from_json(meta["params"])
        if device is not None:
            params["device"] = device
        est = cls(**params)
        resolved = device_for_loading(est.device, path)
        with restoring(path):
            est._set_state(meta, tensors, resolved)
        return est


@contextlib.contextmanager
def restoring(path: str | os.PathLike) -> Iterator[None]:
    """Turn what a malformed state raises while an estimator rebuilds itself into
    :class:`ModelFileError` naming ``path``."""
    try:
        yield
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, pickle.UnpicklingError) as err:
        raise ModelFileError(f"{path}: model file content is invalid ({err!r})") from err
