"""Save and load fitted models without pickle.

A model file is a zip archive with two members:

``meta.json``
    format version, library version, estimator parameters, column schema,
    scaler, network configuration, seeds and a SHA-256 of the weights.
``weights.pt``
    the networks' state dicts, written with ``torch.save`` and read back with
    ``torch.load(..., weights_only=True)``, which never executes code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import zipfile
from typing import Any

import numpy as np

from aeimpute._files import atomic_path
from aeimpute._version import __version__
from aeimpute.schema import ColumnSpec, Layout, decode_label, encode_label

FORMAT = "aeimpute-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file is unreadable, tampered with, or from an incompatible version."""


def _major_minor(version: str) -> tuple[int, int]:
    parts = version.split(".")
    return int(parts[0]), int(parts[1])


#: estimator parameters that are tuples (JSON stores them as lists)
_TUPLE_PARAMS = ("mask_rate", "gap_range")


def _encode_params(params: dict) -> dict:
    out = dict(params)
    rs = out.get("random_state")
    if isinstance(rs, np.random.RandomState):
        out["random_state"] = None  # the drawn seed is saved separately
    if out.get("column_kinds") is not None:
        out["column_kinds"] = [[encode_label(k), v] for k, v in out["column_kinds"].items()]
    if isinstance(out.get("channels"), dict):
        out["channels"] = {
            "groups": [
                [encode_label(k), [encode_label(c) for c in cols]]
                for k, cols in out["channels"].items()
            ]
        }
    for name in _TUPLE_PARAMS:
        if out.get(name) is not None:
            out[name] = list(out[name])
    return out


def _decode_params(params: dict) -> dict:
    out = dict(params)
    if out.get("column_kinds") is not None:
        out["column_kinds"] = {decode_label(k): v for k, v in out["column_kinds"]}
    if isinstance(out.get("channels"), dict):
        groups = out["channels"]["groups"]
        out["channels"] = {decode_label(k): [decode_label(c) for c in cols] for k, cols in groups}
    for name in _TUPLE_PARAMS:
        if out.get(name) is not None:
            out[name] = tuple(out[name])
    return out


def _weights(named_modules: dict, tensors: dict | None = None) -> bytes:
    import torch

    buf = io.BytesIO()
    state = {
        f"{prefix}.{name}": t.detach().cpu()
        for prefix, m in named_modules.items()
        for name, t in m.state_dict().items()
    }
    for name, array in (tensors or {}).items():
        state[name] = torch.from_numpy(np.ascontiguousarray(array))
    torch.save(state, buf)
    return buf.getvalue()


def _write(path: str | os.PathLike, meta: dict, weights: bytes) -> None:
    """Write a model file atomically (temporary file, then rename)."""
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        **meta,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    with (
        atomic_path(path) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf,
    ):
        zf.writestr("meta.json", json.dumps(meta, indent=1, allow_nan=False))
        zf.writestr("weights.pt", weights)


def save(est: Any, path: str | os.PathLike) -> None:
    """Write an :class:`aeimpute.Imputer` to ``path``."""
    extra = {}
    if est._reference is not None:
        extra = {"reference.values": est._reference[0], "reference.observed": est._reference[1]}
    if est._linear is not None:
        extra.update({"linear.coef": est._linear[0], "linear.intercept": est._linear[1]})
    if est._trees is not None:
        extra.update({f"trees.{k}": a for k, a in est._trees.arrays().items()})
    weights = _weights({f"model{k}": m for k, m in enumerate(est._models)}, extra)
    meta = {
        "estimator": "Imputer",
        "params": _encode_params(est.get_params(deep=False)),
        "schema": [s.to_json() for s in est.schema_],
        "columns": [encode_label(c) for c in est.columns_],
        "input_kind": est.input_kind_,
        "scaler": est._scaler.to_json(),
        "model_config": est.model_config_,
        "n_models": len(est._models),
        "seed": est.seed_,
        "max_steps": est.max_steps_,
        "min_steps": est.min_steps_,
        "precision": est.precision_,
        "residual_scale": est.residual_scale_.tolist(),
        "n_neighbors": est.n_neighbors_,
        "neighbor_weight": est.neighbor_weight_,
        "linear_weight": est.linear_weight_,
        "linear": est.linear_,
        "tree_weight": est.tree_weight_,
        "tree_class_weight": est.tree_class_weight_,
        "tree_class_temperature": est.tree_class_temperature_,
        "trees": est.trees_,
        "history": est.history_,
    }
    _write(path, meta, weights)


def _read(path: str | os.PathLike, estimator: str = "Imputer") -> tuple[dict, bytes]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if not {"meta.json", "weights.pt"} <= names:
                raise ModelFileError(f"{path} is not an aeimpute model file (members missing)")
            meta = json.loads(zf.read("meta.json").decode("utf-8"))
            weights = zf.read("weights.pt")
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as err:
        raise ModelFileError(
            f"{path} is not a readable aeimpute model file (truncated or corrupt: {err})"
        ) from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path}: metadata is corrupt ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an aeimpute model file")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {meta.get('format_version')}; this aeimpute "
            f"({__version__}) reads version {FORMAT_VERSION}"
        )
    saved = str(meta.get("library_version", "0.0"))
    try:
        compatible = _major_minor(saved) == _major_minor(__version__)
    except (ValueError, IndexError):
        compatible = False
    if not compatible:
        raise ModelFileError(
            f"{path} was saved by aeimpute {saved}; this is aeimpute {__version__}. "
            f"Refit the model, or load it with aeimpute {saved}"
        )
    held = meta.get("estimator", "Imputer")
    if held != estimator:
        raise ModelFileError(f"{path} holds a {held}, not a {estimator}; use {held}.load")
    if hashlib.sha256(weights).hexdigest() != meta.get("weights_sha256"):
        raise ModelFileError(f"{path}: the weights do not match their checksum (file altered)")
    return meta, weights


