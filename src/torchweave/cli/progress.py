"""A training loop with a progress bar over epochs, for the command line."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

from torchweave.training.loop import TrainLoop
from torchweave.training.model import TorchModel

__all__ = ["ProgressLoop"]


class ProgressLoop(TrainLoop):
    """:class:`~torchweave.training.loop.TrainLoop` with a bar over epochs on stderr."""

    def run(self) -> TorchModel:
        """Train as the base loop does, drawing the bar."""
        with tqdm(
            total=self.ctx.total_epochs,
            desc=f"Training {self.learner_id}",
            unit="epoch",
            file=sys.stderr,
            dynamic_ncols=True,
        ) as bar:
            self._bar = bar
            return super().run()

    def train_epoch(self) -> None:
        """One epoch, then one step of the bar."""
        super().train_epoch()
        self._bar.update(1)
