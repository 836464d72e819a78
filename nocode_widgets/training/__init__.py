"""The torch side: what a run's worker and the helper processes execute. Page kernels never import it;
the run service (`runs/`) starts it as `python -m nocode_widgets.training.worker RUN_ID`,
`...training.estimate` and `...training.label_folds`.

`worker` (the run's process) -> `engine` (prepare -> fit and evaluate -> record) -> `fit` (the loop, early
stopping, devices), with `data` (split, picture cache, batches), `augment`, `losses`, `optimizers`;
`on_ray` fits in a Ray actor; `estimate` times a few steps; `label_folds` gives K-fold out-of-sample
probabilities for the label check; `warm` (with NOCODE_WARM_START) is the process that imported all this once
and forks run workers and warm helpers (`warm_pool`)."""
