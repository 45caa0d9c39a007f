"""Training loop: loss on observed cells, validation on held-back cells, early stopping."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from aeimpute.corruption import gaussian_noise, hide_cells, hide_channel_runs, hide_channels
from aeimpute.nn import DenoisingAutoencoder


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""


#: the constructor parameters of both estimators that set how a network is optimised, and the
#: :class:`OptimConfig` field each one sets
OPTIM_PARAMS = {
    "max_iter": "max_steps",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "weight_decay": "weight_decay",
    "n_iter_no_change": "patience",
    "verbose": "verbose",
}


@dataclass
class OptimConfig:
    """How a network is optimised: the settings every model shares (see :func:`optimise`).

    ``batch_size`` counts rows for the row-wise model and windows for the
    temporal ones; ``min_steps`` is the first step at which training may stop
    early; ``autocast`` the dtype of the forward pass of a training step
    (None: float32).
    """

    max_steps: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    patience: int
    eval_every: int = 25
    verbose: bool = False
    min_steps: int = 0
    autocast: torch.dtype | None = None

    @classmethod
    def from_params(cls, params: dict, **settings: Any) -> OptimConfig:
        """From an estimator's ``get_params()`` (the names in ``OPTIM_PARAMS``); ``settings``
        add to them or replace them (a resolved ``max_steps``, say).

        Examples
        --------
        >>> params = {"max_iter": "auto", "batch_size": 64, "learning_rate": 1e-3,
        ...           "weight_decay": 0.0, "n_iter_no_change": 10, "verbose": False, "other": 1}
        >>> config = OptimConfig.from_params(params, max_steps=500)
        >>> config.max_steps, config.patience
        (500, 10)
        """
        shared = {field: params[name] for name, field in OPTIM_PARAMS.items()}
        return cls(**{**shared, **settings})


@dataclass
class CellCorruption:
    """How the table models hide and perturb cells in training (see :class:`aeimpute.Imputer`).

    ``channel_rate`` is 0 unless some channel groups several columns.
    """

    mask_rate: tuple[float, float]
    noise_std: float
    visible_weight: float
    channel_rate: float = 0.0


@dataclass
class TrainingTable:
    """A scaled, encoded table to train on, and what training needs to read it.

    ``values`` (rows x encoded columns, 0 where missing), ``observed`` and
    ``validation`` (rows x features: observed cells, and those held back
    from training whose error drives early stopping), ``heads`` (losses per
    column kind), ``feature_of_encoded``, ``channel_of_feature`` (or None)
    and the ``device`` to train on.
    """

    values: np.ndarray
    observed: np.ndarray
    validation: np.ndarray
    heads: Heads
    feature_of_encoded: np.ndarray
    channel_of_feature: np.ndarray | None
    device: torch.device


class Heads:
    """Index tensors that map encoded outputs to per-feature losses.

    Parameters
    ----------
    heads : dict
        ``{"numeric": [enc], "binary": [enc], "categorical": [[enc, ...], ...]}``
        as returned by :meth:`aeimpute.schema.Layout.heads`.
    feature_of_encoded : ndarray of int
        Modelled feature index of each encoded column.
    device : torch.device
    """

    def __init__(self, heads: dict, feature_of_encoded: np.ndarray, device) -> None:
        foe = np.asarray(feature_of_encoded)
        self.num_enc = torch.as_tensor(heads["numeric"], dtype=torch.long, device=device)
        self.bin_enc = torch.as_tensor(heads["binary"], dtype=torch.long, device=device)
        groups = heads["categorical"]
        width = max((len(g) for g in groups), default=0)
        idx = np.zeros((len(groups), width), dtype=np.int64)
        valid = np.zeros((len(groups), width), dtype=bool)
        for g, cols in enumerate(groups):
            idx[g, : len(cols)] = cols
            valid[g, : len(cols)] = True
        self.cat_index = torch.as_tensor(idx, device=device)
        self.cat_valid = torch.as_tensor(valid, device=device)
        feats = (
            [int(foe[e]) for e in heads["numeric"]]
            + [int(foe[e]) for e in heads["binary"]]
            + [int(foe[g[0]]) for g in groups]
        )
        # columns of the concatenated [numeric | binary | categorical] losses -> feature order
        self.order = torch.as_tensor(np.argsort(feats), dtype=torch.long, device=device)
        self.n_features = len(feats)

    def cell_losses(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-row, per-feature loss, shape (n_rows, n_features)."""
        parts = []
        if len(self.num_enc):
            parts.append((out[:, self.num_enc] - target[:, self.num_enc]) ** 2)
        if len(self.bin_enc):
            parts.append(
                F.binary_cross_entropy_with_logits(
                    out[:, self.bin_enc], target[:, self.bin_enc], reduction="none"
                )
            )
        if self.cat_index.shape[0]:
            logits = out[:, self.cat_index].masked_fill(~self.cat_valid, float("-inf"))
            logp = torch.log_softmax(logits, dim=-1).masked_fill(~self.cat_valid, 0.0)
            tgt = target[:, self.cat_index] * self.cat_valid
            parts.append(-(tgt * logp).sum(-1))
        return torch.cat(parts, dim=1)[:, self.order]

    def activate(self, out: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """Raw outputs -> predictions: numbers, probabilities, category probabilities."""
        pred = out if inplace else out.clone()
        if len(self.bin_enc):
            pred[:, self.bin_enc] = torch.sigmoid(out[:, self.bin_enc])
        if self.cat_index.shape[0]:
            logits = out[:, self.cat_index].masked_fill(~self.cat_valid, float("-inf"))
            probs = torch.softmax(logits, dim=-1)
            rows = torch.arange(out.shape[0], device=out.device)[:, None, None]
            flat_idx = self.cat_index.expand(out.shape[0], -1, -1)
            keep = self.cat_valid.expand(out.shape[0], -1, -1)
            pred[rows.expand_as(flat_idx)[keep], flat_idx[keep]] = probs[keep]
        return pred


def expand_mask(mask: torch.Tensor, feature_of_encoded: torch.Tensor) -> torch.Tensor:
    """Per-feature mask -> per-encoded-column mask."""
    return mask[:, feature_of_encoded]


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    while True:
        perm = torch.randperm(n, generator=generator, device=generator.device)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start : start + batch_size]


