"""Built-in tasks (``tsk("iris")``, ``tsk("penguins")``, ...), registered in ``tw.registry.tasks``.

The loaders live in :mod:`torchweave.tasks.builtin`; use them through ``tsk(key)``.
"""

from torchweave.tasks import builtin  # noqa: F401  (importing it registers the tasks)

__all__: list[str] = []
