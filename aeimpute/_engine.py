"""The torch side of :class:`aeimpute.Imputer`: fitting and running the networks.

Imported lazily by the estimator so that ``import aeimpute`` does not import torch.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aeimpute import neighbors, trees
from aeimpute.corruption import hide_cells
from aeimpute.nn import DenoisingAutoencoder, TemporalDenoiser
from aeimpute.training import (
    Heads,
    TrainConfig,
    expand_mask,
    native_bfloat16,
    split_validation,
    split_validation_runs,
    torch_threads,
    train,
    train_temporal,
)


@contextlib.contextmanager
def _session(est: Any, seed: int | None = None) -> Iterator[None]:
    """Thread count and (optionally) a private, seeded torch RNG for one call."""
    dev = torch.device(est.device_)
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch_threads(est.n_threads), torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        yield


def build_model(config: dict) -> DenoisingAutoencoder | TemporalDenoiser:
    """The network described by ``config`` (an estimator's ``model_config_``)."""
    config = dict(config)
    if config.pop("kind", "rows") == "temporal":
        return TemporalDenoiser(**config)
    return DenoisingAutoencoder(**config)


def _heads(est: Any, device: str | None = None) -> Heads:
    """Loss/activation heads on ``device`` (default: the model's device)."""
    layout = est._layout
    return Heads(layout.heads(), layout.feature_of_encoded(), torch.device(device or est.device_))


#: narrowest hidden width at which ``precision="auto"`` trains in bfloat16: below it the casts
#: cost more than the narrower products save (benchmarks/results/step_time.md: width 64 ran
#: 0.84x as fast in bfloat16, width 128 1.45-1.7x, width 256 2.1x)
BFLOAT16_MIN_WIDTH = 128


def training_dtype(precision: str, device: torch.device, width: int = 0) -> torch.dtype | None:
    """The autocast dtype of training steps for ``precision`` on ``device`` (None: float32).

    ``"auto"`` takes bfloat16 on a device that computes it natively, for a network at least
    ``BFLOAT16_MIN_WIDTH`` wide.
    """
    if precision == "bfloat16":
        return torch.bfloat16
    if precision == "auto" and width >= BFLOAT16_MIN_WIDTH and native_bfloat16(device):
        return torch.bfloat16
    return None


def fit_models(
    est: Any, z: np.ndarray, observed: np.ndarray, device: torch.device
) -> tuple[list, list, np.ndarray, np.ndarray]:
    """Train ``est.n_models`` networks.

    Returns the networks, their histories, the residual scale of each
    encoded column and the cells the first network held back for validation.
    """
    est.device_ = str(device)
    layout = est._layout
    foe = layout.feature_of_encoded()
    temporal = est.model_config_.get("kind") == "temporal"
    if temporal and est.precision == "bfloat16":
        warnings.warn(
            "precision='bfloat16' applies to the row-wise model; this table is modelled with "
            "temporal context, which trains in float32",
            UserWarning,
            stacklevel=3,
        )
    width = int(est.model_config_["width"])
    config = TrainConfig(
        max_steps=est.max_steps_,
        batch_size=est.batch_size,
        learning_rate=est.learning_rate,
        weight_decay=est.weight_decay,
        mask_rate=tuple(est.mask_rate),
        noise_std=est.noise_std,
        visible_weight=est.visible_weight,
        validation_fraction=est.validation_fraction,
        patience=est.patience,
        min_steps=est.min_steps_,
        verbose=est.verbose,
        channel_rate=est.channel_rate if est.channel_masking_ else 0.0,
        # the temporal model trains in float32 (bfloat16 measured on the row-wise model only)
        autocast=None if temporal else training_dtype(est.precision, device, width),
    )
    est.precision_ = "float32" if config.autocast is None else "bfloat16"
    channel_of_feature = est.channel_of_feature_
    models, histories, held = [], [], None
    sq_err = np.zeros(layout.n_encoded)
    count = np.zeros(layout.n_encoded)
    heads = _heads(est)
    for k in range(est.n_models):
        seed = est.seed_ + 7919 * k
        with _session(est, seed):
            model = build_model(est.model_config_).to(device)
            gen = torch.Generator(device=device).manual_seed(seed)
            rng = np.random.default_rng(seed)
            if temporal:
                window = est.window
                val = split_validation_runs(
                    observed, est.validation_fraction, rng, channel_of_feature, (1, window // 2)
                )
                hist = train_temporal(
                    model, z, observed, val, heads, foe, config, gen, device,
                    channel_of_feature, window,
                )  # fmt: skip
            else:
                val = split_validation(observed, est.validation_fraction, rng)
                hist = train(
                    model, z, observed, val, heads, foe, config, gen, device, channel_of_feature
                )
            if held is None:
                held = val  # before the stand-in below: these cells were never trained on
            if not val.any():  # estimate the error scale on a fresh hide pass instead
                val = observed & (np.random.default_rng(seed + 1).random(observed.shape) < 0.2)
            rows = slice(None) if temporal else val.any(axis=1)
            pred = _raw(model, z[rows], (observed & ~val)[rows], foe, device)
        cells = val[rows][:, foe]
        sq_err += np.where(cells, (pred - z[rows]) ** 2, 0.0).sum(axis=0)
        count += cells.sum(axis=0)
        models.append(model)
        histories.append(
            {
                "steps": hist["steps"],
                "best_step": hist["best_step"],
                "best_val_loss": hist["best_val_loss"],
                "final_train_loss": hist["train_loss"][-1],
            }
        )
    residual = np.sqrt(sq_err / np.maximum(count, 1))
    residual[count == 0] = 1.0
    return models, histories, residual, held


def _numeric_encoded(layout: Any) -> np.ndarray:
    """Which encoded columns are numeric (the others are binary/categorical probabilities)."""
    numeric = np.zeros(layout.n_encoded, dtype=bool)
    numeric[layout.heads()["numeric"]] = True
    return numeric


def fit_blend(est: Any, z: np.ndarray, observed: np.ndarray, held: np.ndarray) -> None:
    """Fit the neighbour, linear and tree blend of ``est`` (see :mod:`aeimpute.neighbors`).

    The weights are fitted on the cells the first network held back
    (``held``): that network fills the table without them, the neighbour,
    ridge and tree estimates are taken from rows where they count as
    missing too, and the weights minimise the error on them. The reference
    table (every training row, at most ``NEIGHBOR_ROWS``) completed by the
    full model then serves the neighbour search and the final ridge fit;
    the trees fitted for the weights are kept as they are (fitting them
    again would double the blend's main cost). Binary and categorical cells
    are blended with tree classifiers only, under a weight of their own
    (measured: mixing in the neighbours' or the ridge's probabilities
    lowered the accuracy on hidden categories). Sets ``neighbor_weight_``,
    ``linear_weight_``, ``tree_weight_``, ``tree_class_weight_``,
    ``tree_class_temperature_``, ``_reference``, ``_linear`` and ``_trees``.
    """
    est.neighbor_weight_ = est.linear_weight_ = est.tree_weight_ = est.tree_class_weight_ = 0.0
    est.tree_class_temperature_ = 1.0
    est._reference = est._linear = est._trees = None
    numeric = _numeric_encoded(est._layout)
    blend_numbers = numeric.any() and (est.n_neighbors_ or est.linear_ or est.trees_)
    blend_classes = est.trees_ and not numeric.all()
    if not held.any() or not (blend_numbers or blend_classes):
        return
    foe = est._layout.feature_of_encoded()
    rows = np.arange(len(z))
    if len(rows) > neighbors.NEIGHBOR_ROWS:
        rng = np.random.default_rng(est.seed_ + 5)
        rows = np.sort(rng.choice(len(z), size=neighbors.NEIGHBOR_ROWS, replace=False))
    train_obs = observed & ~held
    with _session(est):
        net = _raw(est._models[0], z, train_obs, foe, torch.device(est.device_))
    net = _heads(est, "cpu").activate(torch.as_tensor(net), inplace=True).numpy()
    filled = neighbors.complete(z, net, train_obs[:, foe])
    held_out = _HeldOut(z, held, train_obs, net, filled, rows, foe)
    kept = []
    if blend_classes:
        forest = _fit_class_trees(est, held_out)
        if forest is not None:
            kept.append(forest)
    if blend_numbers:
        forest = _fit_number_blend(est, held_out, observed)
        if forest is not None:
            kept.append(forest)
    est._trees = trees.join(kept) if kept else None


@dataclass
class _HeldOut:
    """The table as the first network completes it without the held-back cells.

    The blend's candidates are fitted on it and its weights on the ``held``
    cells: ``z`` (scaled values), ``held`` and ``train_obs`` (per feature),
    ``net`` (the network's activated output), ``filled`` (``z`` where
    ``train_obs``, ``net`` elsewhere), ``rows`` (the rows candidates learn
    from) and ``foe`` (feature of each encoded column).
    """

    z: np.ndarray
    held: np.ndarray
    train_obs: np.ndarray
    net: np.ndarray
    filled: np.ndarray
    rows: np.ndarray
    foe: np.ndarray

    def at_held(self, targets: np.ndarray) -> list[np.ndarray]:
        """Rows to estimate each of ``targets`` in: those holding back its column."""
        return [np.flatnonzero(self.held[:, self.foe[j]]) for j in targets]

    def weights(self, candidates: list[np.ndarray], cells: np.ndarray) -> list[float]:
        """Blend weights of ``candidates`` against the network on ``cells``."""
        return neighbors.fit_weights(self.net, candidates, self.z, cells)

    def tree_estimate(self, est: Any, forest: Any) -> np.ndarray:
        """``forest``'s estimate (see :func:`_tree_estimate`) in the held-back cells of its
        targets, the network's everywhere else."""
        values = _tree_estimate(est, forest, self.filled, self.at_held(forest.targets))
        return np.where(np.isnan(values), self.net, values)


def _fit_number_blend(est: Any, h: _HeldOut, observed: np.ndarray) -> Any:
    """The numeric part of :func:`fit_blend`; returns the trees to keep (or None)."""
    k = est.n_neighbors_
    numeric = _numeric_encoded(est._layout)
    foe, rows, threads = h.foe, h.rows, est.n_threads
    candidates = []
    if k:
        local, found = neighbors.estimate(
            h.filled, h.filled[rows], h.train_obs[rows], foe, k,
            need=h.held.any(axis=1), n_threads=threads,
        )  # fmt: skip
        candidates.append(np.where(found[:, foe], local, h.net))
    if est.linear_:
        coef, intercept = neighbors.fit_linear(
            h.filled[rows], h.train_obs[rows], foe, numeric, n_threads=threads
        )
        candidates.append(np.where(numeric, h.filled @ coef + intercept, h.net))
    cells = h.held[:, foe] & numeric
    forest = None
    if est.trees_:
        forest, boosted = _screen_trees(est, h, candidates)
        if forest is not None:
            candidates.append(boosted)
    weights = h.weights(candidates, cells)
    if k and weights[0] < neighbors.NEIGHBOR_MIN_WEIGHT:  # not worth the search: drop it
        k = est.n_neighbors_ = 0
        candidates.pop(0)
        weights = h.weights(candidates, cells)
    if k:
        est.neighbor_weight_ = weights.pop(0)
    if est.linear_:
        est.linear_weight_ = weights.pop(0)
    if forest is not None:
        est.tree_weight_ = weights.pop(0)
        if est.tree_weight_ == 0:
            forest = None
    if est.neighbor_weight_ > 0 or est.linear_weight_ > 0:
        full = predict_raw(est, h.z[rows], observed[rows])
        reference = neighbors.complete(h.z[rows], full, observed[rows][:, foe])
        if est.neighbor_weight_ > 0:
            est._reference = (reference, observed[rows])
        if est.linear_weight_ > 0:
            est._linear = neighbors.fit_linear(reference, observed[rows], foe, numeric, threads)
    return forest


def _fit_class_trees(est: Any, h: _HeldOut) -> Any:
    """Tree classifiers of the binary and categorical columns, if they earn a weight.

    Their probabilities are blended with the network's under
    ``tree_class_weight_``, fitted on the held-back cells of those columns
    (squared error of the probabilities against the observed 0/1 values,
    the Brier score) together with ``tree_class_temperature_`` (the divisor
    of their raw scores among ``trees.TEMPERATURES``: boosted probabilities
    are overconfident on small tables); under ``trees.MIN_WEIGHT`` they are
    dropped (None).
    With more than ``trees.CLASS_SCREEN_COLUMNS`` such columns, the
    classifiers are first fitted on that many of them (drawn with the seed)
    and fitted on the others only if they earn the weight there.
    """
    heads = est._layout.heads()
    columns = [("binary", e) for e in heads["binary"]] + [
        ("categorical", g) for g in heads["categorical"] if 2 <= len(g) <= trees.MAX_CLASSES
    ]
    order = np.arange(len(columns))
    if len(columns) > trees.CLASS_SCREEN_COLUMNS:
        order = np.random.default_rng(est.seed_ + 19).permutation(len(columns))
    parts = [order[: trees.CLASS_SCREEN_COLUMNS], order[trees.CLASS_SCREEN_COLUMNS :]]

    def fit(picked: np.ndarray) -> Any:
        chosen = [columns[i] for i in sorted(picked)]
        kinds = {kind: [c for k, c in chosen if k == kind] for kind in ("binary", "categorical")}
        return trees.fit_classes(
            h.filled[h.rows], h.train_obs[h.rows], h.foe, kinds, est.seed_ + 17, est.n_threads
        )

    def weight(forest: Any) -> float:
        """Fit ``tree_class_weight_`` and ``tree_class_temperature_`` on the held-back cells."""
        est.tree_class_weight_, est.tree_class_temperature_ = 0.0, 1.0
        if len(forest.targets) == 0:
            return 0.0
        targets = np.zeros(len(h.foe), dtype=bool)
        targets[forest.targets] = True
        cells = h.held[:, h.foe] & targets
        best, fitted_pair = np.inf, (0.0, 1.0)
        for temperature in trees.TEMPERATURES:
            est.tree_class_temperature_ = temperature
            probs = h.tree_estimate(est, forest)
            w = h.weights([probs], cells)[0]
            brier = float(np.sum((h.net + w * (probs - h.net) - h.z)[cells] ** 2))
            if brier < best - 1e-12:
                best, fitted_pair = brier, (w, temperature)
        est.tree_class_weight_, est.tree_class_temperature_ = fitted_pair
        return est.tree_class_weight_

    forest = fit(parts[0])
    if weight(forest) < trees.MIN_WEIGHT:
        est.tree_class_weight_, est.tree_class_temperature_ = 0.0, 1.0
        return None
    if len(parts[1]):
        forest = trees.join([forest, fit(parts[1])])
        weight(forest)
    if est.tree_class_weight_ == 0:
        est.tree_class_temperature_ = 1.0
        return None
    return forest


def _tree_estimate(est: Any, forest: Any, filled: np.ndarray, rows: list[np.ndarray]) -> np.ndarray:
    """The forest's values at ``rows``; binary and categorical scores made probabilities
    after division by ``tree_class_temperature_``."""
    raw = trees.predict(forest, filled, rows)
    raw[:, ~_numeric_encoded(est._layout)] /= est.tree_class_temperature_
    return _heads(est, "cpu").activate(torch.as_tensor(raw), inplace=True).numpy()


def _screen_trees(est: Any, h: _HeldOut, others: list[np.ndarray]) -> tuple[Any, np.ndarray | None]:
    """Fit the tree candidate if it earns its cost: the forest and its estimate, or (None, None).

    Trees are fitted on at most ``trees.SCREEN_COLUMNS`` numeric columns first; the weights
    fitted on those columns' held-back cells (beside the ``others`` candidates) decide: under
    ``trees.MIN_WEIGHT`` the trees are dropped, else they are fitted on the other columns too.
    """
    numeric = _numeric_encoded(est._layout)
    enc = np.flatnonzero(numeric)
    screen = enc
    if len(enc) > trees.SCREEN_COLUMNS:
        rng = np.random.default_rng(est.seed_ + 13)
        screen = np.sort(rng.choice(enc, size=trees.SCREEN_COLUMNS, replace=False))
    first = np.zeros_like(numeric)
    first[screen] = True
    seed, threads = est.seed_ + 11, est.n_threads
    fit_rows, fit_obs = h.filled[h.rows], h.train_obs[h.rows]
    forest = trees.fit(fit_rows, fit_obs, h.foe, first, seed, threads)
    boosted = h.tree_estimate(est, forest)
    if h.weights([*others, boosted], h.held[:, h.foe] & first)[-1] < trees.MIN_WEIGHT:
        return None, None
    if len(screen) < len(enc):
        rest = trees.fit(fit_rows, fit_obs, h.foe, numeric & ~first, seed, threads)
        forest = trees.join([forest, rest])
        boosted = h.tree_estimate(est, forest)
    return forest, boosted


def predict(est: Any, z: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Filled values in scaled units: the network's, blended with the neighbour, linear and
    tree ones."""
    pred = predict_raw(est, z, observed)
    ref, linear = getattr(est, "_reference", None), getattr(est, "_linear", None)
    forest = getattr(est, "_trees", None)
    if ref is None and linear is None and forest is None:
        return pred
    foe = est._layout.feature_of_encoded()
    obs_enc = observed[:, foe]
    filled = neighbors.complete(z, pred, obs_enc)
    out = pred.copy()
    numeric = _numeric_encoded(est._layout)
    mix = ~obs_enc & numeric
    if ref is not None:
        local, found = neighbors.estimate(
            filled, ref[0], ref[1], foe, est.n_neighbors_,
            need=~observed.all(axis=1), n_threads=est.n_threads,
        )  # fmt: skip
        out += np.where(mix & found[:, foe], est.neighbor_weight_ * (local - pred), 0.0)
    if linear is not None:
        lin = filled @ linear[0] + linear[1]
        out += np.where(mix, est.linear_weight_ * (lin - pred), 0.0)
    if forest is not None:
        missing = [np.flatnonzero(~obs_enc[:, j]) for j in forest.targets]
        boosted = _tree_estimate(est, forest, filled, missing)
        weight = np.where(numeric, est.tree_weight_, est.tree_class_weight_)
        out += np.where(~obs_enc & ~np.isnan(boosted), weight * (boosted - pred), 0.0)
    return out


@torch.no_grad()
def _raw(model, z, observed, foe, device, latent=False, batch_size=8192) -> np.ndarray:
    model.eval()
    foe_t = torch.as_tensor(foe, dtype=torch.long, device=device)
    if isinstance(model, TemporalDenoiser):  # one series: the rows are not independent
        batch_size = max(1, z.shape[0])
    result = None
    for start in range(0, max(1, z.shape[0]), batch_size):  # one (empty) batch for no rows
        x = torch.as_tensor(z[start : start + batch_size], dtype=torch.float32, device=device)
        m = torch.as_tensor(observed[start : start + batch_size], device=device)
        x_in = torch.where(expand_mask(m, foe_t), x, torch.zeros_like(x))
        out = model.encode(x_in, m) if latent else model(x_in, m)
        if result is None:
            result = np.empty((z.shape[0], out.shape[1]))
        result[start : start + batch_size] = out.cpu().numpy()  # float32 -> float64 in the copy
    return result


def _ensemble_raw(est: Any, z: np.ndarray, observed: np.ndarray) -> np.ndarray:
    foe = est._layout.feature_of_encoded()
    device = torch.device(est.device_)
    total = _raw(est._models[0], z, observed, foe, device)
    for model in est._models[1:]:
        total += _raw(model, z, observed, foe, device)
    return total / len(est._models) if len(est._models) > 1 else total


def predict_raw(est: Any, z: np.ndarray, observed: np.ndarray, latent: bool = False) -> np.ndarray:
    """Ensemble prediction in scaled units (probabilities for binary/categorical).

    With ``latent=True``, the concatenated latent codes instead.
    """
    with _session(est):
        if latent:
            foe = est._layout.feature_of_encoded()
            device = torch.device(est.device_)
            return np.concatenate(
                [_raw(m, z, observed, foe, device, latent=True) for m in est._models], axis=1
            )
        heads = _heads(est, "cpu")
        passes = est.inference_passes
        pred = heads.activate(torch.as_tensor(_ensemble_raw(est, z, observed)), inplace=True)
        pred = pred.numpy()
        if passes > 1:
            # average over extra passes that hide a further share of the observed cells,
            # as in training; the plain pass is one of them
            gen = torch.Generator().manual_seed(est.seed_ + 3)
            obs_t = torch.as_tensor(observed)
            low, high = est.mask_rate
            total = pred.copy()
            for _ in range(passes - 1):
                hidden = hide_cells(obs_t, low, high, gen).numpy()
                out = _ensemble_raw(est, z, observed & ~hidden)
                total += heads.activate(torch.as_tensor(out), inplace=True).numpy()
            pred = total / passes
        return pred.astype(np.float64, copy=False)


def reconstruction_error(
    est: Any, z: np.ndarray, observed: np.ndarray, n_passes: int
) -> np.ndarray:
    """Mean loss on randomly hidden observed cells, per row (NaN with no observed cell)."""
    heads = _heads(est, "cpu")
    total = np.zeros(z.shape[0])
    count = np.zeros(z.shape[0])
    gen = torch.Generator().manual_seed(est.seed_ + 1)
    obs_t = torch.as_tensor(observed)
    with _session(est):
        for _ in range(n_passes):
            hidden = hide_cells(obs_t, 0.3, 0.3, gen).numpy()
            out = _ensemble_raw(est, z, observed & ~hidden)
            losses = heads.cell_losses(torch.as_tensor(out), torch.as_tensor(z)).numpy()
            total += np.where(hidden, losses, 0.0).sum(axis=1)
            count += hidden.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = total / count
    score[~observed.any(axis=1)] = np.nan
    # rows whose draws never hid a cell (one observed cell, unlucky draws): hide it alone
    todo = np.flatnonzero(observed.any(axis=1) & (count == 0))
    if len(todo):
        with _session(est):
            out = _ensemble_raw(est, z[todo], np.zeros_like(observed[todo]))
        losses = heads.cell_losses(torch.as_tensor(out), torch.as_tensor(z[todo])).numpy()
        score[todo] = np.where(observed[todo], losses, 0.0).sum(1) / observed[todo].sum(1)
    return score


def sample(est: Any, z: np.ndarray, observed: np.ndarray, n: int) -> list[np.ndarray]:
    """``n`` random completions in scaled units (one-hot draws for categories)."""
    mean = predict(est, z, observed)
    heads = est._layout.heads()
    rng = np.random.default_rng(est.seed_ + 2)
    draws = []
    for _ in range(n):
        d = mean.copy()
        num = heads["numeric"]
        if num:
            d[:, num] += rng.standard_normal((len(d), len(num))) * est.residual_scale_[num]
        b = heads["binary"]
        if b:
            d[:, b] = (rng.random((len(d), len(b))) < mean[:, b]).astype(float)
        for group in heads["categorical"]:
            p = mean[:, group]
            p = p / p.sum(axis=1, keepdims=True)
            u = rng.random((len(d), 1))
            choice = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), len(group) - 1)
            onehot = np.zeros_like(p)
            onehot[np.arange(len(d)), choice] = 1.0
            d[:, group] = onehot
        draws.append(d)
    return draws
