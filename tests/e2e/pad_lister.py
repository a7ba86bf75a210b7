"""An app for the gamepad confinement test: run inside a session, it lists the input devices it can open
under /dev/input (by the name the kernel gives them, as a game would find its pads) and keeps writing the list
to OUT_DIR/<WAYLAND_DISPLAY>.json (atomically), every 100 ms, until killed."""

import fcntl
import json
import os
import sys
import time


def evdev_name(path: str) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        buf = bytearray(256)
        # EVIOCGNAME(256) = _IOC(_IOC_READ, 'E', 0x06, 256)
        fcntl.ioctl(fd, (2 << 30) | (256 << 16) | (ord("E") << 8) | 0x06, buf)
        return buf.split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def main() -> None:
    out_dir = sys.argv[1]
    display = os.environ.get("WAYLAND_DISPLAY", "unknown")
    while True:
        try:
            nodes = sorted(n for n in os.listdir("/dev/input") if n.startswith("event"))
        except OSError:
            nodes = []
        names = sorted(filter(None, (evdev_name(f"/dev/input/{n}") for n in nodes)))
        part = os.path.join(out_dir, f".{display}.part")
        with open(part, "w") as f:
            json.dump({"display": display, "pid": os.getpid(), "names": names}, f)
        os.replace(part, os.path.join(out_dir, f"{display}.json"))
        time.sleep(0.1)  # the listing's refresh period


if __name__ == "__main__":
    main()
