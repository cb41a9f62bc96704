"""Reading and checking a file in a second process while this one writes.

Reading, validating and normalising cost about as much CPU as SQLite's inserting, and SQLite writes must stay in
the process that holds the transaction. For a large file a child process (`python -m console.importing.pipeline`,
a fresh interpreter: it inherits no SQLite state and needs no `if __name__ == "__main__"` guard in the caller's
script) runs the checking generator and sends each checked batch through a pipe, which blocks when full, so at
most a batch or two are in flight and memory stays flat. Small files are checked in this process, where starting
a child would cost more than it saves.
"""

from __future__ import annotations

import gc
import importlib
import pickle
import struct
import subprocess
import sys
import traceback
from collections.abc import Callable, Generator
from typing import IO, Any, BinaryIO

from console.errors import BadInput, WinbackError

PIPELINE_MIN_BYTES = 16 << 20
_FRAME = struct.Struct("<Q")


def checked_batches(produce: Callable[..., Generator[Any, None, None]], *args: Any, size: int,
                    local: tuple = ()) -> Generator[Any, None, None]:
    """Items of ``produce(*args)``: run in a child process when the file is *size* bytes or more.

    *produce* must be a module-level function and *args* picklable. *local* is extra arguments given only in
    this process (e.g. a dictionary already loaded here), so that the child loads its own.
    """
    if size < PIPELINE_MIN_BYTES:
        return produce(*args, *local)
    return _in_child(produce, args)


def _send(out: BinaryIO, item: Any) -> None:
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_FRAME.pack(len(data)))
    out.write(data)


def _receive(inp: IO[bytes]) -> Any:
    head = inp.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError
    (length,) = _FRAME.unpack(head)
    data = inp.read(length)
    if len(data) < length:
        raise EOFError
    return pickle.loads(data)


def _in_child(produce: Callable[..., Generator[Any, None, None]], args: tuple) -> Generator[Any, None, None]:
    target = f"{produce.__module__}:{produce.__qualname__}"
    process = subprocess.Popen(
        [sys.executable, "-m", "console.importing.pipeline", target],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    # All three are pipes (PIPE above), so Popen has set them.
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    try:
        process.stdin.write(pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL))
        process.stdin.close()
        while True:
            try:
                item = _receive(process.stdout)
            except EOFError:
                process.wait()
                detail = process.stderr.read().decode(errors="replace").strip()
                raise WinbackError(f"the import's reader process stopped unexpectedly\n{detail}".strip()) from None
            if item is None:
                break
            if isinstance(item, tuple):
                if item[0] == "bad":
                    raise BadInput(item[1])
                if item[0] == "error":  # said in words by the reader (e.g. the side file could not be written)
                    raise WinbackError(item[1])
                raise WinbackError(f"the import's reader process failed:\n{item[1]}")
            yield item
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()


def _main(target: str) -> int:
    """The child: read the arguments on stdin, send each checked batch on stdout, then None."""
    out = sys.stdout.buffer
    try:
        gc.disable()  # see reading.no_cyclic_gc
        module, _, name = target.partition(":")
        produce = getattr(importlib.import_module(module), name)
        args = pickle.loads(sys.stdin.buffer.read())
        for item in produce(*args):
            _send(out, item)
        _send(out, None)
    except BadInput as exc:
        _send(out, ("bad", str(exc)))
    except WinbackError as exc:  # the machine's refusal, in words: no traceback for the operator
        _send(out, ("error", str(exc)))
    except BrokenPipeError:  # the writer stopped reading (it failed or was interrupted): nothing to say
        return 1
    except BaseException:  # the writer must hear of it, whatever it is
        _send(out, ("crash", traceback.format_exc()))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
