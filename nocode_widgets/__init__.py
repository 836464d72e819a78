"""nocode_widgets: a Jupyter-native, no-code studio for training image classifiers.

The core (settings, store, accounts, datasets, training, prediction) is importable and usable
without any UI; `nocode_widgets.ui` holds the ipywidgets panels that call it.
"""

__version__ = "0.1.0"
