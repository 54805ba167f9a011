"""Scaling out: joblib backends (Dask, Ray) for many fits, torch.distributed for one.

- :mod:`torchweave.distributed.parallel`: the package's one ``joblib.Parallel`` run
  (``resample``, ``benchmark``): large arguments sent once, thread caps, progress.
- :mod:`torchweave.distributed.threads`: thread caps inside workers.
- :mod:`torchweave.distributed.ddp`: data-parallel training of one torch learner
  (``tw.train_distributed``, also under ``torchrun``).

Importing this package imports neither torch nor the optional engines.
"""
