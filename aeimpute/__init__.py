"""aeimpute: missing-value imputation with a denoising autoencoder.

The public API is :class:`Imputer` for tables and :class:`KeypointImputer`
for pose-tracking keypoints. Heavy dependencies (torch) are imported
only when a model is fitted or loaded, so ``import aeimpute`` stays fast.
"""

from aeimpute._version import __version__
from aeimpute.imputer import Imputer
from aeimpute.keypoints import KeypointImputer

__all__ = ["Imputer", "KeypointImputer", "__version__"]
