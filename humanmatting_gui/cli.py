"""The ``humanmatting`` command line: gui, cutout, mask, export, virtualcam."""

from __future__ import annotations

import argparse
import os
import signal
import sys

MODEL_HELP = "rgb, gray, or a .tflite/.keras file (default: rgb)"
BACKGROUND_HELP = "blur[:STRENGTH], color:#RRGGBB, image:PATH, video:PATH or transparent"


def _strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a strength is a number from 0 to 1, got {text!r}")
    return value


def _look_options(parser, clean_edges: bool, just_me_only: bool = False) -> None:
    parser.add_argument("--just-me", action="store_true",
                        help="keep only the main person (largest and most central), hide others")
    if just_me_only:
        return
    parser.add_argument("--light-wrap", type=_strength, default=0.0, metavar="STRENGTH",
                        help="the new background's light bleeding into the person's edge, 0-1")
    parser.add_argument("--harmonize", type=_strength, default=0.0, metavar="STRENGTH",
                        help="move the person's colour toward the new background's, 0-1")
    parser.add_argument("--clean-edges", action=argparse.BooleanOptionalAction, default=clean_edges,
                        help="estimate the person's own colour at soft edges (hair) "
                             f"(default: {'on' if clean_edges else 'off'})")


def look_of(args):
    """The Look the command line asks for."""
    from humanmatting_gui.look import Look

    return Look(args.just_me, getattr(args, "light_wrap", 0.0), getattr(args, "harmonize", 0.0),
                getattr(args, "clean_edges", False))


def _flip_option(parser, default: bool) -> None:
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=default,
                        help="a second model pass on the mirrored frame, the two masks averaged: "
                             "steadier, cleaner masks for twice the model's time "
                             f"(default: {'on' if default else 'off'})")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="humanmatting", description="Replace the background behind people, "
                     "live or in files, with a small U-Net on the CPU.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    gui = sub.add_parser("gui", help="start the window (the default)")
    gui.add_argument("--source", help="camera index, video file or image folder to open")
    gui.add_argument("--background", help=BACKGROUND_HELP)
    gui.add_argument("--model", help=MODEL_HELP)
    gui.add_argument("--frames", type=int, help="headless check: quit after N frames shown")
    gui.add_argument("--screenshot", help="with --frames: save the window as this PNG")
    gui.add_argument("--max-rate", action="store_true",
                     help="read a video as fast as it decodes, not at its frame rate")
    _look_options(gui, clean_edges=False)

    cutout = sub.add_parser("cutout", help="images -> the person as RGBA PNG (or composited)")
    cutout.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    cutout.add_argument("-o", "--output", required=True, metavar="OUTDIR")
    cutout.add_argument("--model", default="rgb", help=MODEL_HELP)
    cutout.add_argument("--background", help=f"composite over this instead: {BACKGROUND_HELP}")
    _look_options(cutout, clean_edges=True)
    _flip_option(cutout, default=True)

    mask = sub.add_parser("mask", help="images -> 8-bit person masks (255 = person)")
    mask.add_argument("inputs", nargs="+", metavar="INPUT")
    mask.add_argument("-o", "--output", required=True, metavar="OUTDIR")
    mask.add_argument("--model", default="rgb", help=MODEL_HELP)
    mask.add_argument("--video", action="store_true",
                      help="each folder's images, in name order, are frames of one clip "
                           "(temporal smoothing as in the live view)")
    _look_options(mask, clean_edges=False, just_me_only=True)
    _flip_option(mask, default=True)

    export = sub.add_parser("export", help="video -> masked video, audio kept")
    export.add_argument("video", metavar="VIDEO")
    export.add_argument("-o", "--output", required=True, metavar="OUT")
    export.add_argument("--background", default="blur", help=BACKGROUND_HELP)
    export.add_argument("--model", default="rgb", help=MODEL_HELP)
    export.add_argument("--format", default="mp4",
                        choices=("mp4", "mov-prores4444", "webm-alpha", "png-sequence", "matte"))
    export.add_argument("--overwrite", action="store_true", help="replace an existing output")
    export.add_argument("--zoom", action="store_true",
                        help="a second model pass around a person small in the frame (about twice "
                             "the model's time; finds far-off people better)")
    _look_options(export, clean_edges=True)
    _flip_option(export, default=True)

    cam = sub.add_parser("virtualcam", help="send the composited stream to a virtual camera")
    cam.add_argument("--source", default="0", help="camera index, video file or image folder")
    cam.add_argument("--background", default="blur", help=BACKGROUND_HELP)
    cam.add_argument("--model", default="rgb", help=MODEL_HELP)
    cam.add_argument("--frames", type=int, help="stop after N frames")
    _look_options(cam, clean_edges=False)
    _flip_option(cam, default=False)
    return parser


