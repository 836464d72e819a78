"""ipywidgets panels. They read widget values, call one core function, and render what comes back;
every callback re-checks the signed-in user in Python (widgets are not access control). Each panel
works alone in JupyterLab (`display(TrainPanel(ws, user))`) and inside the app shell.

Panels are imported on first use, so the login page does not wait for torch and matplotlib."""

from importlib import import_module

_PANELS = {"AdminPanel": "admin", "App": "app", "ClassPanel": "classroom", "DatasetsPanel": "datasets", "LoginPanel": "login",
           "ResultsPanel": "results", "TestPanel": "tester", "TrainPanel": "train"}
__all__ = sorted(_PANELS)


def __getattr__(name: str):
    if name in _PANELS:
        return getattr(import_module(f".{_PANELS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
