"""Running blocking operations for async requests: a bounded queue in front of the model, worker
threads, streaming to Server-Sent Events, and stopping the model when the client goes away.

Operations are synchronous and report text through an ``on_text`` callback. Each request becomes a
``Job`` in a worker thread; its ``on_text`` forwards text to the event loop and raises ``Cancelled``
once the client has disconnected, which unwinds the operation and closes the model's stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, Protocol, TypeVar

from fastapi import Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse

from draftsmith.errors import DraftsmithError
from draftsmith.server.errors import ApiError, Cancelled, as_api_error

log = logging.getLogger("draftsmith.server")
T = TypeVar("T")
Work = Callable[[Callable[[str], None]], T]
_END = object()


class ModelGate:
    """Admission in front of the model: ``concurrency`` jobs run in worker threads and up to
    ``queue_size`` more wait their turn; beyond that a request is refused at once (429) with a
    Retry-After estimated from how long recent jobs took."""

    def __init__(self, concurrency: int = 1, queue_size: int = 8) -> None:
        self.concurrency = concurrency
        self.capacity = concurrency + queue_size
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="draftsmith-model")
        self._lock = threading.Lock()
        self._admitted = 0
        self._mean_s = 1.0  # moving average of job durations

    @property
    def admitted(self) -> int:
        """Jobs running or waiting."""
        return self._admitted

    def retry_after(self) -> int:
        waves = math.ceil((self._admitted - self.concurrency + 1) / self.concurrency)
        return min(max(math.ceil(self._mean_s * max(waves, 1)), 1), 120)

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        with self._lock:
            if self._admitted >= self.capacity:
                wait = self.retry_after()
                raise ApiError(
                    429,
                    "busy",
                    f"the model is busy ({self._admitted} requests running or queued); retry in {wait} s",
                    {"Retry-After": str(wait)},
                )
            self._admitted += 1

        def timed() -> T:
            start = time.perf_counter()
            try:
                return fn()
            finally:
                elapsed = time.perf_counter() - start
                with self._lock:
                    self._mean_s = 0.8 * self._mean_s + 0.2 * elapsed

        try:
            future = self._executor.submit(timed)
        except RuntimeError:  # shut down
            self._release(None)
            raise ApiError(503, "shutting_down", "the server is shutting down", {"Retry-After": "5"}) from None
        future.add_done_callback(self._release)
        return future

    def _release(self, _: Any) -> None:
        with self._lock:
            self._admitted -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Job(Generic[T]):
    """One operation in a worker thread. ``on_text`` forwards text to the event loop (when streaming)
    and raises ``Cancelled`` after ``cancel()``; a job cancelled before it starts never runs."""

    def __init__(self, gate: ModelGate, work: Work[T], *, forward: bool) -> None:
        self.cancelled = threading.Event()
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] | None = asyncio.Queue() if forward else None
        self._ended = False
        self._work = work
        self.future: Future[T] = gate.submit(self._run)
        if forward:
            self.future.add_done_callback(lambda _: self._put(_END))

    def on_text(self, text: str) -> None:
        if self.cancelled.is_set():
            raise Cancelled()
        if text and self._queue is not None:
            self._put(text)

    def cancel(self) -> None:
        self.cancelled.set()
        self.future.cancel()

    async def result(self) -> T:
        try:
            return await asyncio.wrap_future(self.future)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self.cancelled.is_set() and task is not None and not task.cancelling():
                raise Cancelled() from None  # the job was dropped from the queue, not this task
            self.cancel()
            raise

    async def next_text(self) -> str | None:
        """Text produced since the last call (joined), or None once the job has ended."""
        assert self._queue is not None
        if self._ended:
            return None
        parts: list[str] = []
        item = await self._queue.get()
        while True:
            if item is _END:
                self._ended = True
                break
            parts.append(item)
            if self._queue.empty():
                break
            item = self._queue.get_nowait()
        return "".join(parts) if parts else None

    def _put(self, item: Any) -> None:
        assert self._queue is not None
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the request's event loop is gone
            self.cancelled.set()

    def _run(self) -> T:
        if self.cancelled.is_set():
            raise Cancelled()
        try:
            return self._work(self.on_text)
        except (DraftsmithError, ApiError, Cancelled) as exc:
            raise _bare(exc) from None
        except Exception as exc:
            log.error("operation failed", exc_info=exc)
            raise ApiError(500, "internal_error", "internal error; the server log has the details") from None


def _bare(exc: BaseException) -> BaseException:
    """Drop the traceback: its frames would keep the model's stream generator (and its lock) alive."""
    exc.__context__ = None
    return exc.with_traceback(None)


@contextlib.asynccontextmanager
async def cancel_on_disconnect(request: Request, job: Job[Any]) -> AsyncIterator[None]:
    """Cancel ``job`` if the client disconnects while the block runs."""

    async def watch() -> None:
        with contextlib.suppress(Exception):
            while (await request.receive())["type"] != "http.disconnect":
                pass
            job.cancel()

    task = asyncio.create_task(watch())
    try:
        yield
    finally:
        task.cancel()


async def run_operation(request: Request, gate: ModelGate, work: Work[T]) -> T:
    """Run ``work`` on the model and return its result; the model stops if the client leaves."""
    job = Job(gate, work, forward=False)
    async with cancel_on_disconnect(request, job):
        return await job.result()


class Encoder(Protocol):
    """How a stream's pieces become SSE events (dicts for sse-starlette)."""

    def start(self) -> Iterable[dict[str, Any]]: ...
    def text(self, text: str) -> Iterable[dict[str, Any]]: ...
    def done(self, result: Any) -> Iterable[dict[str, Any]]: ...
    def error(self, error: ApiError) -> Iterable[dict[str, Any]]: ...


async def stream_operation(
    request: Request,
    gate: ModelGate,
    work: Work[Any],
    encoder: Encoder,
    *,
    ping_s: float = 15,
    on_done: Callable[[], None] | None = None,
) -> Response:
    """Stream ``work``'s text as SSE. Headers go out with the first text, so a failure before any
    output (bad input, unknown style, model down) is still a plain JSON error with its HTTP status;
    a failure after that is an error event. The model stops when the client disconnects. ``on_done`` runs
    once the job has ended (finished, failed, or cancelled before or while running)."""
    job: Job[Any] = Job(gate, work, forward=True)
    if on_done is not None:
        job.future.add_done_callback(lambda _: on_done())
    async with cancel_on_disconnect(request, job):
        try:
            first = await job.next_text()
        except asyncio.CancelledError:
            job.cancel()
            raise
    if first is None:
        await job.result()  # raises the operation's error as an HTTP error

    async def events() -> AsyncIterator[dict[str, Any]]:
        try:
            for event in encoder.start():
                yield event
            text = first
            while text is not None:
                for event in encoder.text(text):
                    yield event
                text = await job.next_text()
            try:
                result = await job.result()
            except Exception as exc:
                for event in encoder.error(as_api_error(exc)):
                    yield event
            else:
                for event in encoder.done(result):
                    yield event
        finally:
            job.cancel()  # no-op once finished; stops the worker if the client left

    async def on_close(message: Any) -> None:
        job.cancel()

    return EventSourceResponse(events(), ping=ping_s, sep="\n", client_close_handler_callable=on_close)