class Terminated(BaseException):
    """SIGTERM or SIGHUP (a logout, a service manager, ``timeout``): unwinds like Ctrl+C, so
    that every temporary output is removed on the way out."""


def _terminate(signum, _frame):
    raise Terminated(signum)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "gui"
    handled = [getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    # the window handles its own closing
    previous = {s: signal.signal(s, _terminate) for s in handled} if command != "gui" else {}
    try:
        return _run(command, args)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _run(command, args) -> int:
    from humanmatting_gui.errors import HumanMattingError

    try:
        if command == "gui":
            return _gui(args)
        if command in ("cutout", "mask"):
            from humanmatting_gui import batch

            return batch.run(command, args.inputs, args.output, args.model,
                             getattr(args, "background", None), getattr(args, "video", False),
                             look_of(args), args.flip)
        if command == "export":
            return _export(args)
        return _virtualcam(args)
    except HumanMattingError as exc:
        print(f"humanmatting: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nhumanmatting: interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print("\nhumanmatting: terminated", file=sys.stderr)
        return 128 + exc.args[0]


def display_problem(environ=os.environ, system=sys.platform, find_library=None) -> str | None:
    """Why the window cannot open on this Linux desktop, in one line, or None. Qt aborts the
    process (no exception) when its xcb platform lacks a system library; say which first."""
    if not system.startswith("linux") or environ.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        return None
    if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        return ("no display to open the window on (no DISPLAY): run it on a desktop, or headless "
                "with QT_QPA_PLATFORM=offscreen")
    if environ.get("WAYLAND_DISPLAY") and not environ.get("DISPLAY"):
        return None  # Qt takes its wayland platform
    if find_library is None:
        from ctypes.util import find_library
    if find_library("xcb-cursor") is None:
        return ("the window needs the system library libxcb-cursor0: install it "
                "(Debian/Ubuntu: sudo apt install libxcb-cursor0; Fedora: sudo dnf install "
                "xcb-util-cursor)")
    return None


def _gui(args) -> int:
    problem = display_problem()
    if problem:
        print(f"humanmatting: error: {problem}", file=sys.stderr)
        return 1
    try:
        from humanmatting_gui.ui import app
    except ImportError as exc:
        print(f"humanmatting: error: the window cannot start: {exc}", file=sys.stderr)
        return 1
    return app.run(getattr(args, "source", None), getattr(args, "background", None),
                   getattr(args, "model", None), getattr(args, "frames", None),
                   getattr(args, "screenshot", None), not getattr(args, "max_rate", False),
                   look_of(args) if args.command == "gui" else None)


def _export(args) -> int:
    from humanmatting_gui.compositing import parse_background
    from humanmatting_gui.export import ExportRequest, export_video
    from humanmatting_gui.progress import Progress
    from humanmatting_gui.stream import STREAM_SETTINGS, StreamRequest

    if not os.path.isfile(args.video):
        print(f"humanmatting: error: video not found: {args.video}", file=sys.stderr)
        return 2
    bar = Progress(0, "frames")

    def progress(done, total):
        bar.total = total
        bar.update(done)

    request = ExportRequest(args.video, args.output, args.format, args.overwrite,
                            StreamRequest(args.model, STREAM_SETTINGS.with_(zoom=args.zoom, flip=args.flip),
                                          parse_background(args.background), look_of(args)))
    result = export_video(request, progress)
    bar.finish()
    for note in result.notes:
        print(f"humanmatting: note: {note}", file=sys.stderr)
    print(f"wrote {result.path}: {result.frames} frames in {result.seconds:.1f} s "
          f"({result.fps:.1f} fps)")
    return 0


def _virtualcam(args) -> int:
    from humanmatting_gui import virtualcam

    return virtualcam.run_cli(args.source, args.background, args.model, args.frames, look=look_of(args),
                              flip=args.flip)


if __name__ == "__main__":
    sys.exit(main())
