"""The torch operators: ingress and layers. Importing this package registers them.

Every module of this package that :data:`torchweave.network._names.NAMES` lists is
imported here (importing an operator's module registers its key), and its listed names
are attributes of this package. Adding an operator means its file plus its names there.
"""

import sys

from torchweave._lazy import import_modules
from torchweave.network._names import NAMES

_OWN = {name: module for name, module in NAMES.items() if module.startswith(__name__ + ".")}
import_modules(_OWN.values())
globals().update({name: getattr(sys.modules[module], name) for name, module in _OWN.items()})

__all__ = sorted(_OWN)
