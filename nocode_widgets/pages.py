"""A cap on page kernels. Voila starts one kernel per open page; `CappedKernelManager` (named in
voila.json) refuses a new one once `NOCODE_MAX_PAGES` are running, so the page opened beyond it
gets a plain "the server is full" answer (HTTP 503) instead of pushing the machine out of memory.
It also sweeps the temp folders of uploads whose page is gone, when the server starts and every few
minutes after."""

from __future__ import annotations

import logging

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import ioloop, web

from .config import Settings
from .datasets.uploads import sweep_uploads

SWEEP_EVERY_S = 300

log = logging.getLogger("nocode_widgets.pages")
FULL = "The server is full right now. Please try again in a few minutes."


class CappedKernelManager(AsyncMappingKernelManager):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        settings = Settings.from_env()
        self.max_pages, self.data_dir = settings.max_pages, settings.data_dir
        self._sweeper: ioloop.PeriodicCallback | None = None
        self.sweep()

    def sweep(self) -> None:
        removed = sweep_uploads(self.data_dir)
        if removed:
            log.info("removed %d upload folder(s) of closed pages", removed)

    async def start_kernel(self, *args, kernel_id=None, **kwargs):
        if self._sweeper is None:  # the server's loop runs by now
            self._sweeper = ioloop.PeriodicCallback(self.sweep, SWEEP_EVERY_S * 1000)
            self._sweeper.start()
        if kernel_id is None and len(self.list_kernel_ids()) >= self.max_pages:
            log.warning("refused a page: %d page kernels are running (NOCODE_MAX_PAGES)", self.max_pages)
            raise web.HTTPError(503, reason=FULL, log_message=FULL)
        return await super().start_kernel(*args, kernel_id=kernel_id, **kwargs)
