"""score-vision: pretrained image encoders (MobileNet v2, Inception v3, EfficientNet-Lite0) as score plugins.

Importing this package is cheap; torch and torchvision load only when an encoder is built.
"""

from importlib import metadata

try:
    __version__ = metadata.version("score-vision")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
