"""What a trained run writes stays inside its limits (issue: the server holds every limit): names typed by a
person never become paths or Markdown, heat maps count in the owner's space, helper processes are capped
machine-wide, and a run reserves its picture cache before writing it."""

import io

import mistune
import pytest

from nocode_widgets.accounts import auth
from nocode_widgets.models import zoo
from nocode_widgets import datasets as D
from nocode_widgets.export.bundle import make_bundle
from nocode_widgets.export.eject import notebook_for, write_notebook
from nocode_widgets.insight.explain import explain
from nocode_widgets.accounts.quota import QuotaError, usage
from nocode_widgets.slots import HelpersBusy, helper_slot
from nocode_widgets.store import Table
from nocode_widgets.runs import jobs
from nocode_widgets.runs.plan import estimate
from nocode_widgets.runs.records import create_run
from nocode_widgets.training.engine import execute_run
from nocode_widgets.workspace import Workspace
from tests.conftest import make_workspace
from tests.images import COLORS, make_zip, picture
from tests.training_helpers import TINY, colour_dataset, train

HOSTILE_DATASET = "../../[click](http://e.x) <img src=x>"
HOSTILE_CLASSES = ("[red](http://evil.example)", "![blue](http://track.example/p.png)")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A run trained on a dataset whose name and class names are what an attacker would type."""
    ws = make_workspace(tmp_path_factory.mktemp("hostile") / "data")
    alice = auth.sign_up(ws, "alice", "password-alice")
    files = {f"{label}/{i}.jpg": picture(color, size=(40, 30), seed=k * 100 + i)
             for k, (label, color) in enumerate(zip(HOSTILE_CLASSES, (COLORS["red"], COLORS["blue"])))
             for i in range(10)}
    report = D.import_archive(ws, alice, io.BytesIO(make_zip(files)), name=HOSTILE_DATASET)
    ds = D.get_dataset(ws, alice, report.dataset_id)
    return ws, alice, ds, train(ws, alice, ds)


def rendered(markdown: str) -> str:
    return mistune.html(markdown)


def test_names_in_the_model_card_and_readme_are_plain_text(hostile):
    ws, alice, ds, run = hostile
    assert run.status == "done"
    bundle = make_bundle(ws, alice, run.id)
    for name in ("model_card.md", "README.md"):
        html = rendered(bundle.files[name].decode())
        assert "<a " not in html and "<img" not in html, name
        assert "click" in html or "red" in html  # the names are there, as text
    assert "/" not in bundle.name and not bundle.name.startswith(".")


def test_the_notebooks_title_is_plain_text_and_its_file_stays_inside_out(hostile, tmp_path):
    ws, alice, ds, run = hostile
    title = notebook_for(ws, alice, run.id).cells[0].source
    assert "<a " not in rendered(title) and "<img" not in rendered(title)
    for name in ("../../outside", "/etc/cron.d/x", "a/b/c", "..", "Ünïcødé/猫", "x" * 400):
        ws.store.update(Table.RUNS, run.id, {"dataset_name": name})
        out = tmp_path / "out"
        path = write_notebook(ws, alice, run.id, out)
        assert path.parent == out and path.exists(), name
        assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [path.name], name
        path.unlink()


def test_heat_maps_are_refused_when_the_space_is_full(hostile):
    ws, alice, ds, run = hostile
    full = Workspace(ws.settings.with_changes(max_bytes_per_user=usage(ws, alice.id).used + 10_000), ws.store)
    before = usage(ws, alice.id).used
    with pytest.raises(QuotaError, match="is left"):
        explain(full, alice, run.id, [(f"p{k}.jpg", picture(seed=k)) for k in range(3)])
    assert usage(ws, alice.id).used == before  # nothing written


def test_helper_processes_are_capped_on_the_whole_machine(hostile):
    ws, alice, ds, run = hostile
    one = Workspace(ws.settings.with_changes(max_helper_processes=1), ws.store)
    with helper_slot(one, "someone-else"):  # another person's heat maps, say
        with pytest.raises(HelpersBusy, match="busy .* try again in a moment"):
            explain(one, alice, run.id, [("p.jpg", picture(seed=7))])
        with pytest.raises(HelpersBusy):
            estimate(one, alice, ds.id, {})
    two = Workspace(ws.settings.with_changes(max_helper_processes=2), ws.store)
    with helper_slot(two, alice.id):  # alice's label check in another tab: one helper a person
        with pytest.raises(HelpersBusy, match="One of yours .* still running"):
            explain(two, alice, run.id, [("p.jpg", picture(seed=7))])
    assert explain(one, alice, run.id, [("p.jpg", picture(seed=7))])[0].png  # free again


def test_a_run_whose_picture_cache_does_not_fit_fails_in_plain_words_and_writes_no_cache(tmp_path):
    ws = make_workspace(tmp_path / "data")
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = colour_dataset(ws, alice, per_class=8)
    room = zoo.model_bytes("small_cnn") + 100_000  # the model's files fit; a 64 px cache of 24 pictures (295 KB) not
    tight = make_workspace(tmp_path / "data", max_bytes_per_user=usage(ws, alice.id).used + room)
    run = execute_run(tight, create_run(tight, alice, ds, {**TINY, "image_size": 64}).id)
    assert run.status == "failed" and "is left" in run.error
    assert not list(ws.settings.user_dir(alice.id).rglob("*.npy"))
    assert jobs.get(ws, alice, run.id).status == "failed"
