"""`lumen-session --nested` under a private parent X server (Xvfb, GLES on llvmpipe for the window): the
compositor runs on the main thread (winit) and the Moonlight host on another; a desktop app shows in the
window, and a stock-client launch of a configured app still streams from a new virtual output beside it.
"""

from __future__ import annotations

import numpy as np

from test_compositor_nested import parent, rings, window_id, window_origin  # noqa: F401  (fixture)
from test_session import run_client, session_host  # noqa: F401  (fixture)
from waits import wait_until


def test_nested_session_shows_window_and_streams_a_new_output(parent, session_host, paired_client, tmp_path):
    # `parent` comes first so the X server outlives the session at teardown (winit panics on a lost display).
    host = session_host("--nested", "--nested-size", "800x600@60", "--desktop-app", "weston-simple-shm",
                        "--app", "weston-simple-shm", env={"DISPLAY": parent.display})
    wid = window_id(parent)

    def parent_shows_rings():
        ox, oy = window_origin(parent, wid)
        return rings(parent.screenshot()[oy + 30:oy + 220, ox + 30:ox + 220])
    wait_until(parent_shows_rings, 20, "the client in the nested window", interval=0.1,
               detail=lambda: host.log()[-3000:])

    # The stock client launches the configured app: it gets its own 1280x720 output, beside the window.
    frame = tmp_path / "streamed.npy"
    r = run_client(host, paired_client(host)[1], [["save_when", str(frame), ["rings"], 30]],
                   app="weston-simple-shm")
    assert r["saved"][str(frame)] == [720, 1280, 3]
    got = np.load(frame)
    assert rings(got[30:220, 30:220]), "the launched app's rings are not in the streamed picture"
    assert "session output created" in host.log() and "1280x720" in host.log()
    # The window kept showing its own client while the session streamed.
    assert parent_shows_rings()
