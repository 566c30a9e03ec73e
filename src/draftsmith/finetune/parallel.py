"""Data-parallel fine-tuning: one run split over several processes started by ``torchrun`` or ``accelerate launch``.

The launcher tells each process its place through the environment (WORLD_SIZE, RANK, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Every process holds the whole base and the same LoRA weights; each
micro-batch of an optimizer step is split between the processes and their gradients are summed, each already
divided by the step's token count, so a step is the single-process step on the same global batch
(``batch_size`` × ``grad_accum``) up to the order of floating-point sums. Only rank 0 writes files and reports.

Devices: on CUDA each process takes ``cuda:LOCAL_RANK`` and the processes talk over NCCL. On a machine with fewer
GPUs than processes they share the GPUs (``cuda:LOCAL_RANK mod GPUs``) and talk over gloo: the result is the same,
but sharing a GPU is no faster than one process, so launch one process per GPU. On CPUs every process uses gloo.

Failures: what can fail before training (the device, the base, the adapter, the checkpoint) runs under
:meth:`Ranks.agree`, so when one process fails every process raises instead of waiting. A process that dies during
training ends the others' next collective (:class:`PeerLost`) or the launcher stops them; one that never arrives
is given up after ``DRAFTSMITH_DIST_TIMEOUT`` seconds (default 1800).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType
from typing import Any, TypeVar

from draftsmith import errors
from draftsmith.errors import InputError, ModelError

T = TypeVar("T")
TIMEOUT_ENV = "DRAFTSMITH_DIST_TIMEOUT"
_MPI_SIZES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")


class PeerLost(ModelError):
    """Another process of the run stopped while this one waited for it."""


def is_main_process(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process reports and writes (rank 0, or the only process)."""
    env = os.environ if env is None else env
    return (env.get("RANK", "").strip() or "0") == "0"


