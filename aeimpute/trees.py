"""Gradient-boosted trees: a third estimate of hidden cells beside the network.

One round of MissForest with the network's completion as the predictors: for
each numeric column, LightGBM's gradient-boosted trees (:class:`lightgbm.LGBMRegressor`)
learn the column from all the other columns of the completed table, on the rows
that observed it. Trees cut the table into regions where one column pins another down (a
pixel that is 0 whenever its neighbours are, a letter's box width given its
height), which a smooth network trained on squared error approximates
slowly. The blend (:func:`aeimpute.neighbors.fit_weights`) decides on held-back
cells how much of it to take. Binary and categorical columns get classifiers
(:func:`fit_classes`) whose raw scores become probabilities like the network's
logits do.

The fitted trees are read from LightGBM's public text form of a model
(``Booster.model_to_string``), kept as flat arrays (:class:`Forest`) and evaluated
by :func:`predict`, so a model file stores them as tensors, never pickles an
estimator, and needs no tree library to be applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

#: most rows each column's trees are fitted on (a random subset beyond), so the cost per
#: column stays bounded on large tables
T = TypeVar("T")

TREE_ROWS = 5000
#: boosting iterations (trees) per column
N_TREES = 100
#: histogram bins per predictor (LightGBM's default is 255): the split search scans every bin.
#: With scikit-learn's boosting, 64 bins fitted a digits column 1.8x faster than 255 at the same
#: accuracy (benchmarks/results/ablation.md); with LightGBM, 64 and 255 bins gave the same
#: held-out error on 10 digits columns (0.1016) in 0.89 s against 1.02 s
MAX_BINS = 64
#: leaves per tree and fewest rows per leaf (the defaults of scikit-learn's
#: HistGradientBoosting, which the trees were before LightGBM)
NUM_LEAVES = 31
MIN_LEAF_ROWS = 20
#: fewest rows that observed a column to fit its trees (fewer: the network alone fills it)
MIN_ROWS = 20
#: on a table with more numeric columns, trees are first fitted on this many of them (drawn at
#: random) and fitted on the others only if they earn a weight of ``MIN_WEIGHT`` there
SCREEN_COLUMNS = 16
#: smallest blend weight the trees keep (below it they are dropped: on a table where they do
#: not help, such as a smooth low-rank one, they would double the fitting time for nothing)
MIN_WEIGHT = 0.1
#: categorical columns with more categories than this are left to the network (a classifier
#: grows one tree per category and iteration)
MAX_CLASSES = 10
#: on a table with more binary and categorical columns, the classifiers are first fitted on
#: this many of them (drawn at random) and on the others only if they earn ``MIN_WEIGHT`` there
CLASS_SCREEN_COLUMNS = 4
#: divisors of the classifiers' raw scores tried on the held-back cells beside the blend weight
#: (boosted probabilities are overconfident on small tables; measured on the mixed tables of
#: benchmarks/categorical.py, 10 seeds: breast_cancer 0.818 -> 0.823, wine 0.423 -> 0.427)
TEMPERATURES = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
#: raw score of a category the classifier never saw (its probability is ~1e-13)
ABSENT_SCORE = -30.0
#: rows whose (rows x trees) node indices are walked at once in :func:`predict`
_BATCH_ROWS = 20_000

#: the arrays of a :class:`Forest`, in the order :meth:`Forest.arrays` returns them
FIELDS = (
    "feature",
    "threshold",
    "left",
    "right",
    "value",
    "roots",
    "column_start",
    "targets",
    "baseline",
    "depth",
)


@dataclass
class Forest:
    """Boosted trees of several columns, as flat arrays (values of numeric
    columns, raw scores of binary and categorical ones).

    Node ``i`` of any tree splits on column ``feature[i]`` of the completed
    table (``-1`` for a leaf): a row goes to ``left[i]`` when its value is at
    most ``threshold[i]``, else to ``right[i]``. The trees of target
    ``targets[t]`` start at ``roots[column_start[t]:column_start[t + 1]]``;
    its prediction is ``baseline[t]`` plus the sum of the leaf values it
    reaches, at most ``depth[t]`` levels down.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    column_start: np.ndarray
    targets: np.ndarray
    baseline: np.ndarray
    depth: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """``{name: array}`` of every field (what a model file stores)."""
        return {name: getattr(self, name) for name in FIELDS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Forest:
        """Rebuild from :meth:`arrays`."""
        missing = [name for name in FIELDS if name not in arrays]
        if missing:
            raise ValueError(f"tree arrays {missing} are missing")
        return cls(**{name: np.asarray(arrays[name]) for name in FIELDS})


def _booster_params(seed: int, n_threads: int) -> dict:
    """LightGBM settings of every tree model here (deterministic for a seed and thread count)."""
    return {
        "n_estimators": N_TREES,
        "learning_rate": 0.1,
        "num_leaves": NUM_LEAVES,
        "min_child_samples": MIN_LEAF_ROWS,
        "reg_lambda": 0.0,
        "max_bin": MAX_BINS,
        "n_jobs": n_threads,
        "random_state": seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
    }


def _lightgbm_trees(model) -> tuple[int, list[dict]]:
    """``(trees per iteration, [{field: values} of each tree])`` from a fitted LightGBM model's
    text form (``Booster.model_to_string``, its public serialisation)."""
    text = model.booster_.model_to_string()
    header, _, body = text.partition("\nTree=")
    per_iteration = 1
    for line in header.splitlines():
        if line.startswith("num_tree_per_iteration="):
            per_iteration = int(line.split("=", 1)[1])
    parsed = []
    for block in body.partition("end of trees")[0].split("\nTree="):
        index, _, rest = block.partition("\n")
        fields = dict(line.split("=", 1) for line in rest.splitlines() if "=" in line)
        parsed.append({**fields, "index": int(index)})
    return per_iteration, parsed


def _from_lightgbm(model, columns: np.ndarray, target: int, k: int = 0) -> Forest:
    """The trees of class ``k`` of a fitted LightGBM model (a regressor or binary classifier
    has one tree per iteration, a multiclass one a tree per class and iteration), read from
    its text form, with features renumbered to ``columns``. Leaf values include the learning
    rate and, in the first tree, the starting score, so the baseline is 0.

    In the text form a tree's internal nodes are numbered from 0 and a child ``c < 0`` is leaf
    ``~c``; here the internal nodes come first, then the leaves.
    """
    per_iteration, parsed = _lightgbm_trees(model)
    parts: list[list[np.ndarray]] = [[], [], [], [], []]
    roots, offset, depth = [], 0, 0
    for fields in parsed:
        if fields["index"] % per_iteration != k:
            continue
        leaf_value = np.asarray(fields["leaf_value"].split(), dtype=np.float64)
        n_leaves = len(leaf_value)
        if n_leaves == 1:  # no split: the tree is one leaf
            feature, threshold = np.zeros(0, np.int64), np.zeros(0)
            left = right = np.zeros(0, np.int64)
        else:
            decision = np.asarray(fields["decision_type"].split(), dtype=np.int64)
            if (decision & 1).any():
                raise RuntimeError("unexpected categorical split in a LightGBM tree")
            feature = np.asarray(fields["split_feature"].split(), dtype=np.int64)
            threshold = np.asarray(fields["threshold"].split(), dtype=np.float64)
            left = np.asarray(fields["left_child"].split(), dtype=np.int64)
            right = np.asarray(fields["right_child"].split(), dtype=np.int64)
        n_internal = len(feature)
        leaves = np.arange(n_internal, n_internal + n_leaves) + offset
        parts[0].append(np.concatenate([np.asarray(columns)[feature], np.full(n_leaves, -1)]))
        parts[1].append(np.concatenate([threshold, np.zeros(n_leaves)]))
        parts[2].append(np.concatenate([_node(left, n_internal) + offset, leaves]))
        parts[3].append(np.concatenate([_node(right, n_internal) + offset, leaves]))
        parts[4].append(np.concatenate([np.zeros(n_internal), leaf_value]))
        depth = max(depth, _depth(left, right))
        roots.append(offset)
        offset += n_internal + n_leaves

    def cat(chunks: list, dtype: type) -> np.ndarray:
        return np.concatenate(chunks).astype(dtype) if chunks else np.zeros(0, dtype)

    return Forest(
        feature=cat(parts[0], np.int32),
        threshold=cat(parts[1], np.float64),
        left=cat(parts[2], np.int64),
        right=cat(parts[3], np.int64),
        value=cat(parts[4], np.float64),
        roots=np.asarray(roots, dtype=np.int64),
        column_start=np.asarray([0, len(roots)], dtype=np.int64),
        targets=np.asarray([target], dtype=np.int64),
        baseline=np.zeros(1),
        depth=np.asarray([depth], dtype=np.int64),
    )


def _node(child: np.ndarray, n_internal: int) -> np.ndarray:
    """A tree's child numbers in the text form (``c < 0``: leaf ``~c``) -> its node numbers."""
    return np.where(child >= 0, child, n_internal + ~child)


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Levels from the root (internal node 0) to the deepest leaf (0 for a lone leaf)."""
    if len(left) == 0:
        return 0
    level = np.zeros(len(left), dtype=np.int64)
    deepest = 1
    for i in range(len(left)):  # a parent is numbered before its children
        for child in (left[i], right[i]):
            if child >= 0:
                level[child] = level[i] + 1
            else:
                deepest = max(deepest, int(level[i]) + 1)
    return deepest


def _constant(value: float, target: int) -> Forest:
    """A target with no tree: it is always ``value``."""
    return Forest(
        feature=np.zeros(0, np.int32),
        threshold=np.zeros(0),
        left=np.zeros(0, np.int64),
        right=np.zeros(0, np.int64),
        value=np.zeros(0),
        roots=np.zeros(0, np.int64),
        column_start=np.zeros(2, np.int64),
        targets=np.asarray([target], dtype=np.int64),
        baseline=np.asarray([value], dtype=np.float64),
        depth=np.zeros(1, np.int64),
    )


def join(pieces: list[Forest]) -> Forest:
    """One Forest holding the targets of all ``pieces`` (node indices shifted)."""
    if not pieces:  # no target: an empty forest
        empty = _constant(0.0, 0)
        return Forest(
            **{**empty.arrays(), "column_start": np.zeros(1, np.int64),
               "targets": np.zeros(0, np.int64), "baseline": np.zeros(0),
               "depth": np.zeros(0, np.int64)}
        )  # fmt: skip
    shift = np.cumsum([0] + [len(f.feature) for f in pieces[:-1]])
    firsts = np.cumsum([0] + [len(f.roots) for f in pieces])  # each piece's first root
    starts = np.concatenate(
        [f.column_start[:-1] + r for f, r in zip(pieces, firsts, strict=False)] + [firsts[-1:]]
    )
    return Forest(
        feature=np.concatenate([f.feature for f in pieces]),
        threshold=np.concatenate([f.threshold for f in pieces]),
        left=np.concatenate([f.left + s for f, s in zip(pieces, shift, strict=True)]),
        right=np.concatenate([f.right + s for f, s in zip(pieces, shift, strict=True)]),
        value=np.concatenate([f.value for f in pieces]),
        roots=np.concatenate([f.roots + s for f, s in zip(pieces, shift, strict=True)]),
        column_start=starts.astype(np.int64),
        targets=np.concatenate([f.targets for f in pieces]),
        baseline=np.concatenate([f.baseline for f in pieces]),
        depth=np.concatenate([f.depth for f in pieces]),
    )


def fit(
    filled: np.ndarray,
    observed: np.ndarray,
    feature_of_encoded: np.ndarray,
    targets: np.ndarray,
    seed: int,
    n_threads: int = 1,
    on_column: Callable[[], None] | None = None,
) -> Forest:
    """Fit boosted trees of each ``targets`` column on all the other columns.

    Parameters
    ----------
    filled : ndarray (n_rows, n_encoded)
        Completed table (observed cells and the network's predictions).
    observed : bool ndarray (n_rows, n_features)
        Which cells were observed; a column's trees learn from those rows
        only (at most ``TREE_ROWS`` of them, drawn at random).
    feature_of_encoded : int ndarray (n_encoded,)
    targets : bool ndarray (n_encoded,)
        Encoded columns to model (columns with fewer than ``MIN_ROWS``
        observed rows are left out).
    seed : int
        Seed of the row subsets and of the boosting (column ``j`` draws from
        ``(seed, j)``, so its trees do not depend on the other targets).
    n_threads : int, default=1
        OpenMP threads of the boosting.
    on_column : callable, optional
        Called after each target column (progress reports).

    Returns
    -------
    Forest

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((300, 3))
    >>> X[:, 2] = (X[:, 0] > 0.5).astype(float)  # a step no straight line draws
    >>> observed = np.ones((300, 3), dtype=bool)
    >>> forest = fit(X, observed, np.arange(3), np.array([False, False, True]), seed=0)
    >>> pred = predict(forest, X[:5], rows=[np.arange(5)])
    >>> bool(np.abs(pred[:, 2] - X[:5, 2]).max() < 0.05), forest.targets.tolist()
    (True, [2])
    """
    from lightgbm import LGBMRegressor

    X = np.asarray(filled, dtype=np.float64)
    foe = np.asarray(feature_of_encoded)
    pieces = []
    for j in _ticking(np.flatnonzero(targets), on_column):
        rng = np.random.default_rng([seed, int(j)])
        rows = _training_rows(observed[:, foe[j]], rng)
        if rows is None:
            continue
        y = X[rows, j]
        if np.ptp(y) == 0:
            pieces.append(_constant(float(y[0]), j))
            continue
        columns = np.flatnonzero(foe != foe[j])
        model = LGBMRegressor(**_booster_params(int(rng.integers(2**31 - 1)), n_threads))
        _boost(model, X, rows, columns, y, n_threads)
        piece = _from_lightgbm(model, columns, j)
        _check(piece, [j], model, X, rows, columns)
        pieces.append(piece)
    return join(pieces)


def _ticking(items: Iterable[T], on_item: Callable[[], None] | None) -> Iterator[T]:
    """``items``, calling ``on_item`` after the caller is done with each (``continue`` too)."""
    for item in items:
        yield item
        if on_item is not None:
            on_item()


def _training_rows(observed: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Rows that observed a column, at most ``TREE_ROWS`` (None: fewer than ``MIN_ROWS``)."""
    rows = np.flatnonzero(observed)
    if len(rows) < MIN_ROWS:
        return None
    if len(rows) > TREE_ROWS:
        rows = np.sort(rng.choice(rows, size=TREE_ROWS, replace=False))
    return rows


def _boost(model, X: np.ndarray, rows: np.ndarray, columns: np.ndarray, y, n_threads: int):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_threads):
        model.fit(X[np.ix_(rows, columns)], y)


def _check(piece: Forest, targets: list[int], model, X, rows, columns) -> None:
    """Fail loudly unless ``piece`` reproduces the model's own raw output."""
    check = rows[:50]
    ours = predict(piece, X[check], rows=[np.arange(len(check))])[:, targets]
    theirs = np.asarray(model.predict(X[np.ix_(check, columns)], raw_score=True))
    theirs = theirs.reshape(len(check), -1)
    if not np.allclose(ours, theirs, atol=1e-6):
        raise RuntimeError(
            "the trees read from LightGBM's model text do not reproduce its predictions "
            "(its text format may differ in this LightGBM version); pass trees=False to "
            "the Imputer"
        )


def fit_classes(
    filled: np.ndarray,
    observed: np.ndarray,
    feature_of_encoded: np.ndarray,
    heads: dict,
    seed: int,
    n_threads: int = 1,
    on_column: Callable[[], None] | None = None,
) -> Forest:
    """Fit boosted tree classifiers of each binary and categorical column on the others.

    The forest holds raw scores: for a binary column the log-odds of 1, for
    a categorical one a score per category (one target per encoded column;
    the categories' probabilities are the softmax of their scores, as for
    the network's logits). Categorical columns with more than
    ``MAX_CLASSES`` categories are left out.

    Parameters
    ----------
    filled : ndarray (n_rows, n_encoded)
        Completed table (one-hot columns hold observed categories and the
        network's probabilities elsewhere).
    observed : bool ndarray (n_rows, n_features)
    feature_of_encoded : int ndarray (n_encoded,)
    heads : dict
        ``{"binary": [enc], "categorical": [[enc, ...], ...]}`` (as from
        :meth:`aeimpute.schema.Layout.heads`).
    seed : int
        Column ``f`` draws from ``(seed, f)``.
    n_threads : int, default=1
        OpenMP threads of the boosting.
    on_column : callable, optional
        Called after each binary or categorical column (progress reports).

    Returns
    -------
    Forest

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random(400)
    >>> level = np.digitize(x, [0.3, 0.6])  # three categories cut from x
    >>> filled = np.column_stack([x, np.eye(3)[level]])
    >>> observed = np.ones((400, 2), dtype=bool)
    >>> forest = fit_classes(filled, observed, np.array([0, 1, 1, 1]),
    ...                      {"binary": [], "categorical": [[1, 2, 3]]}, seed=0)
    >>> scores = predict(forest, filled[:4], rows=[np.arange(4)])[:, 1:]
    >>> bool((scores.argmax(axis=1) == level[:4]).all()), forest.targets.tolist()
    (True, [1, 2, 3])
    """
    from lightgbm import LGBMClassifier

    X = np.asarray(filled, dtype=np.float64)
    foe = np.asarray(feature_of_encoded)
    groups = [[int(e)] for e in heads.get("binary", [])] + [
        [int(e) for e in g] for g in heads.get("categorical", []) if 2 <= len(g) <= MAX_CLASSES
    ]
    pieces = []
    for group in _ticking(groups, on_column):
        f = int(foe[group[0]])
        rng = np.random.default_rng([seed, f])
        rows = _training_rows(observed[:, f], rng)
        if rows is None:
            continue
        # the class of each row: 0/1 for a binary column, the hot position for a categorical one
        y = np.rint(X[rows, group[0]]) if len(group) == 1 else X[np.ix_(rows, group)].argmax(1)
        seen = np.unique(y).astype(int)
        if len(seen) == 1:  # one class observed: it is certain, the others impossible
            if len(group) == 1:
                pieces.append(_constant(-ABSENT_SCORE if seen[0] else ABSENT_SCORE, group[0]))
            else:
                pieces += [_constant(0.0 if c == seen[0] else ABSENT_SCORE, e)
                           for c, e in enumerate(group)]  # fmt: skip
            continue
        columns = np.flatnonzero(foe != f)
        model = LGBMClassifier(**_booster_params(int(rng.integers(2**31 - 1)), n_threads))
        _boost(model, X, rows, columns, y.astype(int), n_threads)
        if len(group) == 1:  # log-odds of class 1
            piece = _from_lightgbm(model, columns, group[0])
            _check(piece, group, model, X, rows, columns)
            pieces.append(piece)
            continue
        scored = [group[c] for c in seen]
        if len(seen) == 2:  # a binary classifier: the log-odds of the second class, 0 for the first
            own = [_constant(0.0, scored[0]), _from_lightgbm(model, columns, scored[1])]
            _check(own[1], scored[1:], model, X, rows, columns)
        else:
            own = [_from_lightgbm(model, columns, e, k) for k, e in enumerate(scored)]
            _check(join(own), scored, model, X, rows, columns)
        absent = [_constant(ABSENT_SCORE, e) for e in group if e not in scored]
        pieces += sorted(own + absent, key=lambda piece: int(piece.targets[0]))
    return join(pieces)


def predict(forest: Forest, filled: np.ndarray, rows: list[np.ndarray]) -> np.ndarray:
    """Tree predictions of the forest's targets, in the rows asked for.

    Parameters
    ----------
    forest : Forest
    filled : ndarray (n_rows, n_encoded)
        Completed table.
    rows : list of int ndarray
        ``rows[t]``: the rows to predict target ``forest.targets[t]`` in
        (where it is missing, say); one array for all targets when the list
        has a single entry.

    Returns
    -------
    ndarray (n_rows, n_encoded)
        The predictions at the rows asked for, NaN everywhere else (and in
        every column that is not a target).
    """
    out = np.full(filled.shape, np.nan)
    X = np.asarray(filled, dtype=np.float64)
    feature = np.maximum(forest.feature, 0)
    is_leaf = forest.feature < 0
    for t, j in enumerate(forest.targets):
        r_all = np.asarray(rows[t] if len(rows) > 1 else rows[0], dtype=np.int64)
        roots = forest.roots[forest.column_start[t] : forest.column_start[t + 1]]
        for start in range(0, len(r_all), _BATCH_ROWS):
            r = r_all[start : start + _BATCH_ROWS]
            if len(roots) == 0:
                out[r, j] = forest.baseline[t]
                continue
            node = np.broadcast_to(roots, (len(r), len(roots))).copy()
            for _ in range(int(forest.depth[t])):
                leaf = is_leaf[node]
                if leaf.all():
                    break
                go_left = X[r[:, None], feature[node]] <= forest.threshold[node]
                step = np.where(go_left, forest.left[node], forest.right[node])
                node = np.where(leaf, node, step)
            out[r, j] = forest.baseline[t] + forest.value[node].sum(axis=1)
    return out
