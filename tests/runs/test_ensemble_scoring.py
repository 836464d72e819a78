"""The ensemble's scoring rule on members' recorded answers: only pictures none of them trained on count."""

import numpy as np
import pytest

from nocode_widgets.runs.ensemble import OUT_OF_FOLD, Member, is_bagging, parse_weights, score
from nocode_widgets.errors import TrainingError
from nocode_widgets.training.data import fold_split, folds_of
from nocode_widgets.runs.records import RunRecord


def member(files, labels, probs, weight=0.5, test=None, resolved=None):
    run = RunRecord("run_x", "u", "ds", "d", 1, {}, status="done", best_epoch=1, resolved=resolved or {})
    predictions = {"validation": {"files": files, "labels": labels, "probabilities": probs}}
    if test:
        predictions["test"] = test
    return Member(run, None, {"classes": ["a", "b"]}, predictions, weight)


def test_disjoint_validation_pictures_are_refused():
    one = member(["1", "2"], [0, 1], [[0.9, 0.1], [0.2, 0.8]])
    two = member(["3", "4"], [0, 1], [[0.9, 0.1], [0.2, 0.8]])
    with pytest.raises(TrainingError, match="no validation picture in common"):
        score([one, two])


def test_only_shared_pictures_with_the_same_label_count_and_the_vote_is_weighted():
    one = member(["1", "2", "3"], [0, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], weight=0.75)
    two = member(["2", "3", "4"], [1, 1, 0], [[0.4, 0.6], [0.0, 1.0], [0.5, 0.5]], weight=0.25)  # "3" relabelled
    (scored,), how = score([one, two])
    assert scored.files == ["2"] and scored.labels.tolist() == [1]
    assert np.allclose(scored.probabilities, [[0.75 * 0.2 + 0.25 * 0.4, 0.75 * 0.8 + 0.25 * 0.6]])
    assert "validated on different pictures" in how and "1 pictures all of them held out (of 3, 3)" in how


def test_a_bagging_is_scored_out_of_fold_on_every_picture():
    labels = [0] * 6 + [1] * 6
    k, members = 3, []
    for fold in range(k):
        split = fold_split(labels, k, fold, 0.2, seed=0)
        assert not set(split.test) & set(split.train + split.val) and len(split.train + split.val + split.test) == 12
        test = {"files": [str(i) for i in split.test], "labels": [labels[i] for i in split.test],
                "probabilities": [[0.8, 0.2] if labels[i] == 0 else [0.3, 0.7] for i in split.test]}
        members.append(member([str(i) for i in split.val], [labels[i] for i in split.val], [[0.5, 0.5]] * len(split.val),
                              weight=1 / k, test=test, resolved={"folds": k, "fold": fold, "seed": 0}))
    assert is_bagging(members) and not is_bagging(members[:2])
    (scored,), how = score(members)
    assert scored.part == OUT_OF_FOLD and sorted(scored.files, key=int) == [str(i) for i in range(12)]
    assert np.allclose(scored.probabilities[scored.labels == 0], [0.8, 0.2]) and "out of fold" in how


def test_each_picture_is_one_fold_members_test_picture():
    labels = [0] * 9 + [1] * 6
    assert folds_of(labels, 3) == folds_of(labels, 3)  # the same folds for every member
    tests = [i for fold in range(3) for i in fold_split(labels, 3, fold, 0.2, 0).test]
    assert sorted(tests) == list(range(15))


def test_weights_are_read_from_plain_text():
    assert parse_weights("2, 1,1") == [2.0, 1.0, 1.0] and parse_weights("  ") is None
    with pytest.raises(TrainingError, match="numbers separated by commas"):
        parse_weights("2,x")
