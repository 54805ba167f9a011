"""The ``torchweave`` command line, through subprocesses (and click's runner for errors)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from torchweave.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]

REGR_SPEC = """
learner:
  graph:
    - key: targettrafo
      params: {method: scale}
    - key: encode
      params: {method: one-hot}
    - scale
    - torch_ingress_num
    - key: nn_linear
      params: {out_features: 32}
    - nn_relu
    - nn_head
    - key: torch_loss
      args: {loss: mse}
    - key: torch_optimizer
      args: {optimizer: adam}
      params: {lr: 0.01}
    - key: torch_model_regr
      params:
        epochs: 2
        batch_size: 512
        seed: 1
        measures_valid: [{$measure: regr.rsq}]
  validate: 0.1
"""

CLASSIF_SPEC = """
learner:
  graph:
    - encode
    - scale
    - torch_ingress_num
    - key: nn_linear
      params: {out_features: 8}
    - nn_relu
    - nn_head
    - key: torch_loss
      args: {loss: cross_entropy}
    - key: torch_optimizer
      args: {optimizer: adam}
      params: {lr: 0.05}
    - key: torch_model_classif
      params: {epochs: 3, batch_size: 32, seed: 1}
"""


def diamonds(n: int = 53940, seed: int = 1) -> pd.DataFrame:
    """Data shaped like ggplot2's diamonds: numeric and categorical columns, a price."""
    rng = np.random.default_rng(seed)
    carat = (rng.gamma(2.0, 0.4, n) + 0.2).round(2)
    cuts = ["Fair", "Good", "Very Good", "Premium", "Ideal"]
    cut = rng.choice(cuts, n, p=[0.03, 0.09, 0.22, 0.26, 0.40])
    effect = dict(zip(cuts, [-0.2, -0.1, 0.0, 0.05, 0.1], strict=True))
    log_price = 8.2 + 1.7 * np.log(carat) + pd.Series(cut).map(effect).to_numpy()
    return pd.DataFrame(
        {
            "carat": carat,
            "cut": cut,
            "color": rng.choice(list("DEFGHIJ"), n),
            "clarity": rng.choice(["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"], n),
            "depth": rng.normal(61.7, 1.4, n).round(1),
            "table": rng.normal(57.5, 2.2, n).round(0),
            "x": (carat ** (1 / 3) * 6.4 + rng.normal(0, 0.05, n)).round(2),
            "price": np.exp(log_price + rng.normal(0, 0.15, n)).round(0),
        }
    )


def run(*args: str, module: str = "torchweave.cli.main") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    data = diamonds()
    data.to_csv(folder / "diamonds.csv", index=False)
    data.iloc[:200].drop(columns="price").to_parquet(folder / "new.parquet")
    (folder / "regr.yaml").write_text(REGR_SPEC)
    (folder / "classif.yaml").write_text(CLASSIF_SPEC)
    small = data.iloc[:400].assign(expensive=lambda d: np.where(d.price > 2500, "yes", "no"))
    small.drop(columns="price").to_csv(folder / "small.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def trained(files):
    result = run(
        "train",
        "--spec",
        str(files / "regr.yaml"),
        "--data",
        str(files / "diamonds.csv"),
        "--target",
        "price",
        "--out",
        str(files / "model"),
    )
    assert result.returncode == 0, result.stderr
    return files / "model", result


def test_train_shows_progress_and_a_summary(trained):
    model, result = trained
    assert (model / "model.json").is_file()
    assert "2/2" in result.stderr  # the progress bar over epochs
    assert "(53940 rows, 7 features)" in result.stdout
    assert "target    price (regression)" in result.stdout
    rsq = float(result.stdout.split("torch_model_regr.regr.rsq")[1].split()[0])
    assert rsq > 0.5
    assert f"Saved to {model}" in result.stdout


def test_predict_writes_a_csv(trained, files):
    model, _ = trained
    out = files / "pred.csv"
    result = run("predict", str(model), str(files / "new.parquet"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "Wrote 200 predictions" in result.stdout
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["row_ids", "response"] and len(pred) == 200
    assert np.isfinite(pred.response).all()


def test_evaluate_prints_the_scores(trained, files):
    model, _ = trained
    result = run(
        "evaluate", str(model), str(files / "diamonds.csv"), "--measures", "regr.rmse,regr.rsq"
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split() for line in result.stdout.splitlines()[1:])
    assert set(lines) == {"regr.rmse", "regr.rsq"}
    assert 0.5 < float(lines["regr.rsq"]) <= 1


def test_resample_and_python_dash_m_torchweave(files):
    result = run(
        "resample",
        "--spec",
        str(files / "classif.yaml"),
        "--data",
        str(files / "small.csv"),
        "--target",
        "expensive",
        "--folds",
        "2",
        "--measures",
        "classif.acc,classif.auc",
        module="torchweave",
    )
    assert result.returncode == 0, result.stderr
    assert "with cv:" in result.stdout
    acc = float(result.stdout.split("classif.acc")[1].split()[0])
    assert 0.7 < acc <= 1


def test_list_and_describe(files):
    listed = run("list", "losses")
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith("cross_entropy ") for line in listed.stdout.splitlines())
    described = run("describe", "nn_linear")
    assert described.returncode == 0, described.stderr
    assert "out_features  an integer >= 1" in described.stdout
    assert "bias          a bool           True" in described.stdout


def test_classification_with_probabilities_in_process(files, tmp_path):
    runner = CliRunner()
    model = tmp_path / "m.zip"
    args = ["--spec", str(files / "classif.yaml"), "--data", str(files / "small.csv")]
    result = runner.invoke(
        cli, ["train", *args, "--target", "expensive", "--out", str(model), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "(classification, 2 classes)" in result.output
    result = runner.invoke(
        cli, ["evaluate", str(model), str(files / "small.csv"), "--measures", "classif.auc"]
    )
    assert result.exit_code == 0, result.output
    assert 0.8 < float(result.output.split("classif.auc")[1].split()[0]) <= 1
    out = tmp_path / "p.csv"
    result = runner.invoke(
        cli, ["predict", str(model), str(files / "small.csv"), "-o", str(out), "--prob"]
    )
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(out).columns) == ["row_ids", "response", "prob.no", "prob.yes"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["train"], 2, "Missing option '--spec'"),
        (["list", "things"], 2, "'things' is not one of 'learners'"),
        (["describe", "nn_linaer"], 2, "Did you mean one of 'nn_linear'"),
        (["predict", "nowhere", "x.csv", "-o", "p.csv"], 2, "Path 'nowhere' does not exist"),
        (["frobnicate"], 2, "No such command 'frobnicate'"),
    ],
)
def test_wrong_arguments(args, code, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code
    assert message in result.output


def test_torchweave_errors_exit_with_one(files, tmp_path):
    runner = CliRunner()
    args = ["--spec", str(files / "classif.yaml"), "--data", str(files / "small.csv")]
    result = runner.invoke(cli, ["train", *args, "--target", "nope", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "The data has no column 'nope'" in result.output
    (tmp_path / "bad.yaml").write_text("learner: {key: classif.nope}")
    bad = ["--spec", str(tmp_path / "bad.yaml"), "--data", str(files / "small.csv")]
    result = runner.invoke(
        cli, ["train", *bad, "--target", "expensive", "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 1
    assert "Error: The spec file" in result.output and "classif.nope" in result.output
    result = runner.invoke(cli, ["evaluate", str(tmp_path), str(files / "small.csv")])
    assert result.exit_code == 1
    assert "lacks model.json, tensors.safetensors" in result.output
