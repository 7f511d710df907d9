"""A real X desktop for recording: Xvfb, openbox, a notification daemon, apps, ffmpeg x11grab.

:class:`Desktop` is a context manager. On entry it starts, from Debian packages (installed by
``handlers/screencast/install-samples.sh``): ``Xvfb`` on a free display (``-displayfd``), a solid
wallpaper (``xsetroot``), the ``openbox`` window manager with a light (Clearlooks) or dark (Onyx)
theme and 11 pt title fonts, a private ``dbus-daemon`` and ``dunst`` (notification toasts).
:meth:`Desktop.spawn` starts applications; :meth:`Desktop.xdo` drives them with ``xdotool``;
:meth:`Desktop.wait_still` waits until what they draw has stopped changing (a busy machine paints
late: a scene starts from a settled screen, not after fixed seconds); :meth:`Desktop.record`
captures the screen with ``ffmpeg -f x11grab`` and :meth:`Desktop.now` gives seconds since the
recording's first frame (ffmpeg's own wall-clock start, read from its log), so a script's
timeline is the truth of what it recorded. Waits for programs and windows are generous (a
minute and more): they only end early on a quiet machine.

Every process started here carries a tag in its environment; on exit each process that is
tagged, or was started here, or descends from one, is stopped by its PID (SIGTERM, then
SIGKILL: openbox ignores SIGTERM, and chromium's crash handler leaves its parent's process
group), never by name.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np

__all__ = ["PACKAGES", "Desktop", "DesktopUnavailable"]

# program -> Debian package, for the error message when one is missing
PACKAGES = {"Xvfb": "xvfb", "openbox": "openbox", "xdotool": "xdotool", "xsetroot": "x11-xserver-utils",
            "dbus-daemon": "dbus", "dunst": "dunst", "notify-send": "libnotify-bin", "ffmpeg": "ffmpeg",
            "chromium": "chromium", "xterm": "xterm", "mousepad": "mousepad", "wmctrl": "wmctrl", "xprop": "x11-utils"}
THEMES = {"light": ("Clearlooks", "#3a6ea5"), "dark": ("Onyx", "#202428")}
_TAG = "ML_DESKTOP_TAG"
_START = re.compile(r"start: (\d+\.\d+)")


class DesktopUnavailable(RuntimeError):
    """A program the desktop needs is missing (the message names its Debian package)."""


def missing_programs() -> list[str]:
    """Debian packages whose programs are not on PATH."""
    return sorted({pkg for prog, pkg in PACKAGES.items() if shutil.which(prog) is None})


class Desktop:
    """One X desktop of ``size`` with a ``theme`` ("light" or "dark"), files under ``root``."""

    def __init__(self, root: Path, size: tuple[int, int] = (1280, 720), theme: str = "light") -> None:
        self.root, self.size, self.theme = Path(root), size, theme
        self.tag = uuid.uuid4().hex
        self.display = ""
        self._procs: list[subprocess.Popen] = []
        self._capture: subprocess.Popen | None = None
        self._capture_log: Path | None = None
        self.t0: float | None = None

    # --- life cycle -----------------------------------------------------------------------------

    def __enter__(self) -> Desktop:
        missing = missing_programs()
        if missing:
            raise DesktopUnavailable(f"missing Debian packages: {', '.join(missing)} "
                                     "(run handlers/screencast/install-samples.sh as root)")
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "run").mkdir(mode=0o700, exist_ok=True)
        try:
            self._start_x()
            self._start_session()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_x(self) -> None:
        read, write = os.pipe()
        w, h = self.size
        proc = self.spawn(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{w}x{h}x24", "-nolisten", "tcp",
                           "-noreset", "-dpi", "96"], pass_fds=(write,), env_display=False)
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number.isdigit() or proc.poll() is not None:
            raise DesktopUnavailable(f"Xvfb did not start (exit {proc.poll()})")
        self.display = f":{number}"

    def _start_session(self) -> None:
        theme, wallpaper = THEMES[self.theme]
        self.run(["xsetroot", "-solid", wallpaper])
        self.spawn(["openbox", "--config-file", str(self._openbox_config(theme))])
        bus = self.root / "run" / "bus"
        self.spawn(["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address=unix:path={bus}"])
        self._wait(lambda: bus.exists(), "dbus-daemon")
        self.spawn(["dunst", "-config", str(self._dunst_config())])
        self._wait(lambda: "window id" in (self.run(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"],
                                                    check=False) or ""), "openbox")

    def close(self) -> None:
        """Stop the capture, then every process carrying this desktop's tag, by PID."""
        if self._capture is not None and self._capture.poll() is None:
            self.stop_recording()
        for pid in self._tagged():
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and self._tagged():
            time.sleep(0.1)
        for pid in self._tagged():
            _signal(pid, signal.SIGKILL)
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._procs = []

    def _tagged(self) -> list[int]:
        """The processes started here: tagged, or descended from one started here (Chromium
        overwrites its environment with its process titles, so the tag is not always there)."""
        found, parents = set(), {}
        needle = f"{_TAG}={self.tag}".encode()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if needle in (entry / "environ").read_bytes():
                        found.add(int(entry.name))
                    parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        found |= {p.pid for p in self._procs if p.poll() is None}
        grew = True
        while grew:
            more = {pid for pid, ppid in parents.items() if ppid in found} - found
            found |= more
            grew = bool(more)
        return sorted(pid for pid in found if pid in parents)

    # --- processes --------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WAYLAND", "DBUS_"))}
        env.update({_TAG: self.tag, "DISPLAY": self.display, "HOME": str(self.root), "LANG": "C.UTF-8",
                    "XDG_RUNTIME_DIR": str(self.root / "run"), "NO_AT_BRIDGE": "1",
                    "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.root / 'run' / 'bus'}"})
        return env

    def spawn(self, args: list[str], pass_fds: tuple[int, ...] = (), env_display: bool = True) -> subprocess.Popen:
        """Start a program on this desktop (output to a log file under ``root``)."""
        env = self.env()
        if not env_display:
            env.pop("DISPLAY")
        log = open(self.root / f"{Path(args[0]).name}.log", "ab")  # noqa: SIM115 - closed with the process
        try:
            proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    pass_fds=pass_fds, start_new_session=True)
        finally:
            log.close()
        self._procs.append(proc)
        return proc

    def run(self, args: list[str], check: bool = True, timeout: float = 120.0) -> str | None:
        """Run a short command on this desktop; its stdout, or None when it failed and ``check`` is off."""
        done = subprocess.run(args, env=self.env(), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              check=False)
        if done.returncode != 0:
            if check:
                raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.decode(errors='replace')[-300:]}")
            return None
        return done.stdout.decode(errors="replace")

    def xdo(self, *args: str, check: bool = True) -> str | None:
        return self.run(["xdotool", *args], check=check)

    def wait_window(self, name: str, timeout: float = 120.0) -> str:
        """The id of the first visible window whose name matches the regex ``name``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.xdo("search", "--onlyvisible", "--name", name, check=False)
            if out and out.split():
                return out.split()[-1]
            time.sleep(0.2)
        raise RuntimeError(f"no window named {name!r} appeared within {timeout:g} s")

    def wait_still(self, quiet_s: float = 1.5, timeout: float = 120.0, share: float = 0.01) -> float:
        """Wait until at most ``share`` of the screen (a ticking clock, a caret) changes for
        ``quiet_s``: windows mapped and painted. Returns the seconds waited."""
        started = time.monotonic()
        last, still_since = None, started
        while time.monotonic() - started < timeout:
            now = self._grab()
            if last is None or np.count_nonzero(np.abs(now - last) > 24) > share * now.size:
                still_since = time.monotonic()
            elif time.monotonic() - still_since >= quiet_s:
                return time.monotonic() - started
            last = now
            time.sleep(0.2)
        raise RuntimeError(f"the screen of {self.display} kept changing for {timeout:g} s")

    def _grab(self, shrink: int = 4) -> np.ndarray:
        """The screen now, grey, 1/``shrink`` of its size."""
        w, h = self.size
        done = subprocess.run(["ffmpeg", "-v", "error", "-f", "x11grab", "-video_size", f"{w}x{h}", "-i",
                               f"{self.display}+0,0", "-frames:v", "1", "-vf", f"scale={w // shrink}:{h // shrink}",
                               "-pix_fmt", "gray", "-f", "rawvideo", "-"],
                              env=self.env(), capture_output=True, timeout=120, check=True, stdin=subprocess.DEVNULL)
        return np.frombuffer(done.stdout, np.uint8).astype(np.int16)

    def _wait(self, ready: object, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise DesktopUnavailable(f"{what} did not start")
            time.sleep(0.05)

    # --- capture ----------------------------------------------------------------------------------

    def record(self, path: Path, fps: int = 10, codec: str = "h264") -> None:
        """Start capturing the whole screen into ``path``; returns once the first frame is taken."""
        w, h = self.size
        enc = (["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1500k"] if codec == "vp8"
               else ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "25", "-pix_fmt", "yuv420p"])
        self._capture_log = self.root / f"capture-{Path(path).stem}.log"
        with open(self._capture_log, "wb") as log:
            self._capture = subprocess.Popen(
                ["ffmpeg", "-y", "-v", "info", "-f", "x11grab", "-draw_mouse", "1", "-framerate", str(fps),
                 "-video_size", f"{w}x{h}", "-i", f"{self.display}+0,0", *enc, "-g", str(5 * fps),
                 "-map_metadata", "-1", str(path)],
                env=self.env(), stdin=subprocess.PIPE, stdout=log, stderr=log, start_new_session=True)
        self._procs.append(self._capture)
        self._wait(lambda: self._start_time() is not None, "ffmpeg x11grab")
        self.t0 = self._start_time()

    def _start_time(self) -> float | None:
        found = _START.search(self._capture_log.read_text(errors="replace")) if self._capture_log else None
        return float(found.group(1)) if found else None

    def now(self) -> float:
        """Seconds since the recording's first frame."""
        return time.time() - (self.t0 or time.time())

    def stop_recording(self) -> None:
        """End the capture cleanly (ffmpeg's 'q'), so the file is complete."""
        proc, self._capture = self._capture, None
        if proc is None:
            return
        try:
            proc.communicate(b"q", timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.returncode not in (0, 255):
            raise RuntimeError(f"ffmpeg x11grab failed (exit {proc.returncode}), see {self._capture_log}")

    # --- configuration ----------------------------------------------------------------------------

    def _openbox_config(self, theme: str) -> Path:
        text = Path("/etc/xdg/openbox/rc.xml").read_text()
        text = text.replace("<name>Clearlooks</name>", f"<name>{theme}</name>", 1)
        text = re.sub(r"<size>\d+</size>", "<size>11</size>", text)
        text = re.sub(r"<name>sans</name>", "<name>DejaVu Sans</name>", text)
        text = text.replace("<animateIconify>yes</animateIconify>", "<animateIconify>no</animateIconify>")
        out = self.root / "openbox-rc.xml"
        out.write_text(text)
        return out

    def _dunst_config(self) -> Path:
        out = self.root / "dunstrc"
        out.write_text("[global]\n    font = DejaVu Sans 11\n    width = 360\n    origin = top-right\n"
                       "    offset = 14x48\n    frame_width = 2\n    padding = 10\n    horizontal_padding = 12\n"
                       "[urgency_normal]\n    background = \"#2b3e50\"\n    foreground = \"#ffffff\"\n"
                       "    timeout = 5\n")
        return out


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