def load(cls: type, path: str | os.PathLike) -> Any:
    """Rebuild a fitted estimator of class ``cls`` from ``path``."""

    from aeimpute import _engine

    meta, weights = _read(path)
    try:
        est = cls(**_decode_params(meta["params"]))
        specs = [ColumnSpec.from_json(s) for s in meta["schema"]]
        from aeimpute.scaling import ObservedScaler

        state = _state_dict(weights)
        est.schema_ = specs
        est._layout = Layout(specs)
        est._scaler = ObservedScaler.from_json(meta["scaler"])
        est._remember_input([decode_label(c) for c in meta["columns"]], meta["input_kind"])
        est.model_config_ = dict(meta["model_config"])
        est._set_channels(est.columns_)
        est.seed_ = int(meta["seed"])
        # files written before max_steps="auto" hold an integer max_steps parameter
        est.max_steps_ = int(meta.get("max_steps", meta["params"].get("max_steps", 1000)))
        est.min_steps_ = int(meta.get("min_steps", 0))
        # files written before bfloat16 training were trained in float32
        est.precision_ = str(meta.get("precision", "float32"))
        est.residual_scale_ = np.asarray(meta["residual_scale"], dtype=np.float64)
        # files written before the neighbour blend have none
        est.n_neighbors_ = int(meta.get("n_neighbors", 0))
        est.neighbor_weight_ = float(meta.get("neighbor_weight", 0.0))
        est.linear_weight_ = float(meta.get("linear_weight", 0.0))
        est.linear_ = bool(meta.get("linear", False))
        est._linear = None
        if "linear.coef" in state:
            est._linear = (state["linear.coef"].numpy(), state["linear.intercept"].numpy())
        est.tree_weight_ = float(meta.get("tree_weight", 0.0))
        est.tree_class_weight_ = float(meta.get("tree_class_weight", 0.0))
        est.tree_class_temperature_ = float(meta.get("tree_class_temperature", 1.0))
        est.trees_ = bool(meta.get("trees", False))
        est._trees = None
        if "trees.roots" in state:
            from aeimpute.trees import FIELDS, Forest

            est._trees = Forest.from_arrays({k: state[f"trees.{k}"].numpy() for k in FIELDS})
        est._reference = None
        if "reference.values" in state:
            est._reference = (
                state["reference.values"].numpy(),
                state["reference.observed"].numpy(),
            )
        est.history_ = meta["history"]
        from aeimpute.imputer import _resolve_device

        device = _resolve_device(est.device)
        est.device_ = str(device)
        models = []
        for k in range(int(meta["n_models"])):
            m = _engine.build_model(est.model_config_)
            prefix = f"model{k}."
            own = {n[len(prefix) :]: t for n, t in state.items() if n.startswith(prefix)}
            m.load_state_dict(own)
            models.append(m.to(device).eval())
        est._models = models
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, pickle.UnpicklingError) as err:
        raise ModelFileError(f"{path}: model file content is invalid ({err})") from err
    return est


def _state_dict(weights: bytes) -> dict:
    import torch

    return torch.load(io.BytesIO(weights), weights_only=True, map_location="cpu")


def save_keypoint_imputer(est: Any, path: str | os.PathLike) -> None:
    """Write an :class:`aeimpute.KeypointImputer` to ``path``."""
    params = _encode_params(est.get_params(deep=False))
    geo = est._geometry
    meta = {
        "estimator": "KeypointImputer",
        "params": params,
        "model_config": est.model_config_,
        "n_keypoints": est.n_keypoints_,
        "keypoint_names": est.keypoint_names_,
        "scale": float(geo.scale),
        "template": geo.template.detach().cpu().tolist(),
        "rotate": bool(geo.rotate),
        "blend": None if geo.blend is None else geo.blend.detach().cpu().tolist(),
        "shape": None if geo.shape is None else geo.shape.to_json(),
        "placement": None if geo.placement is None else geo.placement.to_json(),
        "seed": est.seed_,
        "history": est.history_,
    }
    _write(path, meta, _weights({"net": est._net}))


def load_keypoint_imputer(cls: type, path: str | os.PathLike) -> Any:
    """Rebuild a fitted :class:`aeimpute.KeypointImputer` from ``path``."""
    import torch

    from aeimpute.imputer import _resolve_device
    from aeimpute.keypoints import _engine

    meta, weights = _read(path, "KeypointImputer")
    try:
        est = cls(**_decode_params(meta["params"]))
        state = _state_dict(weights)
        device = _resolve_device(est.device)
        est.device_ = str(device)
        est.model_config_ = dict(meta["model_config"])
        est.n_keypoints_ = int(meta["n_keypoints"])
        est.keypoint_names_ = meta["keypoint_names"]
        est.seed_ = int(meta["seed"])
        est.history_ = meta["history"]

        def tensor(key: str):
            value = meta[key]
            return None if value is None else torch.tensor(value, dtype=torch.float32)

        est._geometry = _engine.Geometry(
            float(meta["scale"]),
            tensor("template"),
            bool(meta["rotate"]),
            tensor("blend"),
            _engine.ShapeModel.from_json(meta["shape"]),
            _engine.ShapeModel.from_json(meta["placement"]),
        ).to(device)
        net = _engine.build_model(est.model_config_)
        net.load_state_dict({n[len("net.") :]: t for n, t in state.items() if n.startswith("net.")})
        est._net = net.to(device).eval()
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, pickle.UnpicklingError) as err:
        raise ModelFileError(f"{path}: model file content is invalid ({err})") from err
    return est
