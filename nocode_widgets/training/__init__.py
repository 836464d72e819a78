"""Training: data pipeline (split, tensor cache, sampler, augmentation), losses, the fit loop,
Auto settings, the run record and its artifacts, and the run service's workers."""
