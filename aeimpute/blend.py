"""The blend: simpler estimates of hidden cells mixed with the network's, weights fitted on
held-back cells.

The autoencoder predicts a hidden cell from the row's observed cells through a
smooth function learned on the whole table. Simpler estimators often do
better on part of it: rows that sit in tight clusters (the letters of the UCI
letter table, the strokes of a handwritten digit) are well served by copying
what their nearest neighbours observed, as KNN and random-forest imputers do;
near-linear tables by a regression of each column on the others, as MICE
does; tables of thresholds and plateaus by trees, as MissForest does.

Each estimate is a *candidate* with a name and a fitted weight:

``"neighbors"`` (:class:`Neighbors`, :mod:`aeimpute.neighbors`)
    the inverse-distance weighted mean of what the ``k`` nearest rows of a
    reference table (training rows completed by the network) *observed*;
``"linear"`` (:class:`Linear`, :mod:`aeimpute.linear`)
    a ridge regression of each numeric column on all the others;
``"trees"`` (:class:`Trees`, :mod:`aeimpute.trees`)
    boosted regression trees of each numeric column on all the others;
``"class_trees"`` (:class:`ClassTrees`)
    boosted tree classifiers of the binary and categorical columns, whose
    probabilities are blended with the network's.

A numeric cell becomes ``net + sum(w_c * (candidate_c - net))`` over the
first three, a binary or categorical one ``net + w * (class_trees - net)``
(blending the neighbours' or the ridge's probabilities lowered the accuracy
on hidden categories). The weights are fitted (:func:`fit_weights`) on the
cells the first network held back for validation: the network fills the table
without them (:class:`HeldOut`), the candidates learn from rows where they
count as missing too, and the weights minimise the error on them.
:meth:`Blend.fit` fits every candidate and weight; a candidate that does not
earn its weight is dropped. Adding a candidate means a class here with
``fill`` (its estimates of the missing cells of a :class:`Query`), ``numbers`` (which cells it
fills) and ``state``, and one step in :meth:`Blend.fit`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from aeimpute import linear, neighbors, trees

#: the blend is used when the training table has at most this many rows (beyond it the
#: network has data enough, and the neighbour search would cost more than the network)
MAX_ROWS = 20_000
#: pseudo-cells pulling a fitted blend weight towards 0: on a few hundred held-back cells the
#: fitted weight is noisy, and the blend should earn its weight (diabetes: 442 rows, ~170 cells)
PRIOR_CELLS = 100
#: fewest held-back cells to fit the weight on
MIN_CELLS = 10
#: grid of the blend weights
WEIGHT_STEP = 0.05

#: an ``activate(raw) -> values`` function: raw network-style outputs (numbers, logits) of the
#: encoded columns to predictions (numbers, probabilities)
Activate = Callable[[np.ndarray], np.ndarray]


def fit_weights(
    net: np.ndarray, candidates: list[np.ndarray], truth: np.ndarray, cells: np.ndarray
) -> list[float]:
    """Blend weights of ``candidates`` against ``net``, on held-back ``cells``.

    The filled value is ``net + sum(w_i * (candidate_i - net))``; the weights
    (on a grid of ``WEIGHT_STEP``, each in [0, 1], summing to at most 1)
    minimise the squared error on ``cells`` plus a ridge towards 0 that
    weighs as much as ``PRIOR_CELLS`` cells of average gap between that
    candidate and the network. All 0 with fewer than ``MIN_CELLS`` cells.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.linspace(0, 1, 2000)[:, None]
    >>> net, better = truth + 0.2, truth + 0.01
    >>> cells = np.ones_like(truth, dtype=bool)
    >>> fit_weights(net, [better], truth, cells)  # the candidate takes over
    [1.0]
    >>> fit_weights(better, [net], truth, cells)  # a worse candidate gets nothing
    [0.0]
    """
    if cells.sum() < MIN_CELLS or not candidates:
        return [0.0] * len(candidates)
    resid = (truth - net)[cells]
    gaps = np.stack([(c - net)[cells] for c in candidates])  # (k, n_cells)
    gram = gaps @ gaps.T
    cross = gaps @ resid
    prior = PRIOR_CELLS * np.diag(gram) / resid.size
    grid = np.round(np.arange(0.0, 1.0 + 1e-9, WEIGHT_STEP), 10)
    best, best_w = np.inf, None
    for w in itertools.product(grid, repeat=len(candidates)):
        w = np.asarray(w)
        if w.sum() > 1.0 + 1e-9:
            continue
        loss = w @ gram @ w - 2.0 * w @ cross + prior @ w**2
        if loss < best - 1e-12:
            best, best_w = loss, w
    return [float(x) for x in best_w]


@dataclass
class HeldOut:
    """The table as the first network completes it without the held-back cells.

    The candidates are fitted on it and their weights on the ``held`` cells:
    ``z`` (scaled values), ``held`` and ``train_obs`` (per feature), ``net``
    (the network's activated output), ``filled`` (``z`` where ``train_obs``,
    ``net`` elsewhere), ``rows`` (the rows candidates learn from), ``foe``
    (feature of each encoded column) and ``numeric`` (which encoded columns
    are numbers).
    """

    z: np.ndarray
    held: np.ndarray
    train_obs: np.ndarray
    net: np.ndarray
    filled: np.ndarray
    rows: np.ndarray
    foe: np.ndarray
    numeric: np.ndarray

    def at_held(self, targets: np.ndarray) -> list[np.ndarray]:
        """Rows to estimate each of ``targets`` in: those holding back its column."""
        return [np.flatnonzero(self.held[:, self.foe[j]]) for j in targets]

    def weights(self, candidates: list[np.ndarray], cells: np.ndarray) -> list[float]:
        """Blend weights of ``candidates`` against the network on ``cells``."""
        return fit_weights(self.net, candidates, self.z, cells)


# ----------------------------------------------------------------------------- candidates
@dataclass
class Query:
    """What every candidate may need to estimate the missing cells of a completed table.

    ``filled`` (observed cells, the network's values elsewhere), ``missing``
    (per encoded column, which cells to estimate), ``foe``, ``numeric``,
    ``activate`` and ``n_threads``.
    """

    filled: np.ndarray
    missing: np.ndarray
    foe: np.ndarray
    numeric: np.ndarray
    activate: Activate
    n_threads: int = 1

    def rows(self, targets: np.ndarray) -> list[np.ndarray]:
        """The rows where each of ``targets`` is missing."""
        return [np.flatnonzero(self.missing[:, j]) for j in targets]


@dataclass
class Neighbors:
    """The neighbours' estimate: ``k`` nearest rows of ``reference`` that observed a cell."""

    name = "neighbors"
    #: the cells it fills: numbers (True) or binary/categorical probabilities (False)
    numbers = True
    k: int
    weight: float = 0.0
    reference: np.ndarray | None = None  # (rows, n_encoded) completed, scaled
    reference_observed: np.ndarray | None = None  # (rows, n_features)

    def estimate(self, filled, foe, n_threads, need=None, table=None):
        """Estimates of every cell of ``filled`` (NaN where no neighbour observed the column),
        from the reference (or from ``table = (values, observed)``)."""
        values, observed = table if table is not None else (
            self.reference, self.reference_observed
        )  # fmt: skip
        local, found = neighbors.estimate(
            filled, values, observed, foe, self.k, need=need, n_threads=n_threads
        )
        return np.where(found[:, foe], local, np.nan)

    def fill(self, q: Query) -> np.ndarray:
        """Estimates of the missing cells of ``q`` (NaN where it has none)."""
        need = q.missing.any(axis=1)  # rows with a missing cell
        return self.estimate(q.filled, q.foe, q.n_threads, need=need)

    def state(self) -> tuple[dict, dict]:
        meta = {"k": self.k, "weight": self.weight}
        return meta, {"values": self.reference, "observed": self.reference_observed}

    @classmethod
    def from_state(cls, meta: dict, tensors: dict) -> Neighbors:
        return cls(
            int(meta["k"]),
            float(meta["weight"]),
            np.asarray(tensors["values"]),
            np.asarray(tensors["observed"], dtype=bool),
        )


@dataclass
class Linear:
    """Ridge regressions of each numeric column on the others (:func:`aeimpute.linear.fit`)."""

    name = "linear"
    numbers = True
    weight: float = 0.0
    coef: np.ndarray | None = None
    intercept: np.ndarray | None = None

    def estimate(self, filled: np.ndarray) -> np.ndarray:
        return filled @ self.coef + self.intercept

    def fill(self, q: Query) -> np.ndarray:
        """Estimates of every cell of ``q``'s table."""
        return self.estimate(q.filled)

    def state(self) -> tuple[dict, dict]:
        return {"weight": self.weight}, {"coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_state(cls, meta: dict, tensors: dict) -> Linear:
        return cls(float(meta["weight"]), np.asarray(tensors["coef"]),
                   np.asarray(tensors["intercept"]))  # fmt: skip


@dataclass
class Trees:
    """Boosted regression trees of the numeric columns (a :class:`aeimpute.trees.Forest`)."""

    name = "trees"
    numbers = True
    forest: trees.Forest
    weight: float = 0.0

    def estimate(self, filled: np.ndarray, rows: list[np.ndarray]) -> np.ndarray:
        """The trees' values in ``rows`` of each target (NaN elsewhere)."""
        return trees.predict(self.forest, filled, rows)

    def fill(self, q: Query) -> np.ndarray:
        """The trees' values in the missing cells of their targets (NaN elsewhere)."""
        return q.activate(self.estimate(q.filled, q.rows(self.forest.targets)))

    def state(self) -> tuple[dict, dict]:
        return {"weight": self.weight}, self.forest.arrays()

    @classmethod
    def from_state(cls, meta: dict, tensors: dict) -> Trees:
        arrays = {k: np.asarray(t) for k, t in tensors.items()}
        return cls(trees.Forest.from_arrays(arrays), float(meta["weight"]))


@dataclass
class ClassTrees:
    """Boosted tree classifiers of the binary and categorical columns.

    Their raw scores are divided by ``temperature`` before they become
    probabilities (boosted probabilities are overconfident on small tables).
    """

    name = "class_trees"
    numbers = False
    forest: trees.Forest
    weight: float = 0.0
    temperature: float = 1.0

    def estimate(
        self, filled: np.ndarray, rows: list[np.ndarray], numeric: np.ndarray, activate: Activate
    ) -> np.ndarray:
        """The classifiers' probabilities in ``rows`` of each target (NaN elsewhere)."""
        raw = trees.predict(self.forest, filled, rows)
        raw[:, ~numeric] /= self.temperature
        return activate(raw)

    def fill(self, q: Query) -> np.ndarray:
        """The classifiers' probabilities in the missing cells of their targets (NaN elsewhere)."""
        return self.estimate(q.filled, q.rows(self.forest.targets), q.numeric, q.activate)

    def state(self) -> tuple[dict, dict]:
        meta = {"weight": self.weight, "temperature": self.temperature}
        return meta, self.forest.arrays()

    @classmethod
    def from_state(cls, meta: dict, tensors: dict) -> ClassTrees:
        arrays = {k: np.asarray(t) for k, t in tensors.items()}
        forest = trees.Forest.from_arrays(arrays)
        return cls(forest, float(meta["weight"]), float(meta["temperature"]))


_CANDIDATES = {c.name: c for c in (Neighbors, Linear, Trees, ClassTrees)}


# ----------------------------------------------------------------------------- the blend
@dataclass
class Blend:
    """The fitted candidates, each with its weight; empty: the network alone.

    Attributes
    ----------
    candidates : dict
        ``{name: candidate}`` of the kept candidates, in the order they are
        applied (``"neighbors"``, ``"linear"``, ``"trees"``, ``"class_trees"``).
    numeric : bool ndarray (n_encoded,)
        Which encoded columns are numbers (the others are probabilities).
    foe : int ndarray (n_encoded,)
        Feature of each encoded column.
    """

    numeric: np.ndarray
    foe: np.ndarray
    candidates: dict = field(default_factory=dict)

    @property
    def weights(self) -> dict[str, float]:
        """``{name: weight}`` of the kept candidates."""
        return {name: c.weight for name, c in self.candidates.items()}

    def __contains__(self, name: str) -> bool:
        return name in self.candidates

    def __getitem__(self, name: str):
        return self.candidates[name]

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(
        cls,
        held_out: HeldOut,
        heads: dict,
        *,
        k: int,
        use_linear: bool,
        use_trees: bool,
        reference: Callable[[], tuple[np.ndarray, np.ndarray]],
        activate: Activate,
        seeds: dict[str, int],
        n_threads: int = 1,
        on_column: Callable[[], None] | None = None,
    ) -> Blend:
        """Fit every candidate asked for and its weight on the held-back cells.

        Parameters
        ----------
        held_out : HeldOut
        heads : dict
            The layout's heads (``{"numeric": [...], "binary": [...],
            "categorical": [[...], ...]}``).
        k : int
            Neighbours per cell (0: no neighbour candidate).
        use_linear, use_trees : bool
            Whether to try the ridge and the trees (regression trees and
            classifiers).
        reference : callable
            Returns the reference table ``(completed rows, observed)``: the
            candidate rows completed by the full model, called only when the
            neighbours or the ridge keep a weight (they are refitted on it).
        activate : callable
            Raw scores to probabilities, as the network's heads do.
        seeds : dict
            ``{"trees", "screen", "class_trees", "class_screen"}`` seeds.
        n_threads : int
        on_column : callable, optional
            Called after each column's trees (progress reports).
        """
        h = held_out
        blend = cls(numeric=h.numeric, foe=h.foe)
        if not h.held.any():
            return blend
        numbers = bool(h.numeric.any()) and bool(k or use_linear or use_trees)
        if use_trees and not h.numeric.all():
            found = _fit_class_trees(h, heads, activate, seeds, n_threads, on_column)
            if found is not None:
                blend.candidates["class_trees"] = found
        if numbers:
            kept = _fit_numbers(h, k, use_linear, use_trees, reference, activate, seeds,
                                n_threads, on_column)  # fmt: skip
            # the order in which predict applies them: numeric candidates, then classifiers
            blend.candidates = {**kept, **blend.candidates}
        return blend

    # ------------------------------------------------------------------ predict
    def predict(
        self, z: np.ndarray, observed: np.ndarray, pred: np.ndarray, activate: Activate,
        n_threads: int = 1,
    ) -> np.ndarray:  # fmt: skip
        """Blended values in scaled units, from the network's ``pred`` (activated)."""
        if not self.candidates:
            return pred
        obs_enc = observed[:, self.foe]
        q = Query(neighbors.complete(z, pred, obs_enc), ~obs_enc, self.foe, self.numeric,
                  activate, n_threads)  # fmt: skip
        out = pred.copy()
        for cand in self.candidates.values():
            step = np.subtract(cand.fill(q), pred)  # NaN where the candidate has no estimate
            ok = q.missing & (self.numeric if cand.numbers else ~self.numeric)
            ok &= ~np.isnan(step)
            step *= cand.weight
            np.add(out, step, out=out, where=ok)
        return out

    # ------------------------------------------------------------------ state
    def state(self) -> tuple[dict, dict]:
        """``(meta, tensors)`` of the blend, tensors named ``candidate.array``."""
        meta = {"order": list(self.candidates), "candidates": {}}
        tensors = {}
        for name, cand in self.candidates.items():
            cmeta, ctensors = cand.state()
            meta["candidates"][name] = cmeta
            tensors.update({f"{name}.{k}": v for k, v in ctensors.items()})
        return meta, tensors

    @classmethod
    def from_state(cls, meta: dict, tensors: dict, numeric: np.ndarray, foe: np.ndarray) -> Blend:
        """Rebuild from :meth:`state` (tensors as numpy arrays or torch tensors)."""
        candidates = {}
        for name in meta["order"]:
            start = name + "."
            own = {
                k[len(start) :]: np.asarray(t) for k, t in tensors.items() if k.startswith(start)
            }
            candidates[name] = _CANDIDATES[name].from_state(meta["candidates"][name], own)
        return cls(numeric=numeric, foe=foe, candidates=candidates)


def _fit_numbers(
    h, k, use_linear, use_trees, reference, activate, seeds, n_threads, on_column=None
) -> dict:
    """The numeric candidates that earn a weight, fitted (see :meth:`Blend.fit`)."""
    found: dict = {}
    estimates = []
    if k:
        found["neighbors"] = Neighbors(k)
        table = (h.filled[h.rows], h.train_obs[h.rows])
        local = found["neighbors"].estimate(
            h.filled, h.foe, n_threads, need=h.held.any(axis=1), table=table
        )
        estimates.append(np.where(np.isnan(local), h.net, local))
    if use_linear:
        coef, intercept = linear.fit(h.filled[h.rows], h.train_obs[h.rows], h.foe, h.numeric,
                                     n_threads=n_threads)  # fmt: skip
        found["linear"] = Linear(coef=coef, intercept=intercept)
        estimates.append(np.where(h.numeric, found["linear"].estimate(h.filled), h.net))
    cells = h.held[:, h.foe] & h.numeric
    if use_trees:
        forest, boosted = _screen_trees(h, estimates, activate, seeds, n_threads, on_column)
        if forest is not None:
            found["trees"] = Trees(forest)
            estimates.append(boosted)
    weights = h.weights(estimates, cells)
    if k and weights[0] < neighbors.NEIGHBOR_MIN_WEIGHT:  # not worth the search: drop it
        del found["neighbors"]
        estimates.pop(0)
        weights = h.weights(estimates, cells)
    for cand, w in zip(found.values(), weights, strict=True):
        cand.weight = w
    kept = {name: c for name, c in found.items() if c.weight > 0}
    if "neighbors" in kept or "linear" in kept:  # refit on the rows the full model completes
        values, observed = reference()
        if "neighbors" in kept:
            kept["neighbors"].reference = values
            kept["neighbors"].reference_observed = observed
        if "linear" in kept:
            kept["linear"].coef, kept["linear"].intercept = linear.fit(
                values, observed, h.foe, h.numeric, n_threads
            )
    return kept


def _tree_values(h: HeldOut, values: np.ndarray) -> np.ndarray:
    """Tree estimates in the held-back cells of their targets, the network's elsewhere."""
    return np.where(np.isnan(values), h.net, values)


def _screen_trees(h, others, activate, seeds, n_threads, on_column=None) -> tuple:
    """Fit the tree candidate if it earns its cost: the forest and its estimate, or (None, None).

    Trees are fitted on at most ``trees.SCREEN_COLUMNS`` numeric columns first; the weights
    fitted on those columns' held-back cells (beside the ``others`` estimates) decide: under
    ``trees.MIN_WEIGHT`` the trees are dropped, else they are fitted on the other columns too.
    """
    enc = np.flatnonzero(h.numeric)
    screen = enc
    if len(enc) > trees.SCREEN_COLUMNS:
        rng = np.random.default_rng(seeds["screen"])
        screen = np.sort(rng.choice(enc, size=trees.SCREEN_COLUMNS, replace=False))
    first = np.zeros_like(h.numeric)
    first[screen] = True
    seed = seeds["trees"]
    fit_rows, fit_obs = h.filled[h.rows], h.train_obs[h.rows]

    def estimate(forest):
        return _tree_values(h, activate(trees.predict(forest, h.filled, h.at_held(forest.targets))))

    forest = trees.fit(fit_rows, fit_obs, h.foe, first, seed, n_threads, on_column)
    boosted = estimate(forest)
    if h.weights([*others, boosted], h.held[:, h.foe] & first)[-1] < trees.MIN_WEIGHT:
        return None, None
    if len(screen) < len(enc):
        rest = trees.fit(fit_rows, fit_obs, h.foe, h.numeric & ~first, seed, n_threads, on_column)
        forest = trees.join([forest, rest])
        boosted = estimate(forest)
    return forest, boosted


def _fit_class_trees(h, heads, activate, seeds, n_threads, on_column=None) -> ClassTrees | None:
    """Tree classifiers of the binary and categorical columns, if they earn a weight.

    Their weight and temperature (among ``trees.TEMPERATURES``) are fitted
    together on the held-back cells of those columns (squared error of the
    probabilities against the observed 0/1 values, the Brier score); under
    ``trees.MIN_WEIGHT`` they are dropped (None). With more than
    ``trees.CLASS_SCREEN_COLUMNS`` such columns, the classifiers are first
    fitted on that many of them (drawn with the seed) and fitted on the
    others only if they earn the weight there.
    """
    columns = [("binary", e) for e in heads["binary"]] + [
        ("categorical", g) for g in heads["categorical"] if 2 <= len(g) <= trees.MAX_CLASSES
    ]
    order = np.arange(len(columns))
    if len(columns) > trees.CLASS_SCREEN_COLUMNS:
        order = np.random.default_rng(seeds["class_screen"]).permutation(len(columns))
    parts = [order[: trees.CLASS_SCREEN_COLUMNS], order[trees.CLASS_SCREEN_COLUMNS :]]

    def fit(picked: np.ndarray) -> trees.Forest:
        chosen = [columns[i] for i in sorted(picked)]
        kinds = {kind: [c for k, c in chosen if k == kind] for kind in ("binary", "categorical")}
        return trees.fit_classes(
            h.filled[h.rows], h.train_obs[h.rows], h.foe, kinds, seeds["class_trees"], n_threads,
            on_column,
        )  # fmt: skip

    def weigh(cand: ClassTrees) -> None:
        """Fit the candidate's weight and temperature on the held-back cells."""
        cand.weight, cand.temperature = 0.0, 1.0
        if len(cand.forest.targets) == 0:
            return
        targets = np.zeros(len(h.foe), dtype=bool)
        targets[cand.forest.targets] = True
        cells = h.held[:, h.foe] & targets
        rows = h.at_held(cand.forest.targets)
        best, pair = np.inf, (0.0, 1.0)
        for temperature in trees.TEMPERATURES:
            cand.temperature = temperature
            probs = _tree_values(h, cand.estimate(h.filled, rows, h.numeric, activate))
            w = h.weights([probs], cells)[0]
            brier = float(np.sum((h.net + w * (probs - h.net) - h.z)[cells] ** 2))
            if brier < best - 1e-12:
                best, pair = brier, (w, temperature)
        cand.weight, cand.temperature = pair

    cand = ClassTrees(fit(parts[0]))
    weigh(cand)
    if cand.weight < trees.MIN_WEIGHT:
        return None
    if len(parts[1]):
        cand = ClassTrees(trees.join([cand.forest, fit(parts[1])]))
        weigh(cand)
    return cand if cand.weight > 0 else None
