"""The networks of :class:`aeimpute.Imputer`: training an ensemble and running it.

Works on scaled, encoded matrices (no pandas): ``z`` (rows x encoded columns,
0 where missing) and ``observed`` (rows x features). Imported lazily by the
estimator so that ``import aeimpute`` does not import torch.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from aeimpute.corruption import hide_cells, split_validation, split_validation_runs
from aeimpute.nn import DenoisingAutoencoder, TemporalDenoiser
from aeimpute.runtime import native_bfloat16, session
from aeimpute.training import (
    CellCorruption,
    Heads,
    OptimConfig,
    TrainingTable,
    expand_mask,
    train,
    train_temporal,
)

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


def build_model(config: dict) -> DenoisingAutoencoder | TemporalDenoiser:
    """The network described by ``config`` (an estimator's ``model_config_``)."""
    config = dict(config)
    if config.pop("kind", "rows") == "temporal":
        return TemporalDenoiser(**config)
    return DenoisingAutoencoder(**config)


class Networks:
    """One or more trained denoising networks whose predictions are averaged.

    Parameters
    ----------
    models : list of torch modules
    config : dict
        The ``model_config_`` they were built from.
    heads : dict
        The layout's heads (``{"numeric": [...], "binary": [...],
        "categorical": [[...], ...]}``).
    feature_of_encoded : int ndarray (n_encoded,)
    device : str or torch.device
    precision : {"float32", "bfloat16"}, default="float32"
        The format the networks were trained in. Networks trained in bfloat16
        also predict in it where ``device`` computes it natively (about twice
        the rows per second; benchmarks/results/inference_precision.md), and
        in float32 elsewhere.
    """

    def __init__(
        self,
        models: list,
        config: dict,
        heads: dict,
        feature_of_encoded,
        device,
        precision: str = "float32",
    ):
        self.models = models
        self.config = dict(config)
        self.heads = heads
        self.foe = np.asarray(feature_of_encoded)
        self.device = torch.device(device)
        self.precision = precision
        self._cpu_heads = Heads(heads, self.foe, torch.device("cpu"))

    @property
    def inference_dtype(self) -> torch.dtype | None:
        """The autocast dtype of predictions (None: float32)."""
        if self.precision == "bfloat16" and native_bfloat16(self.device):
            return torch.bfloat16
        return None

    @property
    def temporal(self) -> bool:
        return self.config.get("kind") == "temporal"

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(
        cls,
        config: dict,
        heads: dict,
        feature_of_encoded: np.ndarray,
        z: np.ndarray,
        observed: np.ndarray,
        corruption: CellCorruption,
        optim: OptimConfig,
        *,
        n_models: int,
        validation_fraction: float,
        seed: int,
        device: torch.device,
        n_threads: int,
        channel_of_feature: np.ndarray,
        window: int = 0,
    ) -> tuple[Networks, list[dict], np.ndarray, np.ndarray]:
        """Train ``n_models`` networks on ``z`` / ``observed``.

        Returns the networks, their histories, the residual scale of each
        encoded column (error on held-back cells, for :meth:`Imputer.sample`)
        and the cells the first network held back for validation.
        """
        foe = np.asarray(feature_of_encoded)
        precision = "float32" if optim.autocast is None else "bfloat16"
        nets = cls([], config, heads, foe, device, precision)
        dtype = nets.inference_dtype
        temporal = nets.temporal
        models, histories, held = [], [], None
        sq_err = np.zeros(len(foe))
        count = np.zeros(len(foe))
        train_heads = Heads(heads, foe, device)
        for k in range(n_models):
            model_seed = seed + 7919 * k
            with session(device, n_threads, model_seed):
                model = build_model(config).to(device)
                gen = torch.Generator(device=device).manual_seed(model_seed)
                rng = np.random.default_rng(model_seed)
                if temporal:
                    val = split_validation_runs(
                        observed, validation_fraction, rng, channel_of_feature, (1, window // 2)
                    )
                else:
                    val = split_validation(observed, validation_fraction, rng)
                table = TrainingTable(
                    z, observed, val, train_heads, foe, channel_of_feature, torch.device(device)
                )
                if temporal:
                    hist = train_temporal(model, table, corruption, optim, gen, window)
                else:
                    hist = train(model, table, corruption, optim, gen)
                if held is None:
                    held = val  # before the stand-in below: these cells were never trained on
                if not val.any():  # estimate the error scale on a fresh hide pass instead
                    stand_in = np.random.default_rng(model_seed + 1)
                    val = observed & (stand_in.random(observed.shape) < 0.2)
                rows = slice(None) if temporal else val.any(axis=1)
                pred = _raw(model, z[rows], (observed & ~val)[rows], foe, device, dtype=dtype)
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
        nets.models = models
        residual = np.sqrt(sq_err / np.maximum(count, 1))
        residual[count == 0] = 1.0
        return nets, histories, residual, held

    # ------------------------------------------------------------------ predict
    def activate(self, raw: np.ndarray) -> np.ndarray:
        """Raw outputs -> predictions (numbers, probabilities), on a float64 copy-free path."""
        return self._cpu_heads.activate(torch.as_tensor(raw), inplace=True).numpy()

    def raw(self, z: np.ndarray, observed: np.ndarray, first_only: bool = False) -> np.ndarray:
        """Raw outputs averaged over the networks (or of the first one); call in a session."""
        models = self.models[:1] if first_only else self.models
        dtype = self.inference_dtype
        total = _raw(models[0], z, observed, self.foe, self.device, dtype=dtype)
        for model in models[1:]:
            total += _raw(model, z, observed, self.foe, self.device, dtype=dtype)
        return total / len(models) if len(models) > 1 else total

    def predict(
        self,
        z: np.ndarray,
        observed: np.ndarray,
        n_threads: int,
        passes: int = 1,
        mask_rate: tuple[float, float] = (0.2, 0.5),
        seed: int = 0,
    ) -> np.ndarray:
        """Predictions in scaled units (probabilities for binary/categorical columns).

        With ``passes > 1``, averaged over passes that hide a further share
        (``mask_rate``) of the observed cells, as in training; the plain pass
        is one of them.
        """
        with session(self.device, n_threads):
            pred = self.activate(self.raw(z, observed))
            if passes > 1:
                gen = torch.Generator().manual_seed(seed)
                obs_t = torch.as_tensor(observed)
                low, high = mask_rate
                total = pred.copy()
                for _ in range(passes - 1):
                    hidden = hide_cells(obs_t, low, high, gen).numpy()
                    total += self.activate(self.raw(z, observed & ~hidden))
                pred = total / passes
            return pred.astype(np.float64, copy=False)

    def predict_first(self, z: np.ndarray, observed: np.ndarray, n_threads: int) -> np.ndarray:
        """The first network's predictions (the one whose held-back cells fit the blend)."""
        with session(self.device, n_threads):
            return self.activate(self.raw(z, observed, first_only=True))

    def encode(self, z: np.ndarray, observed: np.ndarray, n_threads: int) -> np.ndarray:
        """The networks' latent codes, concatenated."""
        with session(self.device, n_threads):
            return np.concatenate(
                [self._latent(m, z, observed) for m in self.models],
                axis=1,
            )

    def _latent(self, model, z: np.ndarray, observed: np.ndarray) -> np.ndarray:
        dtype = self.inference_dtype
        return _raw(model, z, observed, self.foe, self.device, latent=True, dtype=dtype)

    def reconstruction_error(
        self, z: np.ndarray, observed: np.ndarray, n_passes: int, n_threads: int, seed: int
    ) -> np.ndarray:
        """Mean loss on randomly hidden observed cells, per row (NaN with no observed cell)."""
        heads = self._cpu_heads
        total = np.zeros(z.shape[0])
        count = np.zeros(z.shape[0])
        gen = torch.Generator().manual_seed(seed)
        obs_t = torch.as_tensor(observed)
        with session(self.device, n_threads):
            for _ in range(n_passes):
                hidden = hide_cells(obs_t, 0.3, 0.3, gen).numpy()
                out = self.raw(z, observed & ~hidden)
                losses = heads.cell_losses(torch.as_tensor(out), torch.as_tensor(z)).numpy()
                total += np.where(hidden, losses, 0.0).sum(axis=1)
                count += hidden.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = total / count
        score[~observed.any(axis=1)] = np.nan
        # rows whose draws never hid a cell (one observed cell, unlucky draws): hide it alone
        todo = np.flatnonzero(observed.any(axis=1) & (count == 0))
        if len(todo):
            with session(self.device, n_threads):
                out = self.raw(z[todo], np.zeros_like(observed[todo]))
            losses = heads.cell_losses(torch.as_tensor(out), torch.as_tensor(z[todo])).numpy()
            score[todo] = np.where(observed[todo], losses, 0.0).sum(1) / observed[todo].sum(1)
        return score

    # ------------------------------------------------------------------ state
    def tensors(self) -> dict:
        """``{"model{k}.{name}": tensor}`` of every network's weights (on the CPU)."""
        return {
            f"model{k}.{name}": t.detach().cpu()
            for k, m in enumerate(self.models)
            for name, t in m.state_dict().items()
        }

    @classmethod
    def from_tensors(
        cls,
        tensors: dict,
        n_models: int,
        config: dict,
        heads: dict,
        feature_of_encoded,
        device,
        precision: str = "float32",
    ) -> Networks:
        """Rebuild from :meth:`tensors` on ``device``."""
        models = []
        for k in range(n_models):
            prefix = f"model{k}."
            own = {n[len(prefix) :]: t for n, t in tensors.items() if n.startswith(prefix)}
            model = build_model(config)
            model.load_state_dict(own)
            models.append(model.to(device).eval())
        return cls(models, config, heads, feature_of_encoded, device, precision)


def warn_temporal_precision(precision: str) -> None:
    """Say that a forced bfloat16 does not apply to the temporal model."""
    if precision == "bfloat16":
        warnings.warn(
            "precision='bfloat16' applies to the row-wise model; this table is modelled with "
            "temporal context, which trains in float32",
            UserWarning,
            stacklevel=4,  # the user's fit (through Imputer.fit and _fit_networks)
        )


@torch.no_grad()
def _raw(model, z, observed, foe, device, latent=False, batch_size=8192, dtype=None) -> np.ndarray:
    """Raw outputs (or latent codes) of ``model``, in batches; under autocast to ``dtype``."""
    model.eval()
    foe_t = torch.as_tensor(foe, dtype=torch.long, device=device)
    if isinstance(model, TemporalDenoiser):  # one series: the rows are not independent
        batch_size = max(1, z.shape[0])
    result = None
    for start in range(0, max(1, z.shape[0]), batch_size):  # one (empty) batch for no rows
        x = torch.as_tensor(z[start : start + batch_size], dtype=torch.float32, device=device)
        m = torch.as_tensor(observed[start : start + batch_size], device=device)
        x_in = torch.where(expand_mask(m, foe_t), x, torch.zeros_like(x))
        with torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None):
            out = model.encode(x_in, m) if latent else model(x_in, m)
        if result is None:
            result = np.empty((z.shape[0], out.shape[1]))
        # float32 -> float64 in the copy
        result[start : start + batch_size] = out.float().cpu().numpy()
    return result
