"""Datasets: named sets of pictures sorted into classes, owned by one user.

`catalog` keeps the store summary (name, classes, counts, version) and the access rules; `ingest`
turns uploads, zips and folders into validated images + a manifest; `inbox` keeps unsorted pictures until
they get a class; `copies` makes a class's frozen copy or a student's own copy; `stats` describes a dataset."""

from .ingest import IngestReport, Skipped, add_paths_to_inbox, add_to_inbox, add_uploads, import_archive, import_folder
from .inbox import InboxPicture, discard_pictures, file_pictures, inbox_pictures
from .manifest import ImageEntry, read_manifest
from .catalog import (Dataset, add_class, create_dataset, dataset_folder, delete_class, delete_dataset,
                      delete_images, find_dataset, get_dataset, get_own_dataset, get_trainable_dataset, list_datasets,
                      relabel_images, rename_class, rename_dataset, shared_datasets)
from .copies import copy_dataset
from .stats import DatasetStats, dataset_stats
from .thumbnails import thumbnail_bytes, thumbnail_of_upload

__all__ = [
    "Dataset", "DatasetStats", "ImageEntry", "InboxPicture", "IngestReport", "Skipped", "add_class",
    "add_paths_to_inbox", "add_to_inbox", "add_uploads", "discard_pictures", "file_pictures", "inbox_pictures",
    "create_dataset", "dataset_folder", "dataset_stats", "delete_class", "delete_dataset", "delete_images",
    "find_dataset", "get_dataset", "get_own_dataset", "import_archive", "import_folder", "list_datasets", "read_manifest",
    "relabel_images", "rename_class", "rename_dataset", "thumbnail_bytes", "thumbnail_of_upload", "copy_dataset",
    "get_trainable_dataset", "shared_datasets",
]
