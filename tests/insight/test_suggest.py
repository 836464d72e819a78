"""Suggestions for the inbox from a trained run: scored in a helper process and cached per run and picture,
ordered most useful first (smallest margin, look-alikes spread) or surest first, and "accept the sure ones"
files exactly the pictures above the run's line."""

import numpy as np
import pytest

from nocode_widgets import datasets as D
from nocode_widgets.datasets.uploads import UploadedFile
from nocode_widgets.errors import NocodeError, NotFound
from nocode_widgets.files import read_json
from nocode_widgets.insight import suggest as S
from tests.images import picture
from tests.training_helpers import colour_dataset, train


@pytest.fixture(scope="module")
def two_colours(tmp_path_factory):
    from nocode_widgets.accounts import auth
    from tests.conftest import make_workspace

    ws = make_workspace(tmp_path_factory.mktemp("suggest") / "data")
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = colour_dataset(ws, alice, classes=("red", "blue"), per_class=14)
    return ws, alice, ds, train(ws, alice, ds)


def half_and_half(seed=0, size=(40, 30)) -> bytes:
    """Left half red, right half blue: the planted picture the model cannot decide on."""
    import io

    from PIL import Image

    rng = np.random.default_rng(seed)
    arr = np.zeros((size[1], size[0], 3), np.int16)
    arr[:, : size[0] // 2] = (220, 30, 30)
    arr[:, size[0] // 2:] = (30, 40, 220)
    arr = np.clip(arr + rng.integers(-20, 21, arr.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "JPEG", quality=95)
    return out.getvalue()


def fill_inbox(ws, user, ds, clear=4):
    files = [UploadedFile(f"red-{i}.jpg", picture((220, 30, 30), size=(40, 30), seed=3000 + i)) for i in range(clear)]
    files += [UploadedFile(f"blue-{i}.jpg", picture((30, 40, 220), size=(40, 30), seed=4000 + i)) for i in range(clear)]
    files.append(UploadedFile("ambiguous.jpg", half_and_half()))
    D.add_to_inbox(ws, user, ds.id, files)


def test_the_planted_ambiguous_picture_comes_first_when_useful_and_last_when_sure(two_colours):
    ws, alice, ds, run = two_colours
    fill_inbox(ws, alice, ds)
    useful = S.suggest(ws, alice, ds.id, run.id, "useful")
    assert useful.run_id == run.id and useful.scored_now == 9
    assert useful.pictures[0].original == "ambiguous.jpg"
    assert [p.rank for p in useful.pictures] == list(range(1, 10))
    clear = {p.original: p for p in useful.pictures if p.original != "ambiguous.jpg"}
    assert all(p.suggested == p.original.split("-")[0] for p in clear.values())  # the model is right on clear ones
    sure = S.suggest(ws, alice, ds.id, None, "sure")  # the newest finished run by default
    assert sure.pictures[-1].original == "ambiguous.jpg" and sure.scored_now == 0  # from the cache
    probabilities = [p.probability for p in sure.pictures]
    assert probabilities == sorted(probabilities, reverse=True)
    ambiguous = sure.pictures[-1]
    assert ambiguous.margin < min(p.margin for p in clear.values())
    assert not ambiguous.sure or ambiguous.probability >= sure.threshold
    cache = read_json(D.dataset_folder(ws, ds) / "suggestions" / f"{run.id}.json")
    assert set(cache["scores"]) == {p.id for p in useful.pictures}


def test_accept_sure_files_exactly_the_pictures_above_the_line(two_colours):
    ws, alice, ds, run = two_colours
    found = S.suggest(ws, alice, ds.id, run.id, "sure")
    above = {p.id: p.suggested for p in found.pictures if p.probability >= found.threshold and not p.unusual}
    assert above and len(above) < len(found.pictures)  # the ambiguous one stays
    before = D.get_dataset(ws, alice, ds.id)
    after, counts = S.accept_sure(ws, alice, ds.id, run.id)
    assert counts == {c: list(above.values()).count(c) for c in set(above.values())}
    assert after.version == before.version + 1 and after.inbox == before.inbox - len(above)
    filed = {e.hash[:12]: e.label for e in D.read_manifest(D.dataset_folder(ws, after))}
    assert {i: filed[i] for i in above} == above
    left = {p.id for p in D.inbox_pictures(ws, alice, ds.id)}
    assert left == {p.id for p in found.pictures} - set(above)
    again = S.suggest(ws, alice, ds.id, run.id, "useful")  # the filed ones left the cache too
    assert {p.id for p in again.pictures} == left and again.scored_now == 0


def test_look_alikes_do_not_fill_a_page():
    rng = np.random.default_rng(0)
    copies = np.tile(rng.normal(size=64), (5, 1)) + rng.normal(scale=0.01, size=(5, 64))  # one hard picture, 5 times
    others = rng.normal(size=(5, 64))
    signatures = np.vstack([copies, others])
    signatures /= np.linalg.norm(signatures, axis=1, keepdims=True)
    probs = np.array([[0.5, 0.5]] * 5 + [[0.6, 0.4], [0.7, 0.3], [0.8, 0.2], [0.9, 0.1], [0.95, 0.05]])
    order = S.useful_order(probs, signatures).tolist()
    assert order[:6] == [0, 5, 6, 7, 8, 9]  # one copy, then the other pictures by margin, then the other copies
    assert sorted(order[6:]) == [1, 2, 3, 4]
    assert S.useful_order(probs, np.zeros_like(signatures)).tolist()[:5] == [0, 1, 2, 3, 4]  # no signatures: margin only
    assert S.sure_order(probs).tolist()[0] == 9


def test_suggestions_need_a_run_of_the_dataset_and_are_the_owners_only(two_colours, tmp_path):
    from nocode_widgets.accounts import auth

    ws, alice, ds, run = two_colours
    bob = auth.find_user(ws, "bob") or auth.sign_up(ws, "bob", "password-bob")
    with pytest.raises(NotFound):
        S.suggest(ws, bob, ds.id, run.id)
    other = colour_dataset(ws, alice, classes=("red", "blue"), per_class=3, name="other")
    with pytest.raises(NocodeError, match="another dataset"):
        S.suggest(ws, alice, other.id, run.id)
    D.add_to_inbox(ws, alice, other.id, [UploadedFile("x.jpg", picture(seed=77))])
    plain = S.suggest(ws, alice, other.id)  # no run yet: newest first, nothing suggested
    assert plain.order == "newest" and plain.run_id == "" and [p.suggested for p in plain.pictures] == [""]
    with pytest.raises(NocodeError, match="Train a model"):
        S.accept_sure(ws, alice, other.id)


def test_train_again_compares_before_and_after_on_the_same_held_out_pictures(two_colours):
    from nocode_widgets.runs import retrain as R
    from nocode_widgets.runs.records import get_run

    ws, alice, ds, run = two_colours
    ds = D.get_dataset(ws, alice, ds.id)
    assert ds.version > run.dataset_version  # the accepted pictures made a new version
    queued = R.retrain(ws, alice, run.id)
    assert queued.follows == run.id and queued.config == run.config and queued.dataset_version == ds.version
    from nocode_widgets.runs import jobs

    for _ in jobs.follow(ws, alice, queued.id, interval=0.2, timeout=300):
        pass
    after = get_run(ws, alice, queued.id)
    assert after.status == "done", after.error
    compared = R.before_after(ws, alice, after)
    both = set(R.held_out(ws, run)) & set(R.held_out(ws, after))
    assert compared is not None and compared.pictures == len(both) > 0
    assert set(R.held_out(ws, run)) <= set(R.held_out(ws, after))  # the earlier held-out pictures stayed held out
    # recomputed by hand from both predictions.json files
    def accuracy(r):
        table = R.held_out(ws, r)
        return sum(table[f][0] == table[f][1] for f in both) / len(both)
    assert (compared.before_accuracy, compared.after_accuracy) == (accuracy(run), accuracy(after))
    assert "neither model trained on" in compared.text
    assert R.before_after(ws, alice, run) is None  # the first run follows nothing
    with pytest.raises(NotFound):
        from nocode_widgets.accounts import auth
        R.retrain(ws, auth.find_user(ws, "bob") or auth.sign_up(ws, "bob", "password-bob"), run.id)
