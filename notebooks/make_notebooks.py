"""Writes panels.ipynb and colab.ipynb (run it after changing a cell here; app.ipynb is one cell
and is kept by hand)."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}

PANELS = [
    new_markdown_cell("# nocode_widgets in JupyterLab\n\nEach panel of the app works on its own, and every step "
                      "is also a plain Python call. Run the cells from the top."),
    new_code_cell("from nocode_widgets import datasets\nfrom nocode_widgets.accounts import auth\nfrom nocode_widgets.workspace import Workspace\n\n"
                  "ws = Workspace.open()  # the data root: $NOCODE_DATA_DIR or the checkout's data/\n"
                  "import getpass, os\n"
                  "NAME = os.environ.get('NOCODE_USER', getpass.getuser())  # your account in the app\n"
                  "# The password is asked for (or read from $NOCODE_PASSWORD), never written here. On an empty\n"
                  "# store the first account becomes the administrator; `nocode user add` makes one too.\n"
                  "PASSWORD = os.environ.get('NOCODE_PASSWORD') or getpass.getpass(f'Password for {NAME}: ')\n"
                  "user = auth.find_user(ws, NAME) and auth.log_in(ws, NAME, PASSWORD) "
                  "or auth.sign_up(ws, NAME, PASSWORD)\ndel PASSWORD\nuser"),
    new_markdown_cell("## The panels, one by one"),
    new_code_cell("from nocode_widgets.ui import DatasetsPanel\nDatasetsPanel(ws, user)"),
    new_code_cell("from nocode_widgets.ui import TrainPanel\nTrainPanel(ws, user)"),
    new_code_cell("from nocode_widgets.ui import ResultsPanel\nResultsPanel(ws, user)"),
    new_code_cell("from nocode_widgets.ui import TestPanel\nTestPanel(ws, user)"),
    new_code_cell("from nocode_widgets.ui import ClassPanel\nClassPanel(ws, user)  # join a class; teachers set assignments"),
    new_markdown_cell("## The same steps through the Python API\n\nSet `ZIP` to a zip of class folders "
                      "(`cats/a.jpg`, `dogs/b.jpg`); with `None` a small demo set of coloured pictures is made."),
    new_code_cell("import io\nimport numpy as np\nfrom PIL import Image\nimport zipfile\n\nZIP = None\n\n"
                  "def demo_zip(per_class=20):\n"
                  "    out, rng = io.BytesIO(), np.random.default_rng(0)\n"
                  "    with zipfile.ZipFile(out, 'w') as z:\n"
                  "        for name, rgb in {'red': (220, 40, 40), 'green': (40, 200, 60), 'blue': (40, 60, 220)}.items():\n"
                  "            for i in range(per_class):\n"
                  "                pixels = np.clip(np.array(rgb) + rng.integers(-40, 40, (48, 64, 3)), 0, 255)\n"
                  "                picture = io.BytesIO()\n"
                  "                Image.fromarray(pixels.astype('uint8')).save(picture, 'JPEG')\n"
                  "                z.writestr(f'{name}/{i}.jpg', picture.getvalue())\n"
                  "    out.seek(0)\n    return out\n\n"
                  "existing = [d for d in datasets.list_datasets(ws, user) if d.name == 'demo colours']\n"
                  "if existing:\n    ds = existing[0]\nelse:\n"
                  "    report = datasets.import_archive(ws, user, ZIP or demo_zip(), name='demo colours')\n"
                  "    print(report.summary())\n    ds = datasets.get_dataset(ws, user, report.dataset_id)\n"
                  "ds.counts"),
    new_code_cell("from nocode_widgets.runs import jobs, plan\n\n"
                  "print(plan.plan(ws, user, ds.id).explanation)\n"
                  "run = jobs.submit(ws, user, ds.id, {'epochs': 5})  # {} leaves everything to Auto\n"
                  "for progress in jobs.follow(ws, user, run.id):\n"
                  "    print(progress.text)\n"
                  "run = jobs.get(ws, user, run.id)\nrun.status, run.metrics"),
    new_code_cell("from nocode_widgets.predict import open_predictor\nfrom nocode_widgets.runs import run_folder\n\n"
                  "predictor = open_predictor(run_folder(ws, run))\n"
                  "picture = io.BytesIO()\nImage.new('RGB', (64, 48), (210, 50, 50)).save(picture, 'JPEG')\n"
                  "prediction = predictor.predict([('new.jpg', picture.getvalue())])[0]\n"
                  "prediction.label, prediction.top(3)"),
]

# What Colab lacks of the dependencies in pyproject.toml (it has torch, torchvision, pillow, numpy,
# matplotlib, ipywidgets and ipykernel, and must keep its own; Voila and JupyterLab are not used there).
COLAB_DEPS = ["tinydb", "filelock", "argon2-cffi", "anywidget", "onnxruntime", "onnx"]

COLAB = [
    new_markdown_cell("# nocode_widgets on Google Colab\n\nTrain an image classifier without code. Run the "
                      "cells from the top; for speed choose *Runtime → Change runtime type → GPU*."),
    new_code_cell("# Optional: keep your datasets and models in Google Drive, and import folders from it.\n"
                  "USE_DRIVE = False\n\nimport os\n"
                  "if USE_DRIVE:\n    from google.colab import drive\n    drive.mount('/content/drive')\n"
                  "    os.environ['NOCODE_DATA_DIR'] = '/content/drive/MyDrive/nocode_data'\n"
                  "    os.environ['NOCODE_IMPORT_ROOTS'] = '/content/drive/MyDrive'\nelse:\n"
                  "    os.environ.setdefault('NOCODE_DATA_DIR', '/content/nocode_data')\n"
                  "# Uploads travel in 512 KB pieces, under Colab's message limit: big zips work here too.\n"
                  "os.environ.setdefault('NOCODE_MAX_UPLOAD_BYTES', str(200 << 20))"),
    new_code_cell("# Where the studio comes from: a git address, a wheel file (e.g. one you put in Drive,\n"
                  "# '/content/drive/MyDrive/nocode_widgets-0.1.0-py3-none-any.whl') or a package name.\n"
                  "SOURCE = 'git+https://github.com/nocode-widgets/nocode_widgets.git'\n\n"
                  "# Colab's own torch, torchvision and ipywidgets 7.7.1 stay as they are: only what they lack is added.\n"
                  "import os\n"
                  "if SOURCE.endswith('.whl') and not os.path.exists(SOURCE):\n"
                  "    raise SystemExit(f'No wheel at {SOURCE}: mount Drive in the cell above first, or correct SOURCE.')\n"
                  "%pip install -q " + " ".join(COLAB_DEPS) + "\n"
                  "%pip install -q --no-deps {SOURCE}\n"
                  "import nocode_widgets\nprint('nocode_widgets', nocode_widgets.__version__, 'installed')"),
    new_code_cell("import torch\nprint('GPU:', torch.cuda.get_device_name(0) if torch.cuda.is_available() "
                  "else 'none (training runs on the CPU, slower)')"),
    new_code_cell("from nocode_widgets.ui import App\napp = App()\napp"),
]


def write(name: str, cells) -> None:
    for number, cell in enumerate(cells):
        cell.id = f"cell-{number}"  # stable ids: rewriting a notebook changes only what changed
    nb = new_notebook(cells=cells, metadata={"kernelspec": KERNEL})
    nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    write("panels.ipynb", PANELS)
    write("colab.ipynb", COLAB)