def _lr_factor(step: int, total: int) -> float:
    warm = max(1, total // 20)
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _autocast(device: torch.device, dtype: torch.dtype | None):
    """Autocast to ``dtype`` on ``device``'s kind, or nothing when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _adamw(params: list[torch.nn.Parameter], lr: float, weight_decay: float):
    """AdamW with its fused kernel (one kernel a step instead of a loop over the parameters)
    where this torch has one for the parameters' device (CPU from torch 2.4, CUDA); the same
    update computed the usual way otherwise."""
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except RuntimeError:  # no fused kernel for this device in this torch
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def optimise(
    model: torch.nn.Module,
    step_loss: Callable[[int], torch.Tensor],
    validate: Callable[[], float] | None,
    config: OptimConfig,
    *,
    desc: str,
    diverged_hint: str,
) -> dict:
    """The training loop every model shares.

    AdamW with warm-up and cosine decay, gradient clipping, a progress bar,
    validation every ``eval_every`` steps with best-weights restore and early
    stopping after ``patience`` steps without improvement.

    Parameters
    ----------
    step_loss : callable
        ``step_loss(step)`` draws a batch and returns its loss (model in train mode).
    validate : callable or None
        Returns the validation loss (called under ``no_grad`` with the model
        in eval mode); None trains for ``max_steps``.
    config : OptimConfig
    diverged_hint : str
        What to try, appended to the error when the loss stops being finite.

    Returns
    -------
    dict
        ``train_loss``, ``val_loss`` ((step, loss) pairs), ``steps``,
        ``best_step``, ``best_val_loss``.
    """
    max_steps, patience, eval_every = config.max_steps, config.patience, config.eval_every
    min_steps = config.min_steps  # no early stop before this step
    params = list(model.parameters())
    opt = _adamw(params, config.learning_rate, config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, max_steps))
    best = {"loss": math.inf, "step": 0, "state": None}
    history: dict = {"train_loss": [], "val_loss": [], "steps": 0}
    progress = None
    if config.verbose:
        from tqdm.auto import tqdm

        progress = tqdm(total=max_steps, desc=desc, leave=False)
    try:
        for step in range(max_steps):
            model.train()
            loss = step_loss(step)
            if not torch.isfinite(loss.detach()):
                raise TrainingDivergedError(
                    f"the training loss became {loss.item()} at step {step}; {diverged_hint}"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0, foreach=True)
            opt.step()
            sched.step()
            history["train_loss"].append(loss.item())
            history["steps"] = step + 1
            if progress is not None:
                progress.update(1)
            last = step == max_steps - 1
            if validate is not None and ((step + 1) % eval_every == 0 or last):
                model.eval()
                with torch.no_grad():
                    v = validate()
                if not math.isfinite(v):  # never "not better": a NaN would stop nothing
                    raise TrainingDivergedError(
                        f"the validation loss became {v} at step {step + 1} (the training loss "
                        f"was {loss.item()}); {diverged_hint}"
                    )
                history["val_loss"].append((step + 1, v))
                if progress is not None:
                    progress.set_postfix(val=f"{v:.4f}")
                if v < best["loss"]:
                    best = {"loss": v, "step": step + 1, "state": copy.deepcopy(model.state_dict())}
                elif step + 1 - best["step"] >= patience and step + 1 >= min_steps:
                    break
    finally:
        if progress is not None:
            progress.close()
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    history["best_step"] = best["step"] if validate is not None else history["steps"]
    history["best_val_loss"] = best["loss"] if validate is not None else None
    model.eval()
    return history


#: fewest held-back cells for their error to drive early stopping (fewer: too noisy, the
#: row-wise network then trains its whole schedule)
EARLY_STOP_MIN_CELLS = 100


_DIVERGED_HINT = (
    "try a smaller learning_rate, check the data for extreme values or outliers, "
    "or rescale the columns"
)


def _tensors(table: TrainingTable) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Values, training mask (held-back cells removed), held-back cells, encoded->feature index."""
    device = table.device
    return (
        torch.as_tensor(table.values, dtype=torch.float32, device=device),
        torch.as_tensor(table.observed & ~table.validation, device=device),
        torch.as_tensor(table.validation, device=device),
        torch.as_tensor(table.feature_of_encoded, dtype=torch.long, device=device),
    )


def train(
    model: DenoisingAutoencoder,
    table: TrainingTable,
    corruption: CellCorruption,
    optim: OptimConfig,
    generator: torch.Generator,
) -> dict:
    """Train ``model`` in place on the rows of ``table``; return a history dict.

    Every step draws ``optim.batch_size`` rows; each hides a share of its
    observed cells drawn from ``corruption.mask_rate`` and, with
    ``corruption.channel_rate > 0``, whole channels in some rows; visible
    inputs get Gaussian noise. The held-back cells (``table.validation``) are
    hidden from the input and left out of the loss; their error drives early
    stopping.
    """
    heads, device = table.heads, table.device
    x_all, train_obs, val_cells, foe = _tensors(table)
    n = x_all.shape[0]
    batch = min(optim.batch_size, n)
    has_val = int(val_cells.sum()) >= EARLY_STOP_MIN_CELLS
    val_rows = torch.nonzero(val_cells.any(dim=1)).flatten()
    low, high = corruption.mask_rate
    batches = _batches(n, batch, generator)
    by_channel, n_channels = _channel_index(table.channel_of_feature, corruption, device)

    def step_loss(step: int) -> torch.Tensor:
        idx = next(batches).to(device)
        x, obs = x_all[idx], train_obs[idx]
        hidden = hide_cells(obs, low, high, generator)
        outage = torch.zeros_like(hidden)
        if by_channel is not None:
            outage = hide_channels(obs, by_channel, n_channels, corruption.channel_rate, generator)
        visible = obs & ~(hidden | outage)
        vis_enc = expand_mask(visible, foe)
        noise = gaussian_noise(tuple(x.shape), corruption.noise_std, generator, device)
        x_in = torch.where(vis_enc, x + noise, torch.zeros_like(x))
        with _autocast(device, optim.autocast):
            out = model(x_in, visible).float()
        weight = _loss_weight(hidden, outage, visible, corruption.visible_weight)
        return (heads.cell_losses(out, x) * weight).sum() / weight.sum().clamp_min(1.0)

    def validate() -> float:
        return _validation_loss(model, x_all, train_obs, val_cells, val_rows, heads, foe)

    return optimise(
        model,
        step_loss,
        validate if has_val else None,
        optim,
        desc="aeimpute fit",
        diverged_hint=_DIVERGED_HINT,
    )


#: probability that a column of a training window goes out for one run of rows (temporal model)
COLUMN_RUN_RATE = 0.3

#: loss weight of a cell hidden only by a whole-channel outage (other hidden cells weigh 1):
#: outages still teach the model to rebuild a channel from the others, without their large
#: errors crowding out what it learns from the channel's own columns (measured on air
#: quality: MCAR and outage errors both lower than with weight 1)
OUTAGE_WEIGHT = 0.1


def _loss_weight(
    hidden: torch.Tensor, outage: torch.Tensor, visible: torch.Tensor, visible_weight: float
) -> torch.Tensor:
    """Per-cell loss weight: hidden 1, hidden only by an outage ``OUTAGE_WEIGHT``, visible less."""
    only_outage = outage & ~hidden
    return hidden.float() + OUTAGE_WEIGHT * only_outage.float() + visible_weight * visible.float()


def _channel_index(
    channel_of_feature: np.ndarray | None, corruption: CellCorruption, device: torch.device
) -> tuple[torch.Tensor | None, int]:
    if channel_of_feature is None or corruption.channel_rate <= 0:
        return None, 0
    codes = torch.as_tensor(channel_of_feature, dtype=torch.long, device=device)
    return codes, int(codes.max()) + 1


def train_temporal(
    model: torch.nn.Module,
    table: TrainingTable,
    corruption: CellCorruption,
    optim: OptimConfig,
    generator: torch.Generator,
    window: int,
) -> dict:
    """Train a :class:`~aeimpute.nn.TemporalDenoiser` on windows of a time-ordered table.

    Every step draws ``max(1, batch_size // 32)`` windows of ``window``
    consecutive rows. Corruption: random cells as in :func:`train`
    (``mask_rate``), plus, per window, each column switched off with
    probability ``COLUMN_RUN_RATE`` for one run of rows (log-uniform length
    up to the window) and, with ``channel_rate > 0`` (the estimator sets it
    to 0 unless some channel groups several columns), each channel switched
    off with that probability for one run (an outage). Validation runs the
    model over the whole table.
    """
    heads, device = table.heads, table.device
    x_all, train_obs, val_cells, foe = _tensors(table)
    by_channel, n_channels = _channel_index(table.channel_of_feature, corruption, device)
    n, n_feat = train_obs.shape
    columns = torch.arange(n_feat, device=device)
    length = min(window, n)
    n_windows = max(1, optim.batch_size // 32)
    offsets = torch.arange(length, device=device)
    low, high = corruption.mask_rate
    has_val = bool(val_cells.any())
    x_val_in = torch.where(expand_mask(train_obs, foe), x_all, torch.zeros_like(x_all))

    def step_loss(step: int) -> torch.Tensor:
        starts = torch.randint(
            0, n - length + 1, (n_windows, 1), generator=generator, device=device
        )
        idx = starts + offsets
        x, obs = x_all[idx], train_obs[idx]
        hidden = hide_cells(obs.reshape(-1, n_feat), low, high, generator).view(obs.shape)
        outage = torch.zeros_like(hidden)
        if by_channel is not None:  # whole-channel outages
            outage = hide_channel_runs(
                obs, by_channel, n_channels, corruption.channel_rate, (1, length), generator
            )
        hidden |= hide_channel_runs(  # single columns going out for runs
            obs, columns, n_feat, COLUMN_RUN_RATE, (1, length), generator
        )
        visible = obs & ~(hidden | outage)
        noise = gaussian_noise(tuple(x.shape), corruption.noise_std, generator, device)
        x_in = torch.where(visible[..., foe], x + noise, torch.zeros_like(x))
        out = model(x_in, visible)
        losses = heads.cell_losses(out.reshape(-1, x.shape[-1]), x.reshape(-1, x.shape[-1]))
        weight = _loss_weight(hidden, outage, visible, corruption.visible_weight)
        weight = weight.reshape(-1, n_feat)
        return (losses * weight).sum() / weight.sum().clamp_min(1.0)

    def validate() -> float:
        losses = heads.cell_losses(model(x_val_in, train_obs), x_all)
        return float((losses * val_cells).sum() / val_cells.sum().clamp_min(1))

    return optimise(
        model,
        step_loss,
        validate if has_val else None,
        optim,
        desc="aeimpute fit (temporal)",
        diverged_hint=_DIVERGED_HINT,
    )


@torch.no_grad()
def _validation_loss(model, x_all, train_obs, val_cells, val_rows, heads, foe) -> float:
    model.eval()
    total, count = 0.0, 0.0
    for start in range(0, len(val_rows), 8192):
        idx = val_rows[start : start + 8192]
        x, obs, val = x_all[idx], train_obs[idx], val_cells[idx]
        x_in = torch.where(expand_mask(obs, foe), x, torch.zeros_like(x))
        losses = heads.cell_losses(model(x_in, obs), x)
        total += float((losses * val).sum())
        count += float(val.sum())
    return total / max(count, 1.0)
