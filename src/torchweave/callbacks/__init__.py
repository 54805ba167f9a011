"""Callbacks: the machinery and the built-in callbacks (``t_clbk(key)``).

Everything about callbacks is here: :class:`CallbackSet`, :class:`ContextTorch` and
``STAGES`` (:mod:`~torchweave.callbacks.callback_set`), the :class:`TorchCallback`
descriptor and :func:`torch_callback` (:mod:`~torchweave.callbacks.descriptor`),
early stopping, and one module per built-in callback (each registers its key in
``tw.registry.callbacks`` when imported; the registry imports them on first use).
Importing this package imports no torch: its names (listed in
:mod:`torchweave.callbacks._names`) load their module on first use.
"""

from torchweave._lazy import lazy_exports
from torchweave.callbacks._names import NAMES

__all__ = sorted(NAMES)
__getattr__, __dir__ = lazy_exports(__name__, NAMES)
