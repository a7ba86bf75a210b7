"""`lumen-session --nested` under a private parent X server (Xvfb, GLES on llvmpipe for the window): the
compositor runs on the main thread (winit) and the Moonlight host on another; a desktop app shows in the
window, and a stock-client launch streams that same window's output (one session, one seat: what the local
user sees is what the client sees).
"""

from __future__ import annotations

import numpy as np

from test_compositor_nested import parent, rings, window_id, window_origin  # noqa: F401  (fixture)
from test_session import run_client, session_host  # noqa: F401  (fixture)
from waits import wait_until


def test_nested_session_streams_the_window_it_shows(parent, session_host, paired_client, tmp_path):
    # `parent` comes first so the X server outlives the session at teardown (winit panics on a lost display).
    host = session_host("--nested", "--nested-size", "800x600@60", "--desktop-app", "weston-simple-shm",
                        "--app", "weston-simple-shm", env={"DISPLAY": parent.display})
    wid = window_id(parent)

    def parent_shows_rings():
        ox, oy = window_origin(parent, wid)
        return rings(parent.screenshot()[oy + 30:oy + 220, ox + 30:ox + 220])
    wait_until(parent_shows_rings, 20, "the client in the nested window", interval=0.1,
               detail=lambda: host.log()[-3000:])

    # The stock client streams Desktop: the window's own 800x600 output (the client asked for 1280x720 and
    # scales), with the rings the window shows.
    frame = tmp_path / "streamed.npy"
    r = run_client(host, paired_client(host)[1], [["save_when", str(frame), ["rings"], 30]])
    assert r["saved"][str(frame)] == [600, 800, 3]
    got = np.load(frame)
    assert rings(got[30:220, 30:220]), "the window's rings are not in the streamed picture"
    assert "streaming the nested window's output" in host.log() and "session output created" not in host.log()
    # The window kept showing its own client while the session streamed.
    assert parent_shows_rings()
