"""ipywidgets panels. They read widget values, call one core function, and render what comes back;
every callback re-checks the signed-in user in Python (widgets are not access control)."""

from .app import App
from .login import LoginPanel

__all__ = ["App", "LoginPanel"]
