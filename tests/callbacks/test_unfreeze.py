"""The unfreeze callback: frozen weights stay bit-identical until their rule unfreezes them."""

from types import SimpleNamespace

import pandas as pd
import pytest
import torch

import torchweave as tw
from tests.callbacks.helpers import iris_learner, mlp, snapshots
from torchweave.callbacks import select_all, select_grep, select_invert, select_name, select_none
from torchweave.errors import InvalidParameterError

FIRST = ["0.weight", "0.bias"]
LAST = ["2.weight", "2.bias"]


def same(a, b, names):
    return all(torch.equal(a[n], b[n]) for n in names)


def train(unfreeze, starting_weights=None, stage="on_epoch_end", epochs=3, **params):
    """Train the MLP with Adam and weight decay; return the initial weights and snapshots."""
    network = mlp()
    initial = {k: v.clone() for k, v in network.state_dict().items()}
    snap, log = snapshots(stage)
    cb = tw.t_clbk(
        "unfreeze",
        starting_weights=starting_weights or select_grep("^2[.]"),
        unfreeze=unfreeze,
    )
    learner = iris_learner(
        network,
        callbacks=[cb, snap],
        optimizer=tw.t_opt("adam", lr=0.05, weight_decay=0.1),
        epochs=epochs,
        **params,
    )
    learner.train(tw.tsk("iris"))
    return learner, initial, log


def test_weights_not_selected_stay_bit_identical():
    learner, initial, _ = train([])
    final = learner.model.network.state_dict()
    assert same(final, initial, FIRST)  # frozen: no gradient, so no weight decay either
    assert not any(same(final, initial, [n]) for n in LAST)
    params = dict(learner.model.network.named_parameters())
    assert [n for n, p in params.items() if p.requires_grad] == LAST
    assert learner.model.callbacks["unfreeze"] == {"trainable": LAST}


def test_epoch_rules_unfreeze_at_the_start_of_their_epoch():
    learner, initial, log = train(
        pd.DataFrame({"weights": [select_name("0.weight")], "epoch": [3]})
    )
    by_epoch = {epoch: state for epoch, _, state in log}
    assert same(by_epoch[1], initial, FIRST) and same(by_epoch[2], initial, FIRST)
    assert not same(by_epoch[3], by_epoch[2], ["0.weight"])
    assert same(by_epoch[3], initial, ["0.bias"])  # never unfrozen
    assert learner.model.callbacks["unfreeze"] == {"trainable": ["0.weight", *LAST]}


def test_batch_rules_unfreeze_before_their_global_step():
    rules = [{"weights": select_grep("^0[.]"), "batch": 5}]  # 3 batches per epoch
    _, initial, log = train(rules, stage="on_batch_end", epochs=2)
    assert [step for _, step, _ in log] == [1, 2, 3, 4, 5, 6]
    states = {step: state for _, step, state in log}
    assert all(same(states[s], initial, FIRST) for s in (1, 2, 3, 4))
    assert not same(states[5], states[4], ["0.weight"])
    assert not same(states[5], states[4], ["0.bias"])


def test_rules_at_zero_apply_from_the_start():
    learner, initial, _ = train([{"weights": select_all(), "epoch": 0}], epochs=1)
    assert not same(learner.model.network.state_dict(), initial, ["0.weight"])
    batch_rule = [{"weights": select_all(), "batch": 0}]
    learner, initial, _ = train(batch_rule, starting_weights=select_name("2.bias"), epochs=1)
    assert learner.model.callbacks["unfreeze"] == {"trainable": FIRST + LAST}


def test_a_resumed_run_restores_the_trainable_weights():
    cb = tw.t_clbk(
        "unfreeze",
        starting_weights=select_grep("^2"),
        unfreeze=[
            {"weights": select_name("0.bias"), "epoch": 2},
            {"weights": select_all(), "epoch": 5},
        ],
    ).generate()
    cb.load_state_dict({"trainable": ["0.weight", "2.weight", "2.bias"]})
    assert cb.state_dict() == {"trainable": ["0.weight", "2.weight", "2.bias"]}
    cb.ctx = SimpleNamespace(network=mlp(), epoch=3)  # resumed after 3 epochs
    cb.on_begin()
    # the epoch-2 rule is due again, and the loaded state adds 0.weight
    assert cb.state_dict() == {"trainable": FIRST + LAST}
    with pytest.raises(
        tw.InvalidTypeError, match=r"unfreeze callback must be a dict \{'trainable'"
    ):
        cb.load_state_dict({"trainable": "0.bias"})


def test_a_selector_that_selects_nothing_warns():
    rules = [{"weights": select_name("9.weight", assert_present=False), "epoch": 2}]
    with pytest.warns(
        UserWarning,
        match=r"The 'epoch' 2 selector select_name\(\['9.weight'\], assert_present=False\) of "
        r"callback 'unfreeze' selects none of the network's parameters",
    ):
        train(rules, epochs=2)
    with pytest.warns(UserWarning, match="starting_weights selector select_none()"):
        train([{"weights": select_invert(select_none()), "epoch": 0}], select_none(), epochs=1)


def test_select_name_with_a_missing_name_is_an_error():
    with pytest.raises(InvalidParameterError, match=r"select_name: the parameter\(s\) '1.weight'"):
        train([], starting_weights=select_name("1.weight"), epochs=1)


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ([{"weights": select_all(), "epoch": 1, "batch": 2}], "got the columns"),
        ([{"weights": select_all()}], "got the columns"),
        ([{"weights": select_all(), "epoch": -1}], "got the epoch values"),
        ([{"weights": select_all(), "epoch": 1.5}], "got the epoch values"),
        (
            [{"weights": select_all(), "batch": 2}, {"weights": select_none(), "batch": 2}],
            "are not unique",
        ),
        ([{"weights": "0.bias", "epoch": 1}], "a weights cell holds '0.bias'"),
        ("0.bias", "got str"),
    ],
)
def test_rules_are_checked_when_set(rules, problem):
    with pytest.raises(
        InvalidParameterError, match=rf"'unfreeze' parameter of callback 'unfreeze'.*{problem}"
    ):
        tw.t_clbk("unfreeze", unfreeze=rules)


def test_starting_weights_must_be_a_selector():
    with pytest.raises(
        InvalidParameterError, match="'starting_weights' parameter .* must be a Select"
    ):
        tw.t_clbk("unfreeze", starting_weights="^0")


def test_a_data_frame_and_an_empty_frame_work():
    frame = pd.DataFrame({"weights": [select_all()], "batch": [3]})
    cb = tw.t_clbk("unfreeze", starting_weights=select_all(), unfreeze=frame).generate()
    assert cb.unit == "batch"
    assert cb.stages == ["on_begin", "on_batch_begin"]
    empty = pd.DataFrame({"weights": [], "epoch": []})
    cb = tw.t_clbk("unfreeze", starting_weights=select_all(), unfreeze=empty).generate()
    assert cb.stages == ["on_begin", "on_epoch_begin"]
    assert tw.t_clbk("unfreeze", starting_weights=select_all(), unfreeze=[]).generate().stages == [
        "on_begin"
    ]
