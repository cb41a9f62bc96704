"""Reading and checking a file in a second process while this one writes.

Reading, validating and normalising cost about as much CPU as SQLite's inserting, and SQLite writes must stay in
the process that holds the transaction. For a large file a child process runs the checking generator and sends
each checked batch through a pipe (which blocks when full, so at most a batch or two are in flight and memory
stays flat); small files are checked in this process, where starting a child would cost more than it saves.
"""

from __future__ import annotations

import gc
import multiprocessing
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from console.errors import BadInput, WinbackError

PIPELINE_MIN_BYTES = 16 << 20


def checked_batches(produce: Callable[..., Iterator[Any]], *args: Any, size: int, local: tuple = ()
                    ) -> Iterator[Any]:
    """Items of ``produce(*args)``: run in a child process when the file is *size* bytes or more.

    *local* is extra arguments given only in this process (e.g. a dictionary already loaded here), so the
    child loads its own rather than receiving a copy.
    """
    if size < PIPELINE_MIN_BYTES:
        return produce(*args, *local)
    return _in_child(produce, args)


def _child(produce: Callable[..., Iterator[Any]], args: tuple, pipe) -> None:
    try:
        gc.disable()  # see reading.no_cyclic_gc
        for item in produce(*args):
            pipe.send(item)
        pipe.send(None)
    except BadInput as exc:
        pipe.send(("bad", str(exc)))
    except BaseException:  # the writer must hear of it, whatever it is
        pipe.send(("crash", traceback.format_exc()))
    finally:
        pipe.close()


def _in_child(produce: Callable[..., Iterator[Any]], args: tuple) -> Iterator[Any]:
    # A fresh interpreter, not a fork: a forked child would inherit this process's SQLite state (locks, shared
    # memory of the open write transaction), which SQLite forbids touching; starting costs a fraction of a second.
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(produce, args, send), daemon=True)
    process.start()
    send.close()
    try:
        while True:
            try:
                item = receive.recv()
            except EOFError:
                raise WinbackError("the import's reader process stopped unexpectedly") from None
            if item is None:
                break
            if isinstance(item, tuple):
                if item[0] == "bad":
                    raise BadInput(item[1])
                raise WinbackError(f"the import's reader process failed:\n{item[1]}")
            yield item
    finally:
        receive.close()
        if process.is_alive():
            process.terminate()
        process.join()