def _number(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InputError(
            f"{name}={raw!r} is not a number; start the processes with torchrun or accelerate launch"
        ) from None


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


@dataclass
class Ranks:
    """This process's place in the run; with one process every method is a no-op."""

    world: int = 1
    rank: int = 0
    local_rank: int = 0
    local_world: int = 1
    backend: str | None = None
    owns_group: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Ranks:
        env = os.environ if env is None else env
        world = _number(env, "WORLD_SIZE", 1)
        if world <= 1:
            for name in _MPI_SIZES:
                if _number(env, name, 1) > 1:
                    raise InputError(
                        f"this run was started by mpirun ({name}={env[name]}); start several processes with "
                        "torchrun --nproc_per_node N or accelerate launch --multi_gpu --num_processes N"
                    )
            return cls()
        if not env.get("RANK", "").strip():
            raise InputError(
                f"WORLD_SIZE is {world} but RANK is not set; start the processes with torchrun or accelerate launch"
            )
        rank = _number(env, "RANK", 0)
        if not 0 <= rank < world:
            raise InputError(f"RANK={rank} is outside WORLD_SIZE={world}")
        local_rank = _number(env, "LOCAL_RANK", rank)
        return cls(world, rank, local_rank, max(1, _number(env, "LOCAL_WORLD_SIZE", world)))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def pick_device(self, wanted: str) -> str:
        """This process's device for ``--device`` (auto, cpu, cuda): ``cuda:LOCAL_RANK`` on CUDA."""
        if self.world == 1:
            return wanted
        import torch

        if wanted == "auto":
            wanted = "cuda" if torch.cuda.is_available() else "cpu"
        if wanted == "cuda" and torch.cuda.is_available():
            return f"cuda:{self.local_rank % torch.cuda.device_count()}"
        if wanted.startswith("cuda:"):
            raise InputError(
                f"--device {wanted} names one GPU, but this run has {self.world} processes; use --device cuda "
                "(each process takes the GPU of its local rank; choose the GPUs with CUDA_VISIBLE_DEVICES)"
            )
        return wanted  # cpu, or cuda without a GPU (refused by lora.pick_device)

    def start(self, device: str) -> None:
        """Join the other processes (after the device is chosen): NCCL with a GPU each, else gloo."""
        if self.world == 1:
            return
        import torch
        import torch.distributed as dist

        if not dist.is_available():
            raise InputError("this torch build has no torch.distributed; run one process")
        on_gpu = device.startswith("cuda")
        if on_gpu:
            torch.cuda.set_device(device)
        if dist.is_initialized():  # set up by the caller (e.g. accelerate's PartialState): use it, leave it open
            if dist.get_world_size() != self.world:
                raise InputError(f"the process group has {dist.get_world_size()} processes, WORLD_SIZE {self.world}")
            self.backend = str(dist.get_backend())
            return
        shared = on_gpu and torch.cuda.device_count() < self.local_world
        self.backend = "nccl" if on_gpu and not shared and dist.is_nccl_available() else "gloo"
        try:
            seconds = float(os.environ.get(TIMEOUT_ENV, "") or 1800)
        except ValueError:
            raise InputError(f"{TIMEOUT_ENV} must be a number of seconds") from None
        try:
            dist.init_process_group(self.backend, timeout=timedelta(seconds=seconds))
        except Exception as exc:  # a timeout (DistStoreError), an unreachable MASTER_ADDR, a backend failure
            where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
            raise ModelError(
                f"process {self.rank} of {self.world} could not join the others at {where} within {seconds:.0f} s "
                f"({_short(exc)}); check that every process was started (set {TIMEOUT_ENV} to wait longer)"
            ) from None
        self.owns_group = True

    def close(self) -> None:
        if self.owns_group:
            import torch.distributed as dist

            self.owns_group = False
            if dist.is_initialized():
                dist.destroy_process_group()

    # -- collectives (every process calls them in the same order) -------------------------------------------------

    def _collective(self, op: Callable[..., Any], *args: Any) -> None:
        try:
            op(*args)
        except RuntimeError as exc:  # gloo: the peer closed its connection; NCCL: the watchdog's timeout
            raise PeerLost(f"another process of this run stopped ({_short(exc)}); see its message above") from None

    def sum_(self, tensor: Any) -> Any:
        """Sum ``tensor`` over the processes, in place (gloo gets a CPU copy of a GPU tensor)."""
        if self.world == 1:
            return tensor
        import torch.distributed as dist

        if tensor.is_cuda and self.backend != "nccl":
            host = tensor.cpu()
            self._collective(dist.all_reduce, host)
            tensor.copy_(host)
        else:
            self._collective(dist.all_reduce, tensor)
        return tensor

    def broadcast_(self, tensor: Any) -> Any:
        """Rank 0's ``tensor`` on every process, in place."""
        if self.world == 1:
            return tensor
        import torch.distributed as dist

        if tensor.is_cuda and self.backend != "nccl":
            host = tensor.cpu()
            self._collective(dist.broadcast, host, 0)
            tensor.copy_(host)
        else:
            self._collective(dist.broadcast, tensor, 0)
        return tensor

    def sum_gradients(self, params: Sequence[Any], loss: float) -> float:
        """Sum the trainable parameters' gradients and the step's loss over the processes (one flat buffer)."""
        if self.world == 1:
            return loss
        import torch

        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1).float() for g in grads])
        self.sum_(flat)
        total = self.sum_(torch.tensor([loss], dtype=torch.float64, device=flat.device))
        for p, g in zip(params, flat.split([p.numel() for p in params]), strict=True):
            p.grad = g.view_as(p).to(p.dtype)
        return float(total[0])

    def sync_parameters(self, params: Sequence[Any]) -> None:
        """Rank 0's values of ``params`` on every process."""
        if self.world == 1 or not params:
            return
        import torch

        with torch.no_grad():
            flat = self.broadcast_(torch.cat([p.detach().reshape(-1).float() for p in params]))
            for p, value in zip(params, flat.split([p.numel() for p in params]), strict=True):
                p.copy_(value.view_as(p))

    def agree(self, work: Callable[[], T], *, share: bool = False) -> T:
        """Run ``work`` here; if it failed on any process, raise on every one. ``share``: return rank 0's value."""
        failure: Exception | None = None
        value: Any = None
        try:
            value = work()
        except Exception as exc:
            if self.world == 1:
                raise
            failure = exc
        if self.world == 1:
            return value
        import torch.distributed as dist

        mine = None if failure is None else (type(failure).__name__, _short(failure))
        reports: list[Any] = [None] * self.world
        try:
            dist.all_gather_object(reports, (mine, value if share and self.main else None))
        except RuntimeError as exc:
            if failure is not None:
                raise failure from None
            raise PeerLost(f"another process of this run stopped ({_short(exc)}); see its message above") from None
        if failure is not None:
            raise failure
        for rank, (report, _) in enumerate(reports):
            if report is not None:
                kind, message = report
                found = getattr(errors, kind, None)
                cls = found if isinstance(found, type) and issubclass(found, errors.DraftsmithError) else ModelError
                raise cls(f"process {rank} of {self.world} failed: {message}")
        return reports[0][1] if share else value

    # -- randomness -----------------------------------------------------------------------------------------------

    def reseed(self, seed: int, step: int) -> None:
        """Dropout masks of the processes after the first come from (seed, step, rank), so a resumed run repeats
        them; rank 0 keeps the single-process random stream, which checkpoints save."""
        if self.rank:
            import torch

            torch.manual_seed(((seed * 1_000_003 + step) * 1_009 + self.rank) % 2**63)


def split(items: Sequence[T], rank: int, world: int) -> list[T]:
    """Rank ``rank``'s contiguous share of ``items``: sizes differ by at most one, earlier ranks get the extra."""
    size, extra = divmod(len(items), world)
    start = rank * size + min(rank, extra)
    return list(items[start : start + size + (rank < extra)])


class StopSignals:
    """Ctrl-C (SIGINT) and SIGTERM while training: the first raises KeyboardInterrupt, at once or, inside
    :meth:`deferred`, when the optimizer update in progress is complete; later ones are ignored, so the checkpoint
    being written is not cut short (``torchrun`` forwards the terminal's Ctrl-C: every worker sees it twice).
    Only the main thread can handle signals; elsewhere this does nothing."""

    def __init__(self) -> None:
        self.armed, self.holding, self.pending = True, False, False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        self.armed, self.holding, self.pending = True, False, False
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        self._saved.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.armed:
            return
        if self.holding:
            self.pending = True
            return
        self.armed = False
        raise KeyboardInterrupt

    def disarm(self) -> None:
        self.armed = False

    def deferred(self) -> _Deferred:
        return _Deferred(self)


class _Deferred:
    def __init__(self, owner: StopSignals) -> None:
        self.owner = owner

    def __enter__(self) -> None:
        self.owner.holding = True

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        owner = self.owner
        owner.holding = False
        if owner.pending and owner.armed and kind is None:
            owner.pending, owner.armed = False, False
            raise KeyboardInterrupt
