"""A cap on page kernels. Voila starts one kernel per open page; `CappedKernelManager` (named in
voila.json) refuses a new one once `NOCODE_MAX_PAGES` are running, so the page opened beyond it
gets a plain "the server is full" answer (HTTP 503) instead of pushing the machine out of memory."""

from __future__ import annotations

import logging

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web

from .config import Settings

log = logging.getLogger("nocode_widgets.pages")
FULL = "The server is full right now. Please try again in a few minutes."


class CappedKernelManager(AsyncMappingKernelManager):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.max_pages = Settings.from_env().max_pages

    async def start_kernel(self, *args, kernel_id=None, **kwargs):
        if kernel_id is None and len(self.list_kernel_ids()) >= self.max_pages:
            log.warning("refused a page: %d page kernels are running (NOCODE_MAX_PAGES)", self.max_pages)
            raise web.HTTPError(503, reason=FULL, log_message=FULL)
        return await super().start_kernel(*args, kernel_id=kernel_id, **kwargs)
