"""The tabular :class:`Imputer`: schema -> scaling -> training -> reconstruction."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from aeimpute import _validation as v
from aeimpute import dask_frames, runtime
from aeimpute._frame import FrameIOMixin
from aeimpute.blend import MAX_ROWS as MAX_BLEND_ROWS
from aeimpute.neighbors import DEFAULT_K
from aeimpute.persistence import ModelFileMixin, json_params, params_from_json
from aeimpute.runtime import resolve_device
from aeimpute.scaling import ObservedScaler
from aeimpute.schema import (
    ColumnSpec,
    Layout,
    conform_empty_columns,
    decode,
    decode_label,
    encode,
    encode_label,
    infer_schema,
    restore_dtypes,
)

_CONSTRAINTS = {
    **v.SHARED_CONSTRAINTS,
    "width": v.either(v.one_of(None), v.int_in(1)),
    "latent_dim": v.either(v.one_of(None), v.int_in(1)),
    "n_blocks": v.int_in(0, 16),
    "n_models": v.int_in(1, 32),
    "inference_passes": v.int_in(1, 1000),
    "refine": v.int_in(0, 8),
    "neighbors": v.either(v.one_of("auto"), v.int_in(0, 1000)),
    "linear": v.one_of("auto", True, False),
    "trees": v.one_of("auto", True, False),
    "max_iter": v.either(v.one_of("auto"), v.int_in(1)),
    "mask_rate": (
        lambda r: (
            isinstance(r, (tuple, list))
            and len(r) == 2
            and all(v.is_real(x) for x in r)
            and 0 <= r[0] <= r[1] < 1
        ),
        "a pair (low, high) with 0 <= low <= high < 1",
    ),
    "visible_weight": v.real_in(0, 1),
    "validation_fraction": v.real_in(0, 0.5, "left"),
    "column_kinds": (lambda d: d is None or isinstance(d, dict), "None or a dict {column: kind}"),
    "channels": (
        lambda c: c is None or c == "columns" or isinstance(c, dict),
        "None, 'columns' or a dict {channel name: [columns]}",
    ),
    "channel_rate": v.real_in(0, 1, "right"),
    "temporal": v.one_of("auto", True, False),
    "window": v.int_in(8, 1_000_000),
    "all_missing": v.one_of("error", "keep"),
    "clip": v.one_of(True, False),
    "precision": v.one_of("auto", "float32", "bfloat16"),
}


class Imputer(v.RenamedParamsMixin, FrameIOMixin, ModelFileMixin, TransformerMixin, BaseEstimator):
    """Fill missing values with a denoising autoencoder.

    The model sees each row's observed cells beside a mask of which cells
    were observed. In every training step a fresh random share of the
    observed cells is hidden and Gaussian noise is added to the visible
    ones; the network learns to give the hidden cells back. A few percent of
    the observed cells are held back, and training keeps the weights that
    reconstruct them best.

    Parameters
    ----------
    width : int, optional
        Width of the hidden layers (formerly ``hidden_width``). Default:
        ``max(128, 4 * p)`` capped at 256, where ``p`` is the number of
        encoded columns; 64 for the temporal model.
    latent_dim : int, optional
        Size of the latent code returned by :meth:`encode`. Default: half
        the hidden width.
    n_blocks : int, default=1
        Residual blocks in each of the encoder and the decoder.
    n_models : int, default=1
        Number of networks in the ensemble; predictions are averaged.
    inference_passes : int, default=1
        Predictions are averaged over this many passes; every pass after the
        first hides a further random share (``mask_rate``) of the observed
        cells, like training does.
    refine : int, default=1
        Refinement passes inside the network: each feeds the previous
        reconstruction into the missing cells and reconstructs again (trained
        end to end, like an unrolled iterative imputer).
    neighbors : int or "auto", default="auto"
        Blend each filled cell with the inverse-distance weighted mean of
        the values its ``neighbors`` nearest training rows observed in that
        column (nearest in the network's completed, scaled table; see
        :mod:`aeimpute.neighbors`). Numeric columns only (binary and
        categorical ones are left to the network). The blend weight is
        fitted on the held-back validation cells; a weight under 0.1 is
        dropped (``n_neighbors_`` becomes 0), as the search costs more per
        row than the network. ``"auto"``: 5 neighbours for a row-wise model
        fitted on at most 20,000 rows, none otherwise. 0 turns it off. The
        training rows (completed, float32; a random 20,000 of them on
        larger tables) are kept in the model to search, and searched on
        every ``transform``. Not used with temporal context.
    linear : {"auto", True, False}, default="auto"
        Also blend in a ridge regression of each numeric column on all the
        others in the network's completed table (one MICE-like round; its
        weight is fitted beside the neighbours' on the held-back cells).
        ``"auto"``: for a row-wise model fitted on at most 20,000 rows;
        ``True`` on any row-wise model (the blend then learns from 20,000
        rows drawn at random); not with temporal context. ``linear_`` tells
        whether it was tried.
    trees : {"auto", True, False}, default="auto"
        Also blend in gradient-boosted trees (LightGBM's
        :class:`~lightgbm.LGBMRegressor`, 100 iterations, 31 leaves, 64
        bins) of each numeric column on all the others in the
        network's completed table (one MissForest-like round, fitted on at
        most 5,000 rows that observed the column; see
        :mod:`aeimpute.trees`); its weight is fitted beside the others on
        the held-back cells. ``"auto"`` and ``True`` as for ``linear``. The
        costliest part of the blend (about 0.1 s per numeric column of a
        2,000-row table on one thread), so on a table of more than 16
        numeric columns the trees are first fitted on 16 of them, and
        dropped if their weight there is under 0.1. Binary and categorical
        columns (of at most 10 categories) get tree classifiers
        (:class:`~lightgbm.LGBMClassifier`, the same settings) whose
        probabilities are blended with the network's under their own weight
        (``tree_class_weight_``, also dropped under 0.1; with more than 4
        such columns, screened on 4 of them first).
    max_iter : int or "auto", default="auto"
        Maximum number of optimisation steps per network (formerly
        ``max_steps``). ``"auto"``: steps
        for about 600 passes over the training rows,
        ``round(600 * n_rows / min(batch_size, n_rows))``, kept between 600
        and 3000 (so tables of up to 512 rows get 600, 2,560 rows or more
        get 3000); the temporal model takes 1000. The number used is
        ``max_iter_``.
    batch_size : int, default=512
        Rows per step (all rows when the table is smaller). With temporal
        context, each step draws ``max(1, batch_size // 32)`` windows.
    learning_rate : float, default=5e-3
        Peak AdamW learning rate (warm-up then cosine decay).
    weight_decay : float, default=1e-4
        AdamW weight decay.
    mask_rate : tuple of float, default=(0.2, 0.5)
        Each row hides a share of its observed cells drawn from this range
        in every step.
    noise_std : float, default=0.05
        Standard deviation of the Gaussian noise added to visible inputs
        (in standardised units).
    visible_weight : float, default=0.1
        Loss weight of visible cells relative to hidden ones (1.0).
    validation_fraction : float, default=0.05
        Share of observed cells held back for early stopping and for
        fitting the neighbour blend. Set to 0 to train for ``max_iter``
        without validation. No cells are held back when that would be fewer
        than 40; with fewer than 100 they fit the blend but do not stop
        training early.
    n_iter_no_change : int, default=400
        Stop when the validation error has not improved for this many steps
        (formerly ``patience``). With ``max_iter="auto"`` and more than
        1000 steps, training does not stop before its last 1000 steps
        (``min_iter_``): early in a
        long schedule the learning rate is still high and the validation
        error noisy.
    channels : dict {name: [columns]}, "columns" or None
        Columns that come from the same sensor or source and tend to go
        missing together (a fused multi-channel matrix). Training then also
        hides whole channels (see ``channel_rate``), so the model learns to
        rebuild one source from the others. ``None`` takes the first level
        of a two-level :class:`pandas.MultiIndex` of columns as the channel,
        and otherwise makes each column its own channel; columns left out of
        the dict are channels of their own.
    channel_rate : float, default=0.3
        Probability with which training switches off each channel of
        several columns: in a row for the row-wise model, in a training
        window for a run of 1 to ``window`` rows for the temporal model
        (whose columns also go out on their own for runs, each with
        probability 0.3). Lower values trade accuracy on channel outages
        for accuracy on scattered missing cells (measured in
        ``benchmarks/results/fusion_ablation.md``).
    temporal : {"auto", True, False}, default="auto"
        Treat the rows as a time series and give the model a window of
        neighbouring rows as context (a dilated temporal convolution over
        the rows, with each column bridged linearly over its gaps). "auto"
        turns it on for a DataFrame with a monotonic increasing
        :class:`pandas.DatetimeIndex`. With ``True`` the row order is taken
        as the time order.
    window : int, default=256
        Rows of context with temporal context: the length of the training
        windows and the receptive field of the network. ``n_blocks``,
        ``latent_dim`` and ``refine`` apply to the row-wise model only (set
        with temporal context, they are ignored with a warning).
    column_kinds : dict, optional
        ``{column: kind}`` to override detected column kinds, where kind is
        ``"numeric"``, ``"integer"``, ``"binary"``, ``"categorical"`` or
        ``"passthrough"`` (returned untouched). Integer columns get whole
        numbers; a float column counts as one when its observed values are
        all whole numbers, at least 20 of them (``pd.read_csv`` reads an
        integer column with gaps as float64); with fewer, a warning says how
        to declare it. Declare ``"numeric"`` to keep unrounded fills.
    all_missing : {"error", "keep"}, default="error"
        What to do with a column that has no observed value at fit:
        raise, or keep it (still missing) with a warning.
    clip : bool, default=True
        Clip imputed numbers to the range observed in training.
    random_state : int, RandomState or None
        Seed for weight initialisation, masking and validation split. The
        same value gives the same output.
    device : str, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU.
    n_jobs : int or None, default=None
        CPU threads of torch, the neighbour search and the trees while
        fitting and predicting (formerly ``n_threads``). None: the
        ``AEIMPUTE_NUM_THREADS`` environment variable when set, else every
        core this process may use; -1 every core. Pin it to 1 when other
        processes share the cores: with another process busy, torch on two
        threads of a two-core machine ran a training step many times slower
        than on one.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Number format of the training steps' forward pass (weights and
        optimiser stay float32); a model trained in bfloat16 also predicts in
        it where the device computes it natively (twice the rows per second
        of float32 at width 200, RMSE within 0.9993-1.0005x on the benchmark
        tables; ``benchmarks/results/inference_precision.md``), in float32
        elsewhere. ``"auto"`` takes bfloat16
        (autocast) for a network of width 128 or more where the device
        computes it natively, which on the CPU takes AVX-512 BF16 or AMX
        instructions, and float32 elsewhere. On such a CPU bfloat16 made a
        training step 1.5-1.7x (width 128) to 2.1x (width 256) faster with
        no loss of accuracy, and a width-64 step slower
        (``benchmarks/results/ablation.md``); results then differ slightly
        from a float32 machine's. The temporal model always trains in
        float32. The format used is ``precision_``.
    verbose : bool, default=False
        Show a progress bar while training.
    hidden_width, max_steps, patience, n_threads : deprecated
        The former names of ``width``, ``max_iter``, ``n_iter_no_change`` and
        ``n_jobs``: a value given under one of them is used, with a
        FutureWarning.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen in fit.
    feature_names_in_ : ndarray of str
        Column names seen in fit (only when they are all strings).
    columns_ : list
        Column labels seen in fit, in order.
    schema_ : list of ColumnSpec
        Detected kind, dtype, categories and range of each column.
    channels_ : list of (name, list of columns)
        The channels used, every column in exactly one.
    temporal_ : bool
        Whether the model uses temporal context.
    history_ : list of dict
        Training history of each network (losses, best step).
    precision_ : str
        ``"bfloat16"`` or ``"float32"``: the format training ran in.
    networks_ : aeimpute.network.Networks
        The trained networks (``n_models`` of them; predictions are averaged).
    blend_ : aeimpute.blend.Blend
        The simpler estimates blended with the networks' and their fitted
        weights, by name (``blend_.weights``, e.g. ``{"neighbors": 0.35,
        "trees": 0.4}``); empty when none earned a weight.
    n_neighbors_ : int
        Neighbours used by the blend (0: none; the linear part may still apply).
    neighbor_weight_ : float
        Fitted blend weight of the neighbours' estimate in numeric cells.
    linear_weight_ : float
        Fitted blend weight of the ridge regressions' estimate.
    tree_weight_ : float
        Fitted blend weight of the boosted trees' estimate in numeric cells.
    tree_class_weight_ : float
        Fitted blend weight of the tree classifiers' probabilities in binary
        and categorical cells.
    tree_class_temperature_ : float
        Divisor of the tree classifiers' raw scores before they become
        probabilities (fitted with their weight; 1.0 without classifiers).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from aeimpute import Imputer
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    >>> df["c"] = df["a"] + df["b"]
    >>> df.iloc[::10, 2] = np.nan
    >>> out = Imputer(max_iter=200, random_state=0).fit_transform(df)
    >>> int(out.isna().sum().sum())
    0
    >>> bool((out.loc[1:9, "c"] == df.loc[1:9, "c"]).all())
    True
    """

    _fitted_marker = "networks_"
    _renamed = {
        "hidden_width": "width",
        "max_steps": "max_iter",
        "patience": "n_iter_no_change",
        "n_threads": "n_jobs",
    }

    def __init__(
        self,
        *,
        width: int | None = None,
        latent_dim: int | None = None,
        n_blocks: int = 1,
        n_models: int = 1,
        inference_passes: int = 1,
        refine: int = 1,
        neighbors: int | str = "auto",
        linear: bool | str = "auto",
        trees: bool | str = "auto",
        max_iter: int | str = "auto",
        batch_size: int = 512,
        learning_rate: float = 5e-3,
        weight_decay: float = 1e-4,
        mask_rate: tuple[float, float] = (0.2, 0.5),
        noise_std: float = 0.05,
        visible_weight: float = 0.1,
        validation_fraction: float = 0.05,
        n_iter_no_change: int = 400,
        channels: dict | str | None = None,
        channel_rate: float = 0.3,
        temporal: str | bool = "auto",
        window: int = 256,
        column_kinds: dict | None = None,
        all_missing: str = "error",
        clip: bool = True,
        random_state: int | np.random.RandomState | None = None,
        device: str = "auto",
        n_jobs: int | None = None,
        precision: str = "auto",
        verbose: bool = False,
        hidden_width: int | None | str = v.DEPRECATED,
        max_steps: int | str = v.DEPRECATED,
        patience: int | str = v.DEPRECATED,
        n_threads: int | None | str = v.DEPRECATED,
    ) -> None:
        self.width = width
        self.latent_dim = latent_dim
        self.n_blocks = n_blocks
        self.n_models = n_models
        self.inference_passes = inference_passes
        self.refine = refine
        self.neighbors = neighbors
        self.linear = linear
        self.trees = trees
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.mask_rate = mask_rate
        self.noise_std = noise_std
        self.visible_weight = visible_weight
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.channels = channels
        self.channel_rate = channel_rate
        self.temporal = temporal
        self.window = window
        self.column_kinds = column_kinds
        self.all_missing = all_missing
        self.clip = clip
        self.random_state = random_state
        self.device = device
        self.n_jobs = n_jobs
        self.precision = precision
        self.verbose = verbose
        self.hidden_width = hidden_width
        self.max_steps = max_steps
        self.patience = patience
        self.n_threads = n_threads

    # ------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame | np.ndarray, y: Any = None) -> Imputer:
        """Learn the column schema, the scaling and the network from ``X``.

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_rows, n_columns)
            Data with missing cells (NaN, None, ``pd.NA`` or ``NaT``). A Dask
            DataFrame is fitted on its rows brought into memory: all of them
            up to ``aeimpute.dask_frames.FIT_ROWS`` (1,000,000) rows, a uniform random
            sample of about that many beyond (drawn with ``random_state``).
        y : ignored

        Returns
        -------
        self : Imputer
        """
        params = self._resolved_params()
        v.check_params(params, _CONSTRAINTS)
        device = resolve_device(self.device)
        if dask_frames.is_dask_frame(X):
            X = dask_frames.fit_rows(X, self.random_state)
        df, kind = v.as_frame(X)
        v.check_frame(df)
        column_kinds = dict(self.column_kinds or {})
        all_na = [c for c in df.columns if df[c].isna().all()]
        if all_na:
            if self.all_missing == "error":
                raise ValueError(
                    f"column(s) {all_na} are entirely missing, so nothing can be learned "
                    "about them; drop them or pass all_missing='keep' to return them as they are"
                )
            warnings.warn(
                f"column(s) {all_na} are entirely missing; they are returned unchanged",
                UserWarning,
                stacklevel=2,
            )
            for c in all_na:
                column_kinds[c] = "passthrough"
        temporal = _use_temporal(self.temporal, df)
        if temporal:
            _check_row_wise_options(params)
        specs = infer_schema(df, column_kinds)
        layout = Layout(specs)
        if layout.n_features == 0:
            raise ValueError("X has no column that can be imputed (all are passthrough)")
        values, observed = encode(df, layout)
        if not observed.any():
            raise ValueError("X has no observed value in any modelled column")
        heads = layout.heads()
        scaler = ObservedScaler(heads["numeric"]).fit(values)

        rng = check_random_state(self.random_state)
        self.seed_ = int(rng.randint(0, 2**31 - 1))
        self._remember_input(df.columns, kind)
        self.schema_ = specs
        self._layout = layout
        self._scaler = scaler
        p_enc = layout.n_encoded
        foe = layout.feature_of_encoded().tolist()
        if temporal:
            self.model_config_ = {
                "kind": "temporal",
                "n_encoded": p_enc,
                "n_features": layout.n_features,
                "width": params["width"] or 64,
                "n_blocks": max(1, math.ceil(math.log2(self.window)) - 1),
                "feature_of_encoded": foe,
                "horizon": self.window,
                "numeric": layout.heads()["numeric"],
            }
        else:
            width = params["width"] or int(min(256, max(128, 4 * p_enc)))
            self.model_config_ = {
                "n_encoded": p_enc,
                "n_features": layout.n_features,
                "width": width,
                "latent_dim": self.latent_dim or max(1, width // 2),
                "n_blocks": self.n_blocks,
                "feature_of_encoded": foe,
                "refine": self.refine,
            }
        self._set_channels(df.columns)
        # a time series keeps every row (their positions are the time axis)
        keep = np.ones(len(df), dtype=bool) if temporal else observed.any(axis=1)
        if params["max_iter"] == "auto":
            self.max_iter_ = auto_steps(int(keep.sum()), self.batch_size, temporal)
            self.min_iter_ = max(0, self.max_iter_ - EARLY_STOP_TAIL)
        else:
            self.max_iter_, self.min_iter_ = params["max_iter"], 0
        z = scaler.transform(values[keep], missing=0.0)
        held = self._fit_networks(z, observed[keep], device)
        small = bool(not temporal and keep.sum() <= MAX_BLEND_ROWS)
        if self.neighbors == "auto":
            k = DEFAULT_K if small else 0
        else:
            k = int(self.neighbors)
        self.linear_ = self.linear is True or (self.linear == "auto" and small)
        self.trees_ = self.trees is True or (self.trees == "auto" and small)
        self._fit_blend(z, observed[keep], held, k)
        return self

    def _fit_networks(self, z: np.ndarray, observed: np.ndarray, device: Any) -> np.ndarray:
        """Train the networks; return the cells the first one held back (they fit the blend)."""
        from aeimpute.network import Networks, training_dtype, warn_temporal_precision
        from aeimpute.training import CellCorruption, OptimConfig

        temporal = self.model_config_.get("kind") == "temporal"
        if temporal:  # the temporal model trains in float32 (bfloat16 measured row-wise only)
            warn_temporal_precision(self.precision)
            autocast = None
        else:
            autocast = training_dtype(self.precision, device, int(self.model_config_["width"]))
        self.precision_ = "float32" if autocast is None else "bfloat16"
        optim = OptimConfig.from_params(
            self._resolved_params(warn=False),
            max_steps=self.max_iter_,
            min_steps=self.min_iter_,
            autocast=autocast,
        )
        corruption = CellCorruption(
            mask_rate=tuple(self.mask_rate),
            noise_std=self.noise_std,
            visible_weight=self.visible_weight,
            channel_rate=self.channel_rate if self.channel_masking_ else 0.0,
        )
        self.device_ = str(device)
        self.networks_, self.history_, self.residual_scale_, held = Networks.fit(
            self.model_config_,
            self._layout.heads(),
            self._layout.feature_of_encoded(),
            z,
            observed,
            corruption,
            optim,
            n_models=self.n_models,
            validation_fraction=self.validation_fraction,
            seed=self.seed_,
            device=device,
            n_threads=self._n_threads,
            channel_of_feature=self.channel_of_feature_,
            window=self.window,
        )
        return held

    def _fit_blend(self, z: np.ndarray, observed: np.ndarray, held: np.ndarray, k: int) -> None:
        """Fit the blend (:mod:`aeimpute.blend`) on the cells the first network held back.

        The first network fills the table without them; the candidates learn
        from that completion, their weights from the held-back cells. The
        neighbours' reference table and the final ridge fit use every
        candidate row (at most ``MAX_BLEND_ROWS``) completed by the full model.
        """
        from aeimpute.blend import Blend, HeldOut
        from aeimpute.neighbors import complete
        from aeimpute.summary import held_out_errors

        foe = self._layout.feature_of_encoded()
        numeric = self._layout.numeric_encoded()
        rows = np.arange(len(z))
        if len(rows) > MAX_BLEND_ROWS:
            rng = np.random.default_rng(self.seed_ + 5)
            rows = np.sort(rng.choice(len(z), size=MAX_BLEND_ROWS, replace=False))
        train_obs = observed & ~held
        net = self.networks_.predict_first(z, train_obs, self._n_threads)
        at = np.flatnonzero(held.any(axis=1))  # a bounded sample of rows: no table-size copies
        self.expected_error_ = held_out_errors(
            self._layout, self._scaler.inverse_transform(z[at]),
            self._scaler.inverse_transform(net[at]), held[at],
        )  # fmt: skip
        filled = complete(z, net, train_obs[:, foe])
        held_out = HeldOut(z, held, train_obs, net, filled, rows, foe, numeric)

        def reference() -> tuple[np.ndarray, np.ndarray]:
            full = self._network_predict(z[rows], observed[rows])
            return complete(z[rows], full, observed[rows][:, foe]), observed[rows]

        bar = None
        if self.verbose and self.trees_:  # the trees take most of the blend's time
            from tqdm.auto import tqdm

            bar = tqdm(desc="aeimpute blend (trees, per column)", unit="column", leave=False)
        try:
            self.blend_ = Blend.fit(
                held_out,
                self._layout.heads(),
                k=k,
                use_linear=self.linear_,
                use_trees=self.trees_,
                reference=reference,
                activate=self.networks_.activate,
                seeds={
                    "trees": self.seed_ + 11,
                    "screen": self.seed_ + 13,
                    "class_trees": self.seed_ + 17,
                    "class_screen": self.seed_ + 19,
                },
                n_threads=self._n_threads,
                on_column=None if bar is None else (lambda: bar.update(1)),
            )
        finally:
            if bar is not None:
                bar.close()

    def _network_predict(self, z: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The networks' predictions (averaged over ``inference_passes``), scaled units."""
        return self.networks_.predict(
            z, observed, self._n_threads, self.inference_passes, tuple(self.mask_rate),
            self.seed_ + 3,
        )  # fmt: skip

    def _predict(self, z: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """Filled values in scaled units: the networks' blended with the candidates'.

        The row-wise model with one inference pass fills blocks of
        ``PREDICT_ROWS`` rows one after the other (the same values as all
        rows at once, as every step treats rows apart): the temporary arrays
        stay small, which made a 1,000,000-row transform faster.
        """
        if self.temporal_ or self.inference_passes > 1 or len(z) <= PREDICT_ROWS:
            return self._predict_rows(z, observed)
        out = np.empty_like(z)
        for start in range(0, len(z), PREDICT_ROWS):
            block = slice(start, start + PREDICT_ROWS)
            out[block] = self._predict_rows(z[block], observed[block])
        return out

    def _predict_rows(self, z: np.ndarray, observed: np.ndarray) -> np.ndarray:
        pred = self._network_predict(z, observed)
        return self.blend_.predict(z, observed, pred, self.networks_.activate, self._n_threads)

    # ------------------------------------------------------------ transform
    def transform(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
        """Fill the missing cells of ``X``; observed cells are returned unchanged.

        Parameters
        ----------
        X : DataFrame or ndarray
            Same columns as in fit (for a DataFrame, any order). A Dask
            DataFrame is filled lazily, partition by partition, by the
            row-wise model (not by a temporal one).

        Returns
        -------
        DataFrame or ndarray
            Same kind, shape, index, columns and dtypes as ``X`` (for a Dask
            DataFrame, a lazy Dask DataFrame).
        """
        if dask_frames.is_dask_frame(X):
            self._check_fitted()
            dask_frames.check_transformable(self)
            self._check_columns(list(X.columns))
            return dask_frames.transform(self, X)
        df, kind, order = self._prepare(X)
        df, retype = conform_empty_columns(df, self._layout)
        z, observed, fill = self._encode(df)
        rows = fill.any(axis=1)  # the row-wise model need not run on complete rows
        if self.temporal_ or rows.all():
            pred = self._predict(z, observed)
        else:
            pred = np.zeros_like(z)
            pred[rows] = self._predict(z[rows], observed[rows])
        pred = self._scaler.inverse_transform(pred, copy=False)
        out = restore_dtypes(decode(df, self._layout, pred, fill, self.clip), retype)
        return self._restore(out, kind, order, X)

    def encode(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
        """Latent representation of each row.

        With ``n_models > 1`` the codes of the networks are concatenated.
        With temporal context, the code of a row is the temporal network's
        hidden features there (``width`` values), which depend on the
        neighbouring rows too.

        When the codes feed a predictive model, fit the imputer on the
        features only, never on a table that holds the outcome: the code is
        trained to rebuild every column it was fitted on, so it carries the
        outcome and a model on the codes then "predicts" it from itself (a
        ridge regression on codes of a table fitted with its outcome column
        scored a cross-validated R^2 of 0.87 where the true features reach
        0.48).

        Returns
        -------
        DataFrame (index of ``X``, columns ``latent_0``...) or ndarray

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from aeimpute import Imputer
        >>> rng = np.random.default_rng(0)
        >>> features = pd.DataFrame(rng.normal(size=(120, 4)), columns=list("abcd"))
        >>> features.iloc[::7, 1] = np.nan
        >>> outcome = features["a"].fillna(0) + rng.normal(size=120)   # kept out of the fit
        >>> imp = Imputer(max_iter=20, latent_dim=3, random_state=0, n_jobs=1).fit(features)
        >>> imp.encode(features).shape
        (120, 3)
        """
        df, kind, _ = self._prepare(X)
        z, observed, _ = self._encode(df, warn=False)
        codes = self.networks_.encode(z, observed, self._n_threads)
        if kind == "numpy":
            return codes
        cols = [f"latent_{i}" for i in range(codes.shape[1])]
        return pd.DataFrame(codes, index=df.index, columns=cols)

    def reconstruction_error(
        self, X: pd.DataFrame | np.ndarray, n_passes: int = 10
    ) -> pd.Series | np.ndarray:
        """Per-row anomaly score: how badly the model rebuilds a row's observed cells.

        In each of ``n_passes`` passes, 30% of each row's observed cells are
        hidden and predicted from the rest; the score is the mean loss on
        the hidden cells (squared error in standardised units for numbers,
        cross-entropy for binary and categorical columns). Higher means more
        unusual. Rows with no observed cell get NaN.

        Returns
        -------
        Series (index of ``X``) or ndarray of shape (n_rows,)
        """
        v.check_params({"n_passes": n_passes}, {"n_passes": v.int_in(1, 10_000)})
        df, kind, _ = self._prepare(X)
        z, observed, _ = self._encode(df, warn=False)
        score = self.networks_.reconstruction_error(
            z, observed, n_passes, self._n_threads, self.seed_ + 1
        )
        if kind == "numpy":
            return score
        return pd.Series(score, index=df.index, name="reconstruction_error")

    def summary(self, X: pd.DataFrame | np.ndarray | None = None) -> pd.DataFrame:
        """What the model fills and how well: one row per modelled column.

        Parameters
        ----------
        X : DataFrame or ndarray, optional
            A table to fill; its missing cells are counted per column.

        Returns
        -------
        aeimpute.summary.FitSummary (a DataFrame that prints in full)
            Index: the modelled columns. ``kind``; ``missing`` (cells of
            ``X`` to fill, with ``X``); ``expected_error`` and ``measure``:
            for numbers the root-mean-square error in the column's units,
            for binary and categorical columns the share of cells filled
            with a wrong value, measured at fit on ``held_back_cells``
            observed cells the network never trained on (before the blend,
            which usually does a little better).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from aeimpute import Imputer
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=200)})
        >>> df["y"] = 2 * df["x"] + rng.normal(scale=0.1, size=200)
        >>> df.loc[::10, "y"] = np.nan
        >>> imp = Imputer(max_iter=100, random_state=0, n_jobs=1).fit(df)
        >>> table = imp.summary(df)
        >>> table["missing"].to_dict()
        {'x': 0, 'y': 20}
        >>> table["measure"].tolist()
        ['RMSE', 'RMSE']
        """
        from aeimpute.summary import build

        self._check_fitted()
        specs = [self._layout.specs[i] for i in self._layout.modelled]
        missing = None
        if X is not None:
            df, _, _ = self._prepare(X)
            missing = [int(df[s.name].isna().sum()) for s in specs]
        return build([s.name for s in specs], [s.kind for s in specs], self.expected_error_,
                     missing)  # fmt: skip

    def sample(
        self, X: pd.DataFrame | np.ndarray, n: int = 5, *, model_uncertainty: bool = True
    ) -> list[pd.DataFrame] | list[np.ndarray]:
        """Draw ``n`` plausible completions of ``X`` (multiple imputation).

        Each draw starts from the model's prediction plus noise: numbers get
        Gaussian noise of the column's error on held-back cells, binary and
        categorical cells are drawn from the predicted probabilities. With
        ``model_uncertainty`` (the default), every number column with gaps is
        then redrawn by a few sweeps of Bayesian linear regression on a
        prediction of that column and the other columns of the draw
        (:mod:`aeimpute.draws`), with the regression's coefficients and noise
        drawn from their posterior in each draw. The prediction comes from
        two imputers with this one's settings, each fitted on half of the rows
        of ``X`` and predicting the other half (so that the regressions see
        how far the model is off on rows it did not train on; they leave out
        the boosted trees of the blend, for time); this costs two fits on half
        the rows each, and one pass over ``X`` per number column with gaps
        (digits, 1797 x 64: 35 s against 1.7 s without). The spread of the
        draws then also holds the uncertainty about the relations between
        columns, and the shrinkage toward the mean of a regularised model is
        taken out. Binary and categorical cells keep the first stage's draws.

        On planted regressions (``benchmarks/pooling.py``), pooled 95%
        intervals cover the true coefficients in 92-95% of repetitions with
        the default draws and 78-89% with ``model_uncertainty=False``
        (``benchmarks/results/pooling.md``). Pool an analysis over the draws
        with :func:`aeimpute.pool.pool_analyses` (Rubin's rules). Draws are
        reproducible for a fixed ``random_state``.

        Parameters
        ----------
        X : DataFrame or ndarray
            Same columns as in fit.
        n : int, default=5
            Number of completions.
        model_uncertainty : bool, default=True
            Redraw number columns with parameter uncertainty (see above);
            needs at least 40 rows (with fewer, a warning and the draws of
            False). False gives the model's prediction plus noise only,
            without the extra fits.

        Returns
        -------
        list of DataFrame or ndarray

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from aeimpute import Imputer
        >>> from aeimpute.pool import pool_analyses
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=150)})
        >>> df["y"] = 2 * df["x"] + rng.normal(size=150)
        >>> df.loc[::5, "x"] = np.nan
        >>> draws = Imputer(max_iter=50, random_state=0, n_jobs=1).fit(df).sample(df, n=5)
        >>> def mean_x(d):
        ...     return d["x"].mean(), d["x"].var() / len(d)
        >>> pooled = pool_analyses(draws, mean_x)
        >>> pooled.m, bool(pooled.between[0] > 0)
        (5, True)
        """
        from aeimpute import draws as mi

        v.check_params(
            {"n": n, "model_uncertainty": model_uncertainty},
            {"n": v.int_in(1, 10_000), "model_uncertainty": v.one_of(True, False)},
        )
        df, kind, order = self._prepare(X)
        df, retype = conform_empty_columns(df, self._layout)
        z, observed, fill = self._encode(df)
        mean = self._predict(z, observed)
        rng = np.random.default_rng(self.seed_ + 2)
        heads = self._layout.heads()
        fills = fill[:, self._layout.feature_of_encoded()]
        columns = mi.redrawable(fills, heads["numeric"], z.shape[1] + 1)
        # no number column to redraw: the two half-table fits would be wasted
        wanted = model_uncertainty and bool(columns)
        own = self._cross_fitted_predictions(df, columns) if wanted else None
        if wanted and own is None:
            warnings.warn(
                f"model_uncertainty=True needs at least {2 * MIN_FOLD_ROWS} rows to fit the two "
                f"half-table models it uses; {len(df)} row(s) given, so these draws are the "
                "model's prediction plus noise only (model_uncertainty=False)",
                UserWarning,
                stacklevel=2,
            )
        completions = []
        for _ in range(n):
            d = mi.around_prediction(mean, heads, self.residual_scale_, rng)
            d = np.where(fills, d, z)  # observed cells as observed: the regressions learn from them
            if own:
                d = mi.chained_linear(d, fills, columns, own, rng)
            completions.append(d)
        return [
            self._restore(
                restore_dtypes(
                    decode(df, self._layout, self._scaler.inverse_transform(d), fill, self.clip),
                    retype,
                ),
                kind,
                order,
                X,
            )
            for d in completions
        ]

    def _cross_fitted_predictions(
        self, df: pd.DataFrame, columns: list[int]
    ) -> dict[int, np.ndarray] | None:
        """For each encoded number column, a prediction of it in every row by a model that
        never saw that row (scaled units), or None when ``df`` is too small to split.

        The rows are split in two (at random; a time-ordered table in its first and
        second half) and an imputer with this one's settings and column kinds, without
        the boosted trees (for time), is fitted on each half; each half's rows are
        predicted, the column hidden, by the model of the other half. A model's
        predictions of rows it trained on are closer to their values than its
        predictions of missing cells (half the error on digits), which would make
        the regressions of :func:`aeimpute.draws.chained_linear` trust them too much.
        """
        n = len(df)
        if n < 2 * MIN_FOLD_ROWS:
            return None
        rng = np.random.default_rng(self.seed_ + 23)
        order = np.arange(n) if self.temporal_ else rng.permutation(n)
        folds = [np.sort(order[: n // 2]), np.sort(order[n // 2 :])]
        params = {
            **self.get_params(deep=False),
            "column_kinds": {spec.name: spec.kind for spec in self.schema_},
            "all_missing": "keep",
            "verbose": False,
            "trees": False,  # per-column trees predict every column of every copy: too slow here
        }
        foe = self._layout.feature_of_encoded()
        out = {c: np.zeros(n) for c in columns}
        for k, rows in enumerate(folds):
            other = folds[1 - k]
            with warnings.catch_warnings():  # the user saw this table's warnings at fit
                warnings.simplefilter("ignore", UserWarning)
                params["random_state"] = self.seed_ + 29 + k
                half = Imputer(**params).fit(df.iloc[other])
                part = df.iloc[rows]
                # row-wise: several columns' copies of the rows in one transform call
                per_call = 1 if self.temporal_ else max(1, 2 * PREDICT_ROWS // len(rows))
                for start in range(0, len(columns), per_call):
                    batch = columns[start : start + per_call]
                    copies = []
                    for c in batch:
                        hidden = part.copy()
                        hidden[self.schema_[self._layout.modelled[foe[c]]].name] = np.nan
                        copies.append(hidden)
                    # one copy keeps its index (a time-ordered model reads it)
                    many = len(copies) > 1
                    stacked = pd.concat(copies, ignore_index=True) if many else copies[0]
                    filled, _ = conform_empty_columns(half.transform(stacked), self._layout)
                    z = self._encode(filled, warn=False)[0]
                    for i, c in enumerate(batch):
                        out[c][rows] = z[i * len(rows) : (i + 1) * len(rows), c]
        return out

    # ------------------------------------------------------------ sklearn
    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------ persistence
    # save(path) and load(path, device=None) come from ModelFileMixin
    @staticmethod
    def _params_to_json(params: dict) -> dict:
        """Constructor parameters as JSON (column labels encoded, see :func:`encode_label`)."""
        out = json_params(params, tuples=("mask_rate",))
        if out.get("column_kinds") is not None:
            out["column_kinds"] = [[encode_label(k), v] for k, v in out["column_kinds"].items()]
        if isinstance(out.get("channels"), dict):
            out["channels"] = {
                "groups": [
                    [encode_label(k), [encode_label(c) for c in cols]]
                    for k, cols in out["channels"].items()
                ]
            }
        return out

    @staticmethod
    def _params_from_json(params: dict) -> dict:
        """Inverse of :meth:`_params_to_json`."""
        out = params_from_json(params, tuples=("mask_rate",))
        if out.get("column_kinds") is not None:
            out["column_kinds"] = {decode_label(k): v for k, v in out["column_kinds"]}
        if isinstance(out.get("channels"), dict):
            groups = out["channels"]["groups"]
            out["channels"] = {
                decode_label(k): [decode_label(c) for c in cols] for k, cols in groups
            }
        return out

    def _get_state(self) -> tuple[dict, dict]:
        """``(meta, tensors)``: everything fit learned, for :mod:`aeimpute.persistence`."""
        blend_meta, blend_tensors = self.blend_.state()
        meta = {
            "params": self._params_to_json(self.get_params(deep=False)),
            "schema": [s.to_json() for s in self.schema_],
            "columns": [encode_label(c) for c in self.columns_],
            "input_kind": self.input_kind_,
            "scaler": self._scaler.to_json(),
            "model_config": self.model_config_,
            "n_models": len(self.networks_.models),
            "seed": self.seed_,
            "max_iter": self.max_iter_,
            "min_iter": self.min_iter_,
            "precision": self.precision_,
            "residual_scale": self.residual_scale_.tolist(),
            "linear": self.linear_,
            "trees": self.trees_,
            "blend": blend_meta,
            "history": self.history_,
            "expected_error": {
                "error": [None if np.isnan(e) else e for e in self.expected_error_["error"]],
                "cells": list(self.expected_error_["cells"]),
            },
        }
        tensors = self.networks_.tensors()
        tensors.update({f"blend.{k}": v for k, v in blend_tensors.items()})
        return meta, tensors

    def _set_state(self, meta: dict, tensors: dict, device: Any) -> None:
        """Restore what :meth:`_get_state` gave, the networks on ``device``."""
        from aeimpute.blend import Blend
        from aeimpute.network import Networks
        from aeimpute.persistence import prefixed

        self.schema_ = [ColumnSpec.from_json(s) for s in meta["schema"]]
        self._layout = Layout(self.schema_)
        self._scaler = ObservedScaler.from_json(meta["scaler"])
        self._remember_input([decode_label(c) for c in meta["columns"]], meta["input_kind"])
        self.model_config_ = dict(meta["model_config"])
        self._set_channels(self.columns_)
        self.seed_ = int(meta["seed"])
        self.max_iter_ = int(meta["max_iter"])
        self.min_iter_ = int(meta["min_iter"])
        self.precision_ = str(meta["precision"])
        self.residual_scale_ = np.asarray(meta["residual_scale"], dtype=np.float64)
        self.linear_ = bool(meta["linear"])
        self.trees_ = bool(meta["trees"])
        self.history_ = meta["history"]
        saved = meta["expected_error"]
        self.expected_error_ = {
            "error": [float("nan") if e is None else float(e) for e in saved["error"]],
            "cells": [int(c) for c in saved["cells"]],
        }
        self.device_ = str(device)
        layout = self._layout
        self.networks_ = Networks.from_tensors(
            tensors, int(meta["n_models"]), self.model_config_, layout.heads(),
            layout.feature_of_encoded(), device, self.precision_,
        )  # fmt: skip
        self.blend_ = Blend.from_state(
            meta["blend"], prefixed(tensors, "blend"), layout.numeric_encoded(),
            layout.feature_of_encoded(),
        )  # fmt: skip

    # ------------------------------------------------------------ blend attributes
    def _blend_weight(self, name: str) -> float:
        self._check_fitted()
        return self.blend_[name].weight if name in self.blend_ else 0.0

    @property
    def n_neighbors_(self) -> int:
        """Neighbours used by the blend (0: none)."""
        self._check_fitted()
        return self.blend_["neighbors"].k if "neighbors" in self.blend_ else 0

    @property
    def neighbor_weight_(self) -> float:
        """Blend weight of the neighbours' estimate in numeric cells."""
        return self._blend_weight("neighbors")

    @property
    def linear_weight_(self) -> float:
        """Blend weight of the ridge regressions' estimate in numeric cells."""
        return self._blend_weight("linear")

    @property
    def tree_weight_(self) -> float:
        """Blend weight of the boosted trees' estimate in numeric cells."""
        return self._blend_weight("trees")

    @property
    def tree_class_weight_(self) -> float:
        """Blend weight of the tree classifiers' probabilities in binary/categorical cells."""
        return self._blend_weight("class_trees")

    @property
    def tree_class_temperature_(self) -> float:
        """Divisor of the tree classifiers' raw scores (1.0 without classifiers)."""
        self._check_fitted()
        return self.blend_["class_trees"].temperature if "class_trees" in self.blend_ else 1.0

    # ------------------------------------------------------------ helpers
    @property
    def n_iter_(self) -> int:
        """Optimisation steps run (the most of any network of the ensemble)."""
        self._check_fitted()
        return max(int(h["steps"]) for h in self.history_)

    @property
    def _n_threads(self) -> int:
        """Threads for ``n_jobs`` (see :func:`aeimpute.runtime.n_threads`)."""
        return runtime.n_threads(self._resolved_params(warn=False)["n_jobs"])

    @property
    def temporal_(self) -> bool:
        self._check_fitted()
        return self.model_config_.get("kind") == "temporal"

    def _set_channels(self, columns: Any) -> None:
        """Resolve ``channels`` against the fitted columns (also used by ``load``)."""
        from aeimpute.channels import channel_codes, resolve_channels

        self.channels_ = resolve_channels(columns, self.channels)
        codes = channel_codes(columns, self.channels_)
        modelled = codes[self._layout.modelled]
        _, self.channel_of_feature_ = np.unique(modelled, return_inverse=True)

    @property
    def channel_masking_(self) -> bool:
        """Whether training hides whole channels (some channel has several columns)."""
        return any(len(cols) > 1 for _, cols in self.channels_)

    def _prepare(self, X: Any) -> tuple[pd.DataFrame, str, list | None]:
        df, kind, order = super()._prepare(X)
        if self.temporal_:
            _check_time_order(df)
        return df, kind, order

    def _encode(
        self, df: pd.DataFrame, warn: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        values, observed = encode(df, self._layout)
        # cells to fill: the missing ones (categories unseen in fit are unobserved but kept)
        na = ~observed
        for f, i in enumerate(self._layout.modelled):
            if self._layout.specs[i].kind in ("binary", "categorical"):
                na[:, f] = df.iloc[:, i].isna().to_numpy()
        empty = ~observed.any(axis=1)
        if warn and empty.any() and not self.temporal_:  # temporal: filled from neighbours
            warnings.warn(
                f"{int(empty.sum())} row(s) have no observed value; they are filled from "
                "what the model learned about typical rows",
                UserWarning,
                stacklevel=3,
            )
        z = self._scaler.transform(values, missing=0.0, copy=False)  # values: ours, unused after
        return z, observed, na


#: fewest rows in each half of the table when :meth:`Imputer.sample` cross-fits predictions
MIN_FOLD_ROWS = 20

#: rows :meth:`Imputer.transform` fills at a time (a multiple of the networks' batch of 8192 rows,
#: so that blocks give the same values as one call)
PREDICT_ROWS = 65_536

#: ``max_iter="auto"``: passes over the training rows, and the range of steps allowed. The
#: floor was 1000 until a run of the three small benchmark tables (4 settings x 3 seeds, same
#: masks) gave 600 steps 0.990-1.004x the RMSE of 1000 in 0.6-0.8x the time
#: (benchmarks/results/steps_small_tables.md)
AUTO_EPOCHS = 600
AUTO_STEPS = (600, 3000)
#: steps of the temporal model under ``max_iter="auto"``
TEMPORAL_STEPS = 1000
#: with ``max_iter="auto"``, training does not stop early before its last this many steps
#: (early in a long schedule the learning rate is high and the validation error noisy)
EARLY_STOP_TAIL = 1000


def auto_steps(n_rows: int, batch_size: int, temporal: bool = False) -> int:
    """Training steps for ``max_iter="auto"``.

    Examples
    --------
    >>> auto_steps(500, 512), auto_steps(1797, 512), auto_steps(20_000, 512)
    (600, 2106, 3000)
    """
    if temporal:
        return TEMPORAL_STEPS
    low, high = AUTO_STEPS
    batch = max(1, min(batch_size, n_rows))
    return int(min(high, max(low, round(AUTO_EPOCHS * n_rows / batch))))


def _check_time_order(df: pd.DataFrame) -> None:
    if isinstance(df.index, pd.DatetimeIndex) and not df.index.is_monotonic_increasing:
        raise ValueError(
            "the rows are used as a time series (temporal context) but the DatetimeIndex is "
            "not sorted increasing; sort the frame by time (df.sort_index()) first"
        )


def _use_temporal(option: str | bool, df: pd.DataFrame) -> bool:
    """Resolve ``temporal="auto"``: on for a monotonic increasing DatetimeIndex."""
    if option == "auto":
        index = df.index
        return (
            isinstance(index, pd.DatetimeIndex)
            and len(index) > 1
            and index.is_monotonic_increasing
            and not index.hasnans
        )
    if option:
        _check_time_order(df)
    return bool(option)


def _check_row_wise_options(params: dict) -> None:
    """With temporal context: refuse the blend's options set on, warn about ignored ones."""
    for name, off in (("neighbors", ("auto", 0)), ("linear", ("auto", False)),
                      ("trees", ("auto", False))):  # fmt: skip
        if params[name] not in off:
            raise ValueError(
                f"{name}={params[name]!r} applies to the row-wise model, but this table is "
                "modelled with temporal context (the neighbouring rows in time are its "
                f"context); pass {name}='auto', or temporal=False"
            )
    ignored = [
        f"{name}={params[name]!r}"
        for name, default in (("latent_dim", None), ("n_blocks", 1), ("refine", 1))
        if params[name] != default
    ]
    if ignored:
        warnings.warn(
            f"{', '.join(ignored)} apply to the row-wise model and are ignored: this table "
            "is modelled with temporal context (pass temporal=False for the row-wise model)",
            UserWarning,
            stacklevel=3,
        )
