"""`warm_pool.warm_ahead`, the gate in front of starting the warm process when a Train panel shows: only with the
warm start on, not while a live warm process is marked, and at most once every AHEAD_EVERY_S per data folder, so
a page refreshing in a loop (or a warm process that cannot start) does not start a process each time. The real
start is `tests/training/test_warm_start.py`'s; here `start_warm` only counts, so the fast tier starts nothing."""

import os
import time

from nocode_widgets import warm_pool
from nocode_widgets.config import Settings


def test_warm_ahead_starts_once_a_while_only_with_the_warm_start_on_and_none_alive(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(warm_pool, "start_warm", lambda settings: started.append(settings.data_dir))
    on = Settings(data_dir=tmp_path / "on", warm_start=True)
    for _ in range(3):
        warm_pool.warm_ahead(on)
    assert started == [on.data_dir]  # the next calls fall within AHEAD_EVERY_S

    tried = on.data_dir / "slots" / "warm.ahead"
    past = time.time() - warm_pool.AHEAD_EVERY_S - 1
    os.utime(tried, (past, past))
    warm_pool.mark_pid(on.data_dir / "slots" / "warm.pid")  # a live warm process (this one, as far as the mark says)
    warm_pool.warm_ahead(on)
    assert len(started) == 1
    (on.data_dir / "slots" / "warm.pid").write_text('{"pid": 1, "start": "0"}')  # a mark of one long gone
    warm_pool.warm_ahead(on)
    assert len(started) == 2

    off = Settings(data_dir=tmp_path / "off", warm_start=False)
    warm_pool.warm_ahead(off)
    assert len(started) == 2 and not (off.data_dir / "slots").exists()
