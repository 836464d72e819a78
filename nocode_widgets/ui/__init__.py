"""ipywidgets panels. They read widget values, call one core function, and render what comes back;
every callback re-checks the signed-in user in Python (widgets are not access control). Each panel
works alone in JupyterLab (`display(TrainPanel(ws, user))`) and inside the app shell."""

from .admin import AdminPanel
from .app import App
from .datasets import DatasetsPanel
from .login import LoginPanel
from .predict import TestPanel
from .results import ResultsPanel
from .train import TrainPanel

__all__ = ["AdminPanel", "App", "DatasetsPanel", "LoginPanel", "ResultsPanel", "TestPanel", "TrainPanel"]
