"""Shared set-up of the built-in callback tests: the iris learners and a snapshot callback."""

import copy

import torchweave as tw
from tests.training.helpers import FEATURES, iris_learner, iris_with_valid, mlp


def snapshots(stage="on_epoch_end", id="snap"):
    """A callback (weight 10: after the others) copying the network's weights at ``stage``.

    Returns the descriptor and the list that receives ``(epoch, global_step, state_dict)``.
    """
    log = []

    def snap(self):
        state = copy.deepcopy(self.ctx.network.state_dict())
        log.append((self.ctx.epoch, self.ctx.global_step, state))

    cb = tw.torch_callback(id, weight=10, **{stage: snap})
    return cb, log


__all__ = ["FEATURES", "iris_learner", "iris_with_valid", "mlp", "snapshots"]
