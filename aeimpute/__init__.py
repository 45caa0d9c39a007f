"""aeimpute: missing-value imputation with a denoising autoencoder.

The public API is :class:`Imputer`. Heavy dependencies (torch) are imported
only when a model is fitted or loaded, so ``import aeimpute`` stays fast.
"""

from aeimpute._version import __version__
from aeimpute.imputer import Imputer

__all__ = ["Imputer", "__version__"]
