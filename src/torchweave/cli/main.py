"""The ``torchweave`` command line: train, predict, evaluate, resample, list, describe.

Built on click. Data comes from CSV or Parquet files; text columns become factors.
Models are written with :func:`torchweave.save` and read with
:func:`torchweave.load`; learners are declared in spec files (YAML or JSON, see
:func:`torchweave.learner_from_spec`). See docs/cli.md.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import pandas as pd

__all__ = ["cli", "main"]

_Command = TypeVar("_Command", bound=Callable[..., Any])

_REGISTRIES = ("learners", "pipeops", "measures", "tasks", "callbacks", "losses", "optimizers")


class _Failure(click.ClickException):
    """A torchweave error, shown as one message (exit status 1)."""


@contextmanager
def _errors() -> Iterator[None]:
    from torchweave.errors import Error

    try:
        yield
    except Error as exc:
        raise _Failure(str(exc)) from exc
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _Failure(f"{type(exc).__name__}: {exc}") from exc


def read_data(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; text columns become categorical (factors)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        data = pd.read_csv(path)
    elif suffix in (".parquet", ".pq"):
        data = pd.read_parquet(path)
    else:
        raise click.BadParameter(
            f"'{path}' must be a .csv or .parquet file.", param_hint="DATA / --data"
        )
    for col in data.columns:
        if pd.api.types.is_string_dtype(data[col]) or data[col].dtype == object:
            data[col] = data[col].astype("category")
    return data


def _task(data: pd.DataFrame, target: str, task_type: str, task_id: str) -> Any:
    import torchweave as tw

    if target not in data.columns:
        raise click.BadParameter(
            f"The data has no column '{target}'. Its columns: {', '.join(map(str, data.columns))}.",
            param_hint="--target",
        )
    if task_type == "classif":
        return tw.TaskClassif(data, target, id=task_id)
    return tw.TaskRegr(data, target, id=task_id)


def _measures(text: str | None, task_type: str) -> list[Any]:
    import torchweave as tw

    if not text:
        return [tw.msr("classif.acc" if task_type == "classif" else "regr.rmse")]
    return [tw.msr(key.strip()) for key in text.split(",") if key.strip()]


def _show_scores(scores: dict[str, float]) -> None:
    width = max(len(k) for k in scores) if scores else 0
    for key, value in scores.items():
        click.echo(f"  {key:<{width}}  {value:.6g}")


def _torch_learners(learner: Any) -> list[Any]:
    """The torch learners to train inside ``learner`` (itself, or its graph's model ops)."""
    from torchweave.training.learner_torch import torch_learners

    return torch_learners(learner)


def _predict_prob(learner: Any) -> None:
    """Predict probabilities (a graph learner passes this on to its trained learner)."""
    if "prob" not in learner.predict_types:
        raise click.BadParameter(f"Learner '{learner.id}' cannot predict probabilities.")
    learner.predict_type = "prob"


def _with_progress(learner: Any, show: bool) -> None:
    """Give the torch learners inside ``learner`` a progress bar over epochs."""
    if not show:
        return
    from torchweave.cli.progress import ProgressLoop

    for inner in _torch_learners(learner):
        inner.loop_class = ProgressLoop


def _spec_data_target(data_help: str) -> Callable[[_Command], _Command]:
    """The ``--spec``, ``--data`` and ``--target`` options of ``train`` and ``resample``."""
    existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
    spec = click.option(
        "--spec",
        "spec",
        required=True,
        type=existing_file,
        help="Learner spec (.yaml, .yml or .json).",
    )
    data = click.option("--data", "data_path", required=True, type=existing_file, help=data_help)
    target = click.option("--target", required=True, help="The target column.")

    def decorate(command: _Command) -> _Command:
        return spec(data(target(command)))

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="torchweave")
def cli() -> None:
    """torchweave: train, predict and evaluate learners declared in spec files."""


@cli.command()
@_spec_data_target("Training data (.csv or .parquet).")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to save the model (a directory, or a .zip file).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(spec: Path, data_path: Path, target: str, out: Path, quiet: bool) -> None:
    """Train the learner of a spec on a data file and save it."""
    import torchweave as tw

    with _errors():
        learner = tw.learner_from_spec(spec)
        data = read_data(data_path)
        task = _task(data, target, learner.task_type, data_path.stem)
        _with_progress(learner, not quiet)
        start = time.perf_counter()
        learner.train(task)
        elapsed = time.perf_counter() - start
        for inner in _torch_learners(learner):
            inner.loop_class = type(inner).loop_class
        path = tw.save(learner, out)
    state = learner.state
    click.echo(f"Trained {learner.id}")
    click.echo(f"  data      {data_path} ({task.nrow} rows, {len(task.feature_names)} features)")
    kind = "classification" if learner.task_type == "classif" else "regression"
    classes = f", {len(state.class_names)} classes" if state.class_names else ""
    click.echo(f"  target    {target} ({kind}{classes})")
    click.echo(f"  time      {elapsed:.2f} s")
    if learner.validate is not None:
        click.echo(f"  validate  {learner.validate}")
    if learner.internal_valid_scores:
        click.echo("  validation scores:")
        _show_scores(learner.internal_valid_scores)
    click.echo(f"Saved to {path}")


