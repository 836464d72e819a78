import io

from nocode_widgets import datasets as D
from nocode_widgets.training.engine import execute_run
from nocode_widgets.runs.records import create_run
from tests.images import class_files, make_zip

TINY = {"image_size": 32, "epochs": 4, "batch_size": 8, "patience": 4}


def colour_dataset(ws, user, classes=("red", "green", "blue"), per_class=12, name="colours", size=(40, 30)):
    report = D.import_archive(ws, user, io.BytesIO(make_zip(class_files(classes, per_class, size=size))), name=name)
    return D.get_dataset(ws, user, report.dataset_id)


def train(ws, user, ds, **config):
    run = create_run(ws, user, ds, {**TINY, **config})
    return execute_run(ws, run.id)
