"""The catalogue of bench/hostile.py: every hostile case, with the answer it must get.

A case's ``act(h)`` submits something through the harness ``h`` (bench/hostile.py) and returns
its ticket; ``expect`` is an error code, ``"unanswerable"`` (reported once, never answered) or
``"none"`` (a reply the worker cannot even read: logged, backed off, no answer). Stage
``sandbox`` goes through the project's sandbox (uploaded files); stage ``scripted`` through the
scripted XQueue and platform (raw replies, URLs, server behaviour). The catalogue grows with
every bug found: issue 24's four bugs are B09, U01/U02, P01 and F01.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from bench.hostile_servers import envelope, json_reply, make_jwt, submission_reply

__all__ = ["CASES", "Case"]

OK_BODY = {"session_id": "hostile", "modality": "debug"}


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    stage: str
    expect: int | str
    act: Callable[[Any], Any]
    timeout_s: float = 30.0
    setup: Callable[[Any], None] | None = None  # runs, then the worker restarts, before act


def deep(levels: int, inner: str = "1") -> str:
    return "[" * levels + inner + "]" * levels


# --- helpers that make cases -------------------------------------------------------------------

def body(name: str, text: Any, expect: int, files: tuple[str, ...] = ("mic.wav",)) -> Case:
    """A body through the sandbox, with sample files uploaded under their own names."""
    return Case(name, "body", "sandbox", expect, lambda h: h.sandbox_submit(text, {f: h.file(f) for f in files}))


def scripted_body(name: str, text: str, expect: int) -> Case:
    return Case(name, "body", "scripted", expect,
                lambda h: h.offer_submission(text, {"mic.wav": h.route("media", "/mic.wav", h.serve_file("mic.wav"))}))


def names(name: str, file_names: list[str], expect: int = 0) -> Case:
    """Each name uploaded through the sandbox as a copy of the sample WAV."""
    return Case(name, "names", "sandbox", expect,
                lambda h: h.sandbox_submit({"session_id": name}, {n: h.file("mic.wav") for n in file_names}))


def scripted_names(name: str, file_names: list[str], expect: int = 0, timeout_s: float = 30.0) -> Case:
    def act(h: Any) -> Any:
        url = h.route("media", "/mic.wav", h.serve_file("mic.wav"))
        return h.offer_submission({"session_id": name}, {n: url for n in file_names})
    return Case(name, "names", "scripted", expect, act, timeout_s)


def url(name: str, make: Callable[[Any], str], expect: int = 3, group: str = "urls") -> Case:
    """One file whose URL ``make(h)`` builds (``h.p``: the platform, ``h.c``: the canary, ``h.m``: media)."""
    return Case(name, group, "scripted", expect, lambda h: h.offer_submission(OK_BODY, {"a.wav": make(h)}))


def redirect(name: str, location: Callable[[Any], str], expect: int = 3, via: str = "media") -> Case:
    def make(h: Any) -> str:
        return h.route(via, "/hop", lambda hit: (302, {"Location": location(h)}, b""))
    return url(name, make, expect)


def header(name: str, value: Any) -> Case:
    return Case(name, "protocol", "scripted", "unanswerable",
                lambda h: h.offer_raw(submission_reply(None, OK_BODY, {}, header=value)))


def raw(name: str, reply: Callable[[], Any], expect: Any = "none", sub_id: int | None = None) -> Case:
    return Case(name, "protocol", "scripted", expect, lambda h: h.offer_raw(reply(), sub_id=sub_id))


def media(name: str, reply: Callable[[Any], Any], expect: int, timeout_s: float = 30.0) -> Case:
    return Case(name, "media", "scripted", expect,
                lambda h: h.offer_submission(OK_BODY, {"a.wav": h.route("media", "/m", reply(h))}), timeout_s)


def uploaded(name: str, files: dict[str, str], expect: int, refs: dict[str, str] | None = None) -> Case:
    """Sample files uploaded under the given names; ``refs`` names the references in the body."""
    return Case(name, "media", "sandbox", expect,
                lambda h: h.sandbox_submit({"session_id": name, **(refs or {})}, {k: h.file(v) for k, v in files.items()}))


def platform(name: str, configure: Callable[[Any], None], expect: int = 0, via_platform: bool = False,
             restart: bool = False, timeout_s: float = 30.0) -> Case:
    """A platform behaviour (set by ``configure``) during one job; media from the platform if asked."""
    def act(h: Any) -> Any:
        if not restart:
            configure(h)
        server = "platform" if via_platform else "media"
        return h.offer_submission(OK_BODY, {"a.wav": h.route(server, "/media/a.wav", h.serve_file("mic.wav"))})
    return Case(name, "platform", "scripted", expect, act, timeout_s, configure if restart else None)


def trickle(hit: Any) -> Any:
    def chunks() -> Any:
        for _ in range(120):
            yield b"R"
            time.sleep(0.5)
    return 200, {"Content-Length": "1000000"}, chunks()


def hang(seconds: float) -> Callable[[Any], Any]:
    def reply(hit: Any) -> Any:
        time.sleep(seconds)
        return json_reply(200, {"ok": True})
    return reply


GZIP_100MB = gzip.compress(b"\x00" * (100 << 20), 1)
BIG_PULL = json.dumps({"session_id": "s", "options": {"pad": "B" * (20 << 20)}})

CASES: list[Case] = [
    # -- bodies ----------------------------------------------------------------------------------
    body("B01 not JSON", "this is not json", 4),
    body("B02 empty object", "{}", 4),
    body("B03 JSON array", "[]", 4),
    body("B04 JSON string", '"a string"', 4),
    body("B05 JSON null", "null", 4),
    body("B06 session_id a number", {"session_id": 42}, 4),
    body("B07 session_id empty", {"session_id": ""}, 4),
    body("B08 session_id 1.2 MB", {"session_id": "S" * 1_200_000}, 4),
    body("B09 options a 600 KB string (bug 4)", {"session_id": "b09", "options": "A" * 600_000}, 4),
    body("B10 modality a list of 300 KB", {"session_id": "b10", "modality": ["M" * 300_000]}, 4),
    body("B11 recordings names a missing file", {"session_id": "b11", "recordings": ["absent.wav"]}, 4),
    body("B12 recordings names 10,000 missing files", {"session_id": "b12", "recordings": [f"f{i}" for i in range(10_000)]}, 4),
    body("B13 recordings holds a number", {"session_id": "b13", "recordings": [42]}, 4),
    body("B14 reference_photo names a missing file", {"session_id": "b14", "reference_photo": "absent.jpg"}, 4),
    body("B15 NaN", '{"session_id": "b15", "options": {"t": NaN}}', 4),
    body("B16 Infinity", '{"session_id": "b16", "options": {"t": -Infinity}}', 4),
    body("B17 1e999", '{"session_id": "b17", "options": {"t": 1e999}}', 4),
    body("B18 a 5000-digit integer", '{"session_id": "b18", "options": {"n": ' + "9" * 5000 + "}}", 4),
    body("B19 UTF-8 BOM first", "\ufeff" + json.dumps({"session_id": "b19"}), 4),
    body("B20 duplicate keys", '{"session_id": "x", "session_id": "b20"}', 0),
    scripted_body("B21 lone surrogate in session_id", '{"session_id": "b21-\\ud800"}', 0),
    body("B22 NUL and controls in session_id", {"session_id": "b22\x00\x1b[31m\r\n"}, 0),
    body("B23 HTML in session_id", {"session_id": "<script>alert(1)</script>"}, 0),
    body("B24 LMS grader_payload", {"grader_payload": json.dumps({"session_id": "b24"}), "student_response": ""}, 0),
    body("B25 grader_payload not JSON", {"grader_payload": "{not json", "student_info": "{}"}, 4),
    body("B26 grader_payload 5000 levels", {"grader_payload": deep(5000)}, 4),
    body("B27 10,000 levels", deep(10_000), 4),
    body("B28 options 900 levels", '{"session_id": "b28", "options": {"d": ' + deep(900) + "}}", 4),
    body("B29 options with 20,000 keys", {"session_id": "b29", "options": {f"k{i}": i for i in range(20_000)}}, 0),
    body("B30 unknown fields", {"session_id": "b30", "x": {"y": [1, 2]}, "__proto__": {}}, 0),
    body("B31 just under the size limit", {"session_id": "b31", "options": {"pad": "P" * 990_000}}, 0),
    body("B32 2 MB of whitespace", " " * 2_000_000 + "{}", 4),
    body("B33 session_id 201 characters", {"session_id": "s" * 201}, 4),
    scripted_body("B34 10,000 levels via XQueue", deep(10_000), 4),
    Case("B35 body a JSON object, not a string", "body", "scripted", 0, lambda h: h.offer_raw(envelope(0, json.dumps({
        "xqueue_header": json.dumps({"submission_id": 35, "submission_key": "ab"}), "xqueue_body": {"session_id": "b35"},
        "xqueue_files": json.dumps({"a.wav": h.route("media", "/a.wav", h.serve_file("mic.wav"))})})), sub_id=35)),
    scripted_body("B36 a 600 KB wrong-typed field, XQueue behind a 1 MB limit (bug 4)",
                  json.dumps({"session_id": "b36", "options": "A" * 600_000}), 4),
    # -- file names ------------------------------------------------------------------------------
    names("N01 ../../etc/passwd", ["../../etc/passwd"]),
    names("N02 absolute path", ["/abs/evil.wav"]),
    names("N03 Windows path", ["C:\\Windows\\evil.wav"]),
    names("N04 ..", [".."]),
    names("N05 dot file", [".bashrc"]),
    names("N06 300 characters", ["n" * 296 + ".wav"]),
    names("N07 two names, one safe name", ["a/cam.wav", "b/cam.wav"]),
    names("N08 space and underscore", ["my cam.wav", "my_cam.wav"]),
    names("N09 Cyrillic", ["камера.wav"]),
    names("N10 shell metacharacters", ["$(id)`x`;rm -rf ~.wav"]),
    names("N11 option-like", ["-rf", "--help.wav"]),
    names("N12 device names", ["CON", "aux.wav", "nul"]),
    scripted_names("N13 200,000 characters", ["x" * 200_000 + ".wav"]),
    scripted_names("N14 newline and NUL", ["cam\n.wav", "cam\x00.wav", "\r\n"]),
    scripted_names("N15 12 names, one safe name", [f"d{i}/../x.wav" for i in range(12)]),
    scripted_names("N16 empty name", [""]),
    scripted_names("N17 30 files", [f"f{i}.wav" for i in range(30)], timeout_s=120),
    # -- URLs: parser confusion, schemes, redirects ------------------------------------------------
    url("U01 backslash: canary\\@platform (bug 1)", lambda h: f"http://{h.c}\\@{h.p}/a.wav"),
    url("U02 backslash, metadata-style (bug 1)", lambda h: f"http://{h.c}\\\\@{h.p}/latest/meta-data/"),
    url("U03 canary\\platform", lambda h: f"http://{h.c}\\{h.p}/a.wav"),
    url("U04 canary/\\@platform", lambda h: f"http://{h.c}/\\@{h.p}/a.wav"),
    url("U05 %5C", lambda h: f"http://{h.c}%5C@{h.p}/a.wav"),
    url("U06 #@", lambda h: f"http://{h.c}#@{h.p}/a.wav"),
    url("U07 ?@", lambda h: f"http://{h.c}?@{h.p}/a.wav"),
    url("U08 userinfo canary@platform", lambda h: f"http://{h.c}@{h.p}/a.wav"),
    url("U09 user:password@platform", lambda h: f"http://user:pw@{h.p}/a.wav"),
    url("U10 platform@canary", lambda h: f"http://{h.p}@{h.c}/a.wav"),
    url("U11 space in the authority", lambda h: f"http://{h.p} @{h.c}/a.wav"),
    url("U12 tab", lambda h: f"http://{h.p}\t/a.wav"),
    url("U13 CRLF header injection", lambda h: f"http://{h.p}/a.wav\r\nX-Injected: 1"),
    url("U14 http:/ one slash", lambda h: f"http:/{h.p}/a.wav"),
    url("U15 http:\\\\", lambda h: f"http:\\\\{h.p}/a.wav"),
    url("U16 scheme-relative", lambda h: f"//{h.c}/a.wav"),
    url("U17 fragment", lambda h: f"http://{h.p}/a.wav#frag"),
    url("U18 port 99999", lambda h: f"http://127.0.0.1:99999/a.wav"),
    url("U19 port 0", lambda h: "http://127.0.0.1:0/a.wav"),
    url("U20 non-ASCII host", lambda h: "http://pl\u0430tform.example/a.wav"),
    url("U21 decimal IP of the canary", lambda h: f"http://2130706434:{h.c.split(':')[1]}/a.wav"),
    url("U22 hex IP", lambda h: f"http://0x7f000002:{h.c.split(':')[1]}/a.wav"),
    url("U23 octal IP", lambda h: f"http://0177.0.0.2:{h.c.split(':')[1]}/a.wav"),
    url("U24 IPv4-mapped IPv6", lambda h: f"http://[::ffff:127.0.0.2]:{h.c.split(':')[1]}/a.wav"),
    url("U25 file://", lambda h: "file:///etc/passwd"),
    url("U26 ftp://", lambda h: "ftp://127.0.0.1/a.wav"),
    url("U27 gopher://", lambda h: f"gopher://{h.c}/_GET"),
    url("U28 data:", lambda h: "data:audio/wav;base64,UklGRg=="),
    url("U29 javascript:", lambda h: "javascript:alert(1)"),
    url("U30 a 10 KB URL", lambda h: f"http://{h.m}/" + "p" * 10_000),
    url("U31 not a string", lambda h: {"url": f"http://{h.m}/a.wav"}, expect=4),
    redirect("U32 redirect to the canary", lambda h: f"{h.canary_url}/stolen"),
    redirect("U33 redirect with a backslash", lambda h: f"http://{h.c}\\@{h.p}/a.wav"),
    redirect("U34 redirect with user info", lambda h: f"http://{h.c}@{h.p}/a.wav"),
    redirect("U35 redirect to file://", lambda h: "file:///etc/passwd"),
    redirect("U36 redirect, scheme-relative to the canary", lambda h: f"//{h.c}/x"),
    redirect("U37 redirect without Location (a loop)", lambda h: ""),
    Case("U38 four redirects", "urls", "scripted", 3, lambda h: h.offer_submission(OK_BODY, {"a.wav": h.chain(4)})),
    Case("U39 three redirects (allowed)", "urls", "scripted", 0, lambda h: h.offer_submission(OK_BODY, {"a.wav": h.chain(3)})),
    redirect("U40 platform redirects to the canary", lambda h: f"{h.canary_url}/bucket", via="platform"),
    redirect("U41 platform redirects to another allowed host (token dropped)",
             lambda h: h.route("media3", "/bucket", h.serve_file("mic.wav")), expect=0, via="platform"),
    url("U42 same host, other port: no token", lambda h: h.route("media", "/a.wav", h.serve_file("mic.wav")), expect=0),
    url("U43 platform media: token", lambda h: h.route("platform", "/media/a.wav", h.serve_file("mic.wav")), expect=0),
    # -- media -----------------------------------------------------------------------------------
    uploaded("M01 zero bytes", {"empty.wav": "zero.bin"}, 0),
    uploaded("M02 garbage named .wav", {"garbage.wav": "garbage.bin"}, 0),
    uploaded("M03 a ten-hour FLAC", {"long.flac": "ten_hours.flac"}, 3),
    uploaded("M04 WAV header claiming ten hours", {"lying.wav": "lying.wav"}, 0),
    uploaded("M05 20000x20000 PNG as reference photo", {"mic.wav": "mic.wav", "face.png": "bomb.png"}, 0,
             {"reference_photo": "face.png"}),
    uploaded("M06 text as reference voice", {"mic.wav": "mic.wav", "voice.wav": "text.txt"}, 0,
             {"reference_voice": "voice.wav"}),
    uploaded("M07 silent video as reference voice", {"mic.wav": "mic.wav", "voice.mp4": "silent.mp4"}, 0,
             {"reference_voice": "voice.mp4"}),
    uploaded("M08 PNG bomb as a recording", {"clip.mp4": "bomb.png"}, 0),
    uploaded("M09 a ten-hour FLAC as reference voice", {"mic.wav": "mic.wav", "enrol.flac": "ten_hours.flac"}, 0,
             {"reference_voice": "enrol.flac"}),
    uploaded("M10 a normal photo (control)", {"mic.wav": "mic.wav", "face.jpg": "photo.jpg"}, 0,
             {"reference_photo": "face.jpg"}),
    media("M11 gzip bomb (100 MB) over the 64 MB cap",
          lambda h: lambda hit: (200, {"Content-Encoding": "gzip"}, GZIP_100MB), 3),
    media("M12 Content-Length over the cap", lambda h: lambda hit: (200, {"Content-Length": str(1 << 30)}, b"x"), 3),
    media("M13 Content-Length larger than the body", lambda h: lambda hit: (200, {"Content-Length": "10000"}, b"short"), 3),
    media("M14 endless trickle (deadline)", lambda h: trickle, 3),
    media("M15 404", lambda h: lambda hit: (404, {}, b"no"), 3),
    media("M16 500 every time", lambda h: lambda hit: (500, {}, b"down"), 3),
    media("M17 connection dropped", lambda h: lambda hit: (0, {}, b""), 3),
    media("M18 HTML page as media", lambda h: lambda hit: (200, {"Content-Type": "text/html"}, b"<html>login</html>"), 0),
    media("M19 empty 200", lambda h: lambda hit: (200, {}, b""), 0),
    media("M20 204 No Content", lambda h: lambda hit: (204, {}, b""), 3),
    # -- XQueue protocol -------------------------------------------------------------------------
    header("P01 submission_id 2^63 (bug 2)", {"submission_id": 2**63, "submission_key": "ab"}),
    header("P02 submission_id -1", {"submission_id": -1, "submission_key": "ab"}),
    header("P03 submission_id a word", {"submission_id": "abc", "submission_key": "ab"}),
    header("P04 submission_id 5000 digits", {"submission_id": "9" * 5000, "submission_key": "ab"}),
    header("P05 submission_id 1.5", {"submission_id": 1.5, "submission_key": "ab"}),
    header("P06 submission_id true", {"submission_id": True, "submission_key": "ab"}),
    header("P07 submission_key empty", {"submission_id": 7, "submission_key": ""}),
    header("P08 submission_key an object", {"submission_id": 8, "submission_key": {"k": 1}}),
    header("P09 no submission_key", {"submission_id": 9}),
    header("P10 header not JSON", "{not json"),
    header("P11 header a JSON array", "[1, 2]"),
    header("P12 header 50,000 levels", deep(50_000)),
    raw("P13 content not JSON", lambda: envelope(0, "garbage"), "unanswerable"),
    raw("P14 content a JSON array", lambda: envelope(0, "[1, 2, 3]"), "unanswerable"),
    raw("P15 content 50,000 levels", lambda: envelope(0, deep(50_000)), "unanswerable"),
    raw("P16 envelope 100,000 levels", lambda: (200, {}, b'{"return_code": 0, "content": ' + deep(100_000).encode() + b"}")),
    raw("P17 a 20 MB reply", lambda: submission_reply(17, BIG_PULL, {})),
    raw("P18 a gzip bomb reply", lambda: (200, {"Content-Encoding": "gzip"}, gzip.compress(b" " * (100 << 20), 1))),
    raw("P19 return_code a word", lambda: (200, {}, b'{"return_code": "x", "content": ""}')),
    raw("P20 HTML with 200", lambda: (200, {"Content-Type": "text/html"}, b"<html>maintenance</html>")),
    raw("P21 HTTP 500", lambda: (500, {}, b"oops")),
    raw("P22 xqueue_files not JSON", lambda: submission_reply(22, OK_BODY, "{not json"), 4, 22),
    raw("P23 xqueue_files 50,000 levels", lambda: submission_reply(23, OK_BODY, deep(50_000)), 4, 23),
    raw("P24 xqueue_files a list", lambda: submission_reply(24, OK_BODY, ["a.wav"]), 4, 24),
    raw("P25 xqueue_files values not strings", lambda: submission_reply(25, OK_BODY, {"a.wav": 5}), 4, 25),
    Case("P26 one unanswerable offered three times", "protocol", "scripted", "unanswerable", lambda h: h.offer_raw(
        submission_reply(None, {"session_id": "p26"}, {}, header={"submission_id": -26, "submission_key": "ab"}),
        times=3)),
    Case("P27 put_result answers 413", "protocol", "scripted", "none", lambda h: h.with_put_reply(
        lambda form: (413, {}, b"<h1>Request Entity Too Large</h1>"))),
    Case("P28 put_result answers HTML", "protocol", "scripted", "none", lambda h: h.with_put_reply(
        lambda form: (200, {}, b"<html>proxy error</html>"))),
    Case("P29 put_result hangs past its timeout", "protocol", "scripted", 0, lambda h: h.with_put_reply(
        lambda form: (time.sleep(5), envelope(0, ""))[1])),
    # -- platform --------------------------------------------------------------------------------
    platform("F01 expires_in 'one hour' at start-up (bug 3)", lambda h: h.set_token(
        lambda: h.platform.issue("opaque-f01-token", expires_in="one hour")), restart=True),
    platform("F02 token reply not JSON", lambda h: h.set_token(lambda: (200, {}, b"<html>"))),
    platform("F03 token reply of 2 MB", lambda h: h.set_token(
        lambda: h.platform.issue("opaque-f03-token", pad="x" * (2 << 20)))),
    platform("F04 token reply 50,000 levels", lambda h: h.set_token(lambda: (200, {}, deep(50_000).encode()))),
    platform("F05 token endpoint 500", lambda h: h.set_token(lambda: (500, {}, b"down"))),
    platform("F06 JWT exp NaN", lambda h: h.set_token(lambda: h.platform.issue(make_jwt(exp="NaN")))),
    platform("F07 access_token an object", lambda h: h.set_token(lambda: json_reply(200, {"access_token": {"t": 1}}))),
    platform("F08 access_token of 100 KB", lambda h: h.set_token(lambda: h.platform.issue("opaque-" + "t" * 100_000))),
    platform("F09 events endpoint hangs", lambda h: h.set_events(hang(20)), timeout_s=10),
    platform("F10 events endpoint 401", lambda h: h.set_events(lambda hit: json_reply(401, {"error": "no"}))),
    platform("F11 events reply of 2 MB", lambda h: h.set_events(lambda hit: (200, {}, b"[" * (2 << 20)))),
    platform("F12 token fails, media on the platform", lambda h: h.set_token(lambda: (500, {}, b"down")), 3,
             via_platform=True, restart=True),
    platform("F13 platform media answers 401", lambda h: h.route(
        "platform", "/media/a.wav", lambda hit: json_reply(401, {"error": "expired"}), keep=True), 3, via_platform=True),
]