@cli.command()
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.argument(
    "data_path", metavar="DATA", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the predictions (.csv).",
)
@click.option("--prob", is_flag=True, help="Also write class probabilities (classification).")
def predict(model: Path, data_path: Path, output: Path, prob: bool) -> None:
    """Predict the rows of DATA with a saved MODEL."""
    import torchweave as tw

    with _errors():
        learner = tw.load(model)
        if prob:
            _predict_prob(learner)
        prediction = learner.predict_newdata(read_data(data_path))
        frame = prediction.as_data_frame().drop(columns=["truth"], errors="ignore")
        frame.to_csv(output, index=False)
    click.echo(f"Wrote {len(frame)} predictions to {output}")


@cli.command()
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.argument(
    "data_path", metavar="DATA", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--measures", help="Comma-separated measure keys (default: classif.acc / regr.rmse).")
def evaluate(model: Path, data_path: Path, measures: str | None) -> None:
    """Score a saved MODEL on DATA, which holds the target column."""
    import torchweave as tw

    with _errors():
        learner = tw.load(model)
        chosen = _measures(measures, learner.task_type)
        if any(getattr(m, "predict_type", "response") == "prob" for m in chosen):
            _predict_prob(learner)
        data = read_data(data_path)
        target = learner.state.train_task.target_names[0]
        if target not in data.columns:
            raise click.BadParameter(
                f"'{data_path}' has no target column '{target}' to score against.",
                param_hint="DATA",
            )
        scores = learner.predict_newdata(data).score(chosen)
    click.echo(f"Scores of {learner.id} on {data_path} ({len(data)} rows):")
    _show_scores(scores)


@cli.command()
@_spec_data_target("Data (.csv or .parquet).")
@click.option(
    "--resampling", default="cv", show_default=True, help="Resampling key (cv, holdout, ...)."
)
@click.option("--folds", type=click.IntRange(min=2), help="Folds (for cv).")
@click.option(
    "--ratio",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Training share (for holdout).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the split.")
@click.option("--measures", help="Comma-separated measure keys.")
def resample(
    spec: Path,
    data_path: Path,
    target: str,
    resampling: str,
    folds: int | None,
    ratio: float | None,
    seed: int,
    measures: str | None,
) -> None:
    """Resample the learner of a spec on a data file and print the scores."""
    import torchweave as tw

    with _errors():
        learner = tw.learner_from_spec(spec)
        task = _task(read_data(data_path), target, learner.task_type, data_path.stem)
        args: dict[str, Any] = {"random_state": seed}
        if folds is not None:
            args["folds"] = folds
        if ratio is not None:
            args["ratio"] = ratio
        strategy = tw.rsmp(resampling, **args)
        chosen = _measures(measures, learner.task_type)
        if any(getattr(m, "predict_type", "response") == "prob" for m in chosen):
            learner.predict_type = "prob"
        result = tw.resample(task, learner, strategy)
        scores = result.aggregate(chosen)
    click.echo(f"Resampled {learner.id} on {data_path} with {resampling}:")
    _show_scores(scores)


@cli.command(name="list")
@click.argument("kind", type=click.Choice(_REGISTRIES))
def list_(kind: str) -> None:
    """List the registered learners, pipeops, measures, tasks, callbacks, ..."""
    import torchweave as tw

    table = getattr(tw.registry, kind).table()
    width = max([len(k) for k in table["key"]] + [3])
    for key, description in zip(table["key"], table["description"], strict=True):
        click.echo(f"{key:<{width}}  {description}")


def _find(key: str) -> tuple[str, Any]:
    import torchweave as tw

    for name in _REGISTRIES:
        registry = getattr(tw.registry, name)
        if key in registry:
            return name, registry.get(key)
    from torchweave.utils.text import did_you_mean

    known = [k for name in _REGISTRIES for k in getattr(tw.registry, name)]
    raise click.BadParameter(
        f"'{key}' is not a registered key.{did_you_mean(key, known)} "
        "See `torchweave list learners` (or pipeops, measures, ...).",
        param_hint="KEY",
    )


@cli.command()
@click.argument("key")
def describe(key: str) -> None:
    """Show a registered object and its parameters (types, ranges, defaults)."""
    with _errors():
        kind, obj = _find(key)
    label = getattr(obj, "label", "") or ""
    click.echo(f"{key} ({kind[:-1] if kind != 'losses' else 'loss'}): {label}")
    doc = (type(obj).__doc__ or "").strip().splitlines()
    if doc:
        click.echo(f"  {doc[0]}")
    param_set = getattr(obj, "param_set", None)
    params = param_set.params if param_set is not None else {}
    if not params:
        click.echo("No parameters.")
        return
    click.echo("Parameters:")
    rows = [(pid, p.describe(), _default(p), ",".join(sorted(p.tags))) for pid, p in params.items()]
    widths = [
        max(len(r[i]) for r in [("id", "type / range", "default", "tags"), *rows]) for i in range(3)
    ]
    header = ("id", "type / range", "default", "tags")
    for row in [header, *rows]:
        click.echo(
            "  "
            + "  ".join(f"{c:<{w}}" for c, w in zip(row[:3], widths, strict=True))
            + f"  {row[3]}"
        )


def _default(param: Any) -> str:
    if param.has_init:
        return f"{param.init!r} (initial)"
    if param.has_default:
        return repr(param.default)
    return "-"


def main(argv: list[str] | None = None) -> None:
    """Run the command line (the ``torchweave`` entry point)."""
    cli.main(args=argv, prog_name="torchweave")


if __name__ == "__main__":
    main(sys.argv[1:])
