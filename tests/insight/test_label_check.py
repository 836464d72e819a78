"""Check my labels (issue 14, item 2): with 10% of the labels flipped on purpose, the out-of-sample ranking
finds them; the in-sample loss ranking (fastai's way) is measured beside it. Keep / Move / Delete act on
the dataset as a new version; limits and ownership."""

import io
import json
import subprocess

import numpy as np
import pytest

from nocode_widgets.accounts import auth
from nocode_widgets import datasets as D
from nocode_widgets.errors import NocodeError, NotFound
from nocode_widgets.insight.label_check import check_labels, keep, move, rank
from nocode_widgets.training.data import folds_of
from nocode_widgets.training.label_folds import out_of_sample
from tests.conftest import NOCODE, cli_env
from tests.images import COLORS, make_zip, picture

CLASSES = ("red", "green", "blue")


def flipped_dataset(ws, user, per_class=20, flip_every=10):
    """Three colours; every `flip_every`-th picture filed under the next colour. Returns (dataset, flipped originals)."""
    files, flipped = {}, set()
    for k, colour in enumerate(CLASSES):
        for i in range(per_class):
            folder = CLASSES[(k + 1) % 3] if i % flip_every == 0 else colour
            name = f"{colour}-{i}.jpg"
            files[f"{folder}/{name}"] = picture(COLORS[colour], size=(40, 30), seed=k * 1000 + i)
            if folder != colour:
                flipped.add(name)
    report = D.import_archive(ws, user, io.BytesIO(make_zip(files)), name="noisy")
    return D.get_dataset(ws, user, report.dataset_id), flipped


def originals(ws, user, ds, files) -> list[str]:
    by_file = {e.file: e.original.split("/")[-1] for e in D.read_manifest(D.dataset_folder(ws, ds))}
    return [by_file[f] for f in files]


def test_the_rank_flags_what_confident_learning_says():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9], [0.15, 0.85]])
    labels = np.array([0, 0, 1, 1, 0])  # the last one looks like class 1
    order, flagged, suggested, score = rank(probs, labels)
    assert order[0] == 4 and flagged.tolist() == [False, False, False, False, True] and suggested[4] == 1
    assert score[4] == pytest.approx(0.15)
    assert sorted(folds_of([0] * 9 + [1] * 6, 3).count(k) for k in range(3)) == [5, 5, 5]  # stratified folds


@pytest.mark.slow
def test_flipped_labels_are_found_out_of_sample_and_beside_the_in_sample_ranking(ws, alice, capsys):
    ds, flipped = flipped_dataset(ws, alice, per_class=15, flip_every=7)
    review = check_labels(ws, alice, ds.id, folds=3)
    top = originals(ws, alice, ds, [f.file for f in review.ranked[:len(flipped)]])
    found = len(flipped & set(top)) / len(flipped)
    in_sample = out_of_sample(ws, alice, ds.id, folds=1)
    order, *_ = rank(in_sample["probabilities"], in_sample["labels"])
    baseline = len(flipped & set(originals(ws, alice, ds, [in_sample["files"][i] for i in order[:len(flipped)]])))
    with capsys.disabled():
        print(f"\n{len(flipped)} flipped of 45: out-of-sample top-k holds {found:.0%}, in-sample loss top-k "
              f"{baseline / len(flipped):.0%}; {len(review.flagged)} flagged in {review.seconds:.0f} s")
    assert found >= 0.8
    flagged = originals(ws, alice, ds, [f.file for f in review.flagged])
    assert len(flipped & set(flagged)) >= 0.8 * len(flipped)
    first = review.ranked[0]
    assert first.suggested != first.given and first.score < 0.5
    assert check_labels(ws, alice, ds.id, folds=3).ranked == review.ranked  # this version's check is cached

    moved = {f.hash: f.suggested for f in review.flagged}
    after = move(ws, alice, ds.id, moves=moved)
    assert after.version == ds.version + 1 and after.image_count == ds.image_count  # nothing lost
    entries = {e.hash: e.label for e in D.read_manifest(D.dataset_folder(ws, after))}
    assert all(entries[h] == label for h, label in moved.items())
    keep(ws, alice, ds.id, [review.ranked[-1].hash])
    again = check_labels(ws, alice, ds.id, folds=3)  # a new version: checked afresh
    assert again.version == after.version and review.ranked[-1].hash not in {f.hash for f in again.ranked}
    assert len(again.flagged) < len(review.flagged)


def test_label_checks_are_the_owners_and_need_enough_pictures(ws, alice):
    bob = auth.sign_up(ws, "bob", "password-bob")
    ds, _ = flipped_dataset(ws, alice, per_class=4, flip_every=100)
    with pytest.raises(NotFound):
        check_labels(ws, bob, ds.id)
    with pytest.raises(NocodeError, match="needs at least two classes and 5 pictures in every class"):
        check_labels(ws, alice, ds.id, folds=5)
    with pytest.raises(NocodeError, match="3, 4 or 5 folds"):
        check_labels(ws, alice, ds.id, folds=9)
    with pytest.raises(NotFound):
        move(ws, bob, ds.id, {})
    with pytest.raises(NocodeError, match="no class called 'purple'"):
        move(ws, alice, ds.id, {"x": "purple"})


@pytest.mark.slow
def test_nocode_review_prints_the_ranked_list(ws, alice):
    ds, flipped = flipped_dataset(ws, alice, per_class=12, flip_every=6)
    env = cli_env(ws.settings.data_dir)
    out = subprocess.run([*NOCODE, "review", "--user", "alice", "--dataset", "noisy", "--folds", "3", "--json"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {"file", "given", "suggested", "score", "flagged"} <= set(rows[0])
    assert [r["score"] for r in rows] == sorted(r["score"] for r in rows)
    text = subprocess.run([*NOCODE, "review", "--user", "alice", "--dataset", "noisy", "--folds", "3"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert text.returncode == 0 and "probably mislabelled" in text.stdout and "->" in text.stdout


@pytest.mark.slow
def test_with_imagenet_weights_at_hand_the_folds_train_heads_on_features_computed_once(ws, alice, hub, capsys):
    import torch

    from nocode_widgets.models import zoo

    path = zoo.cached_weights_path("mobilenet_v3_large")
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(zoo.build_model("mobilenet_v3_large", 3, imagenet_head=True).state_dict(), path)  # ImageNet format
    ds, flipped = flipped_dataset(ws, alice, per_class=10, flip_every=10)
    result = out_of_sample(ws, alice, ds.id, folds=3)
    assert "reusing ImageNet features" in result["how"]
    probs = np.array(result["probabilities"])
    assert probs.shape == (30, 3) and np.allclose(probs.sum(1), 1, atol=1e-3)
    order, *_ = rank(probs, result["labels"])
    found = len(flipped & set(originals(ws, alice, ds, [result["files"][i] for i in order[:len(flipped)]])))
    with capsys.disabled():
        print(f"\nfast-mode folds (random 'ImageNet' weights): {found} of {len(flipped)} flipped in the top k, "
              f"{result['seconds']:.0f} s")
