"""aeimpute: missing-value imputation with a denoising autoencoder.

The public API is :class:`Imputer` for tables (fused multi-channel and
time-ordered tables included), :class:`KeypointImputer` for pose-tracking
keypoints, and :func:`report` / :func:`missing_indicators` for per-channel
missingness. Heavy dependencies (torch) are imported
only when a model is fitted or loaded, so ``import aeimpute`` stays fast.
"""

from aeimpute._version import __version__
from aeimpute.channels import missing_indicators, report
from aeimpute.imputer import Imputer
from aeimpute.keypoints import KeypointImputer

__all__ = ["Imputer", "KeypointImputer", "__version__", "missing_indicators", "report"]
