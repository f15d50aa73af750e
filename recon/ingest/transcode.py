"""A file's bytes from a legacy encoding (GB18030) to UTF-8, on both cores.

Python's codecs hold the interpreter lock while they decode, and neither Arrow, Polars
nor DuckDB (without an extension it would download) reads GB18030, so a long file was
decoded on one core while the other waited: at ten million births the register's file
took 22 s. Hand-written for that reason: a file of more than `SPLIT_BYTES` is cut at a
line break in the middle, the second half decoded by a child Python process (this
module run with `-m`), the first here, at the same time. GB18030 never uses the byte
0x0A inside a character (its trailing bytes are 0x30-0x39 and 0x40-0xFE), so each half
decodes alone to exactly what the whole would.

The child reads its half from a pipe, not from the file, so both halves are the bytes
already read (and hashed); it writes its text to a temporary file, not a pipe, so that
nothing here waits for the lock to take its output a pipe's 64 KiB at a time.
"""

from __future__ import annotations

import codecs
import mmap
import os
import subprocess
import sys
import tempfile
import threading

CHUNK = 1 << 22  # bytes decoded per call: the decoded text of one is all that is extra
SPLIT_BYTES = 32 << 20  # a shorter file is decoded here alone: a child costs ~50 ms


def to_utf8(data: bytes | memoryview, encoding: str) -> bytearray:
    """`data` decoded from `encoding` (strictly: UnicodeDecodeError) and encoded as UTF-8,
    BOM removed. A bytearray, not bytes: on this machine's kind a copy into fresh memory
    costs about 2.7 s a GiB (page faults), and the text is most of a gigabyte."""
    cut = _cut(data) if encoding == "gb18030" and len(data) > SPLIT_BYTES else None
    text = _in_halves(data, encoding, cut) if cut else _decoded(data, encoding)
    if text.startswith(codecs.BOM_UTF8):
        del text[:3]
    return text


def _cut(data: bytes | memoryview) -> int | None:
    """Where the second half starts: after the first line break past the middle."""
    view = memoryview(data)
    middle = len(view) // 2
    at = bytes(view[middle : middle + (1 << 20)]).find(b"\n")
    return None if at < 0 else middle + at + 1  # no break near the middle: one half


def _decoded(data: bytes | memoryview, encoding: str) -> bytearray:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    out = bytearray()
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        out += decoder.decode(view[start : start + CHUNK]).encode("utf-8")
    out += decoder.decode(b"", final=True).encode("utf-8")
    return out


def _in_halves(data: bytes | memoryview, encoding: str, cut: int) -> bytearray:
    view = memoryview(data)
    with tempfile.TemporaryFile(prefix="recon-transcode-") as second:
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", __name__, encoding],
                stdin=subprocess.PIPE, stdout=second, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        except OSError:  # no interpreter to start (an embedded Python): one core then
            return _decoded(view, encoding)
        assert child.stdin is not None

        def feed() -> None:  # one write of the whole half: the lock is not held meanwhile
            try:
                with child.stdin:  # type: ignore[union-attr]
                    child.stdin.write(view[cut:])  # type: ignore[union-attr]
            except BrokenPipeError:  # the child stopped: its exit status says why
                pass

        feeder = threading.Thread(target=feed, name="recon-transcode", daemon=True)
        feeder.start()
        try:
            out = _decoded(view[:cut], encoding)
        except BaseException:
            child.kill()
            raise
        finally:
            feeder.join()
            status = child.wait()
        if status != 0:
            # Where exactly: decoded here alone, the error names the byte it stopped at.
            _decoded(view[cut:], encoding)
            raise UnicodeDecodeError(encoding, b"", 0, 1, "the second half did not decode")
        if os.fstat(second.fileno()).st_size:
            with mmap.mmap(second.fileno(), 0, access=mmap.ACCESS_READ) as text:
                out += text  # one copy, from the page cache
    return out


def _child(encoding: str) -> int:
    """Decode stdin to stdout as UTF-8 a chunk at a time; 1 if it does not decode."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    read, write = sys.stdin.buffer.read, sys.stdout.buffer.write
    try:
        while chunk := read(CHUNK):
            write(decoder.decode(chunk).encode("utf-8"))
        write(decoder.decode(b"", final=True).encode("utf-8"))
        sys.stdout.buffer.flush()
    except UnicodeDecodeError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
