"""``t_clbk("progress")``: progress bars (terminal, notebook) or one line per epoch (logs)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

from torchweave.callbacks.callback_set import CallbackSet
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.errors import InvalidTypeError
from torchweave.params.param import p_int, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import callbacks
from torchweave.utils.text import format_value

__all__ = ["CallbackSetProgress"]


class CallbackSetProgress(CallbackSet):
    """Shows training progress: bars on a terminal or in a notebook, plain lines elsewhere.

    Where the progress goes depends on where the output ends up (decided when
    training starts; everything goes to ``sys.stderr`` as it is then):

    - in a Jupyter notebook (``tqdm.auto`` picks its widget), and on a terminal
      (``isatty()``) or with ``force=True``: a bar over epochs with an inner bar over
      the batches of the current epoch, which disappears when the epoch ends. The
      outer bar starts at the epochs already done when resuming and shows the last
      training loss and the latest training and validation scores;
    - anywhere else (a log file, CI, a pipe): one plain line per evaluated epoch
      (every ``eval_freq``-th epoch and the last one), e.g.
      ``Epoch 4/8: loss=0.21, valid.classif.acc=0.95 (0.12 s)``, so logs show
      progress without the control characters of a bar.

    Numbers are rounded to ``digits`` decimals. At the end, one line reports the
    total time, e.g. ``Finished training for 8 epochs in 1.23 s (0.50 s before this
    run, 0.73 s in it)``.

    Parameters
    ----------
    digits : int, default 2
        Decimals of the loss and the scores shown.
    force : bool, default False
        Draw bars even when stderr is not a terminal (instead of plain lines).

    State
    -----
    ``{"elapsed": seconds}``: the training time, summed over resumed runs.

    Examples
    --------
    >>> import torchweave as tw
    >>> cb = tw.t_clbk("progress", digits=3, force=True)
    >>> cb.generate().stages
    ['on_begin', 'on_epoch_begin', 'on_batch_end', 'on_epoch_end', 'on_end', 'on_exit']
    """

    def __init__(self, digits: int = 2, force: bool = False) -> None:
        super().__init__()
        self.digits = digits
        self.force = force
        self._previous = 0.0  # seconds of earlier (resumed) runs
        self._start: float | None = None
        self._run_time = 0.0
        self._mode = "lines"  # "bars" (terminal, forced), "widget" (notebook) or "lines"
        self._enabled = False
        self._bar: Any = None
        self._inner: Any = None
        self._epochs_before = 0
        self._train_scores: dict[str, float] = {}
        self._valid_scores: dict[str, float] = {}

    # --- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _stream() -> Any:
        return sys.stderr

    @staticmethod
    def _auto_tqdm() -> Any:
        """``tqdm.auto``'s class: the notebook widget inside Jupyter, else the text bar."""
        from tqdm.auto import tqdm

        return tqdm

    @classmethod
    def _in_notebook(cls) -> bool:
        """Whether ``tqdm.auto`` chose the notebook widget (its class is from tqdm.notebook)."""
        return any(c.__module__ == "tqdm.notebook" for c in cls._auto_tqdm().__mro__)

    def _new_bar(self, **kwargs: Any) -> Any:
        if self._mode == "widget":
            return self._auto_tqdm()(**kwargs)
        from tqdm.std import tqdm

        return tqdm(file=self._stream(), dynamic_ncols=True, **kwargs)

    def _elapsed_in_run(self) -> float:
        if self._start is None:
            return self._run_time
        return time.perf_counter() - self._start

    def _postfix(self) -> str:
        assert self.ctx is not None
        ctx, d = self.ctx, self.digits
        parts = []
        if ctx.last_loss is not None:
            parts.append(f"loss={ctx.last_loss:.{d}f}")
        for prefix, scores in (("train", self._train_scores), ("valid", self._valid_scores)):
            for mid, value in scores.items():
                parts.append(f"{prefix}.{mid}={value:.{d}f}")
        return ", ".join(parts)

    # --- stages -------------------------------------------------------------------------
    def on_begin(self) -> None:
        """Start the clock, choose bars or lines, and open the epoch bar."""
        assert self.ctx is not None
        stream = self._stream()
        isatty = getattr(stream, "isatty", None)
        if self._in_notebook():
            self._mode = "widget"
        elif bool(self.force) or bool(callable(isatty) and isatty()):
            self._mode = "bars"
        else:
            self._mode = "lines"
        self._enabled = True
        self._start = time.perf_counter()
        self._epochs_before = self.ctx.epoch
        self._train_scores = {}
        self._valid_scores = {}
        if self._mode != "lines":
            self._bar = self._new_bar(
                total=self.ctx.total_epochs,
                initial=self.ctx.epoch,
                desc="Training",
                unit="epoch",
            )

    def on_epoch_begin(self) -> None:
        """Open the batch bar of this epoch."""
        assert self.ctx is not None
        if self._mode == "lines":
            return
        self._inner = self._new_bar(
            total=len(self.ctx.loader_train),
            desc=f"Epoch {self.ctx.epoch}/{self.ctx.total_epochs}",
            unit="batch",
            leave=False,
        )

    def on_batch_end(self) -> None:
        """Advance the batch bar and show the last loss."""
        if self._inner is None:
            return
        assert self.ctx is not None
        self._inner.set_postfix_str(f"loss={self.ctx.last_loss:.{self.digits}f}", refresh=False)
        self._inner.update(1)

    def on_epoch_end(self) -> None:
        """Advance the epoch bar, or print the line of an evaluated epoch."""
        assert self.ctx is not None
        ctx = self.ctx
        if isinstance(ctx.last_scores_train, Mapping) and ctx.last_scores_train:
            self._train_scores = dict(ctx.last_scores_train)
        if isinstance(ctx.last_scores_valid, Mapping) and ctx.last_scores_valid:
            self._valid_scores = dict(ctx.last_scores_valid)
        if not self._enabled:
            return
        if self._mode == "lines":
            eval_freq = getattr(ctx, "eval_freq", 1)
            if ctx.epoch % eval_freq == 0 or ctx.epoch == ctx.total_epochs:
                postfix = self._postfix()
                print(
                    f"Epoch {ctx.epoch}/{ctx.total_epochs}"
                    + (f": {postfix}" if postfix else "")
                    + f" ({self._previous + self._elapsed_in_run():.2f} s)",
                    file=self._stream(),
                    flush=True,
                )
            return
        if self._inner is not None:
            self._inner.close()
            self._inner = None
        self._bar.set_postfix_str(self._postfix(), refresh=False)
        self._bar.update(1)

    def on_end(self) -> None:
        """Stop the clock and report the total time."""
        assert self.ctx is not None
        self._run_time = self._elapsed_in_run()
        self._start = None
        self._close()
        if self._enabled:
            total = self._previous + self._run_time
            detail = (
                f" ({self._previous:.2f} s before this run, {self._run_time:.2f} s in it)"
                if self._epochs_before > 0
                else ""
            )
            print(
                f"Finished training for {self.ctx.epoch} epochs in {total:.2f} s{detail}",
                file=self._stream(),
                flush=True,
            )

    def on_exit(self) -> None:
        """Close the bars, also when training failed."""
        if self._start is not None:
            self._run_time = self._elapsed_in_run()
            self._start = None
        self._close()

    def _close(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # --- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, float]:
        """``{"elapsed": seconds}`` of training, earlier resumed runs included."""
        return {"elapsed": float(self._previous + self._elapsed_in_run())}

    def load_state_dict(self, state_dict: Any) -> None:
        """Continue counting from the elapsed time of an earlier run."""
        if state_dict is None:
            self._previous = 0.0
            return
        elapsed = state_dict.get("elapsed") if isinstance(state_dict, Mapping) else None
        if isinstance(elapsed, bool) or not isinstance(elapsed, int | float):
            raise InvalidTypeError(
                "The state of the progress callback must be a dict {'elapsed': seconds}. "
                f"Got {format_value(state_dict)} instead."
            )
        self._previous = float(elapsed)


def _progress() -> TorchCallback:
    """Progress: bars over epochs and batches (or lines in logs), and the total time."""
    ps = ParamSet(
        digits=p_int(1, default=2, tags="train", description="decimals of the loss and scores"),
        force=p_lgl(
            default=False, tags="train", description="draw bars even when not writing to a terminal"
        ),
    )
    return TorchCallback(CallbackSetProgress, id="progress", param_set=ps, label="Progress")


_progress.__name__ = CallbackSetProgress.__name__
callbacks.register(
    "progress",
    _progress,
    description="Progress bars over epochs and batches, or one line per epoch in logs",
)
