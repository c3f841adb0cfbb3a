"""The contract every runtime implements, with its defaults, and helpers backends share.

A subclass sets `Options`, `description`, `packages`, `artifact` and `precisions`, and
implements `compile()` and `load()`. Everything else has a default here, so no caller probes a
backend with getattr: `status()` (from `modules`), `versions()`, `install_text()`,
`predict_template`, `layer_profile()` (none), `placement_summary()` (how int8 was made) and
the tuning contract: `default_settings()`, `tuning_space()` (nothing to tune) and
`with_settings()` (the same backend loading with other threads and runtime options).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from edgekd.errors import ArtifactError, ConfigError, RuntimeMissingError
from edgekd.records import BackendStatus, LayerProfile, RuntimeSettings
from edgekd.registry import Plugin

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


Feed = np.ndarray | dict  # the model's one input, or {input name: array} (several inputs)


class Runner(Protocol):
    """A loaded artifact: its first output for a batch, and where it runs (`describe`).

    `x` is the model's only input as an array (the pipeline's case), or, for a model with
    several inputs (`edgekd profile` on any ONNX file), a dict of arrays by input name; a
    runtime that takes one input only accepts a one-entry dict (see `single_input`)."""

    def __call__(self, x: Feed) -> np.ndarray: ...

    def describe(self) -> dict: ...


@dataclass(frozen=True)
class CompileContext:
    """What some backends need beyond the ONNX file: the torch model, a validation split."""

    load_model: Callable[[], Any] | None = None  # -> the trained torch nn.Module (eval mode)
    val: tuple[np.ndarray, np.ndarray] | None = None  # never the test split
    accuracy_gate: float = 0.99


@dataclass(frozen=True)
class RuntimeStatus:
    """A backend's state here and, unless it runs here, why not (one sentence for a user)."""

    state: BackendStatus
    reason: str = ""

    @property
    def runs_here(self) -> bool:
        return self.state is BackendStatus.RUNS_HERE


class Backend(Plugin):
    """One runtime. Constructed per target; `options` is the target's parsed runtime_options."""

    packages: ClassVar[tuple[str, ...]] = ()  # distributions `pip install` brings
    modules: ClassVar[tuple[str, ...] | None] = None  # import names it needs; None: packages
    install_hint: ClassVar[str] = ""  # when plain `pip install <packages>` is not the answer
    extra: ClassVar[str | None] = None  # the edgekd pip extra that installs it (None: core)
    # "<sys.platform>-<machine>" where PyPI has its wheels (`edgekd[all]` installs it there;
    # pyproject.toml's markers say the same, a test checks); None: everywhere
    wheel_platforms: ClassVar[tuple[str, ...] | None] = None
    artifact: ClassVar[str] = "model.onnx"  # the bundle's main file
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    predict_template: ClassVar[str | None] = None  # deploy/templates/predict_<this>.py
    compiles_without_runtime: ClassVar[bool] = False  # compile() works where load() cannot
    # one thread pool per process, sized at load: two runners with different thread counts
    # cannot live side by side (tuning loads each candidate only while it is measured)
    process_thread_pool: ClassVar[bool] = False
    built_on_device: ClassVar[tuple[str, ...]] = ()  # files a bundle may gain there, unhashed
    int8_path: ClassVar[str | None] = None  # edgekd.quant's QAT / mixed-precision tooling

    def __init__(self, target):
        self.target = target
        self.options = self.parse_options(target.runtime_options)

    # -------------------------------------------------------------- what runs here
    def missing(self) -> list[str]:
        return missing_packages(*(self.packages if self.modules is None else self.modules))

    def status(self) -> RuntimeStatus:
        missing = self.missing()
        if not missing:
            return RuntimeStatus(BackendStatus.RUNS_HERE)
        verb = "is" if len(missing) == 1 else "are"
        why = f"{' and '.join(missing)} {verb} not installed: {self.install_text()}"
        if self.compiles_without_runtime:
            return RuntimeStatus(BackendStatus.COMPILES_ONLY, f"not built here: {why}")
        return RuntimeStatus(BackendStatus.MISSING, why)

    def require_runtime(self) -> None:
        """Raise RuntimeMissingError unless this runtime can load artifacts here."""
        status = self.status()
        if not status.runs_here:
            raise RuntimeMissingError(status.reason)

    def install_text(self) -> str:
        if self.install_hint:
            return self.install_hint
        have = package_versions(*self.packages)
        return "pip install " + " ".join(
            [p for p in self.packages if p not in have] or self.packages
        )

    def versions(self) -> dict[str, str]:
        return package_versions(*self.packages)

    @classmethod
    def installs_from_pypi_here(cls) -> bool:
        """Whether `pip install 'edgekd[all]'` brings this runtime on this platform."""
        return cls.wheel_platforms is None or this_platform() in cls.wheel_platforms

    # -------------------------------------------------------------- build and run
    def check_precision(self, precision: str) -> None:
        check_precision(self.target, self.precisions, precision)

    def precision_unsupported(self, precision: str) -> str:
        """Why this precision cannot run on this machine ('' when it can): the plan skips it
        with that reason instead of compiling and measuring something else."""
        return ""

    def compile(
        self,
        onnx_path: Path,
        precision: str,
        calib: np.ndarray,
        out_dir: Path,
        context: CompileContext | None = None,
    ) -> dict:
        """Build the artifact into `out_dir`; the info dict names its `files` (the bundle) and
        may name the bundle's main file under `artifact` when it differs from the default."""
        raise NotImplementedError

    def load(self, artifact_dir: Path) -> Runner:
        raise NotImplementedError

    # -------------------------------------------------------------- tuning
    def default_settings(self) -> RuntimeSettings:
        """The target's own settings, its thread count a ceiling capped at the CPUs here."""
        return RuntimeSettings(threads=local_threads(self.target))

    def tuning_space(self, precision: str) -> list[RuntimeSettings]:
        """The settings worth measuring for an artifact of `precision` on this machine, the
        default first. By default there is nothing to tune: a runtime that knows which of
        its settings matter (threads, optimisation level, hints) declares them."""
        return [self.default_settings()]

    def thread_space(self) -> list[RuntimeSettings]:
        """Thread counts from 1 up to the ceiling here (`thread_ladder`), no other change."""
        ladder = thread_ladder(local_threads(self.target))
        return unique([self.default_settings(), *(RuntimeSettings(threads=t) for t in ladder)])

    def with_settings(self, settings: RuntimeSettings) -> Backend:
        """This backend loading with `settings`: the target's threads replaced and its
        runtime options overridden (checked by the backend's own Options)."""
        options = self.Options.model_validate(self.options.model_dump() | settings.options)
        update = {"threads": settings.threads, "runtime_options": options}
        return type(self)(self.target.model_copy(update=update))

    # -------------------------------------------------------------- neutral summaries
    def layer_profile(
        self, artifact_dir: Path, sample: np.ndarray, runs: int
    ) -> LayerProfile | None:
        """The slowest ops from the runtime's own counters; None where it has none."""
        return None

    def placement_summary(self, compile_info: dict, runtime_placement: dict) -> str:
        """One short report cell: where ops ran, or how the artifact was quantized."""
        quant = compile_info.get("quantization") or {}
        return quant.get("method", "-") if quant else "-"

    def predict_script(self) -> Traversable | None:
        """The bundle's predict.py source, if this runtime has one."""
        name = (self.predict_template or self.target.runtime).replace("-", "_")
        template = resources.files("edgekd.deploy") / "templates" / f"predict_{name}.py"
        return template if template.is_file() else None


def this_platform() -> str:
    """`<sys.platform>-<machine>` as pip's environment markers see them (linux-x86_64)."""
    import platform
    import sys

    return f"{sys.platform}-{platform.machine()}"


def single_input(x: Feed, runtime: str) -> np.ndarray:
    """The array of a runner that takes one input, from an array or a one-entry dict."""
    if isinstance(x, np.ndarray):
        return x
    if len(x) != 1:
        raise ArtifactError(
            f"{runtime} artifacts are run with one input here; this model has {len(x)} "
            f"({', '.join(x)}). Profile it on an ONNX Runtime or OpenVINO target."
        )
    return next(iter(x.values()))


def missing_packages(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def package_versions(*dists: str) -> dict[str, str]:
    """Installed versions of the given distributions; absent ones are left out."""
    out = {}
    for d in dists:
        try:
            out[d] = importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def default_threads() -> int:
    """Physical cores where known, else logical CPUs available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def local_threads(target) -> int:
    """The target's thread count, capped at the CPUs here (a phone's 4 cores on a 2-CPU box)."""
    return min(target.threads or default_threads(), default_threads())


def thread_ladder(ceiling: int) -> list[int]:
    """1..ceiling where that is short (<= 4), else the powers of two below it and itself: a
    16-core host tries 1, 2, 4, 8, 16 rather than sixteen near-identical settings."""
    if ceiling <= 4:
        return list(range(1, ceiling + 1))
    ladder = [1 << i for i in range(ceiling.bit_length()) if 1 << i < ceiling]
    return ladder + [ceiling]


def unique(settings: list[RuntimeSettings]) -> list[RuntimeSettings]:
    """Candidates in order, each once (the default may also appear in a runtime's grid)."""
    seen, out = set(), []
    for s in settings:
        key = s.model_dump_json()
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def check_precision(target, supported: tuple[str, ...], precision: str) -> None:
    if precision not in supported:
        raise ConfigError(
            f"target '{target.name}': precision '{precision}' is not supported by the "
            f"'{target.runtime}' backend; supported: {', '.join(supported)}. Edit the target's "
            "`precisions` list."
        )


VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (x86 `flags`, ARM `Features`), empty where unreadable."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 bf16 dot products (AVX-512 BF16, AMX)


def bf16_support(flags: set[str] | None = None) -> tuple[bool, str]:
    """Whether this CPU computes in bf16 natively, and why: without AVX-512 BF16 or AMX, a
    runtime asked for bf16 would convert back and forth and run no faster than f32."""
    flags = cpu_flags() if flags is None else flags
    found = sorted(f for f in BF16_FLAGS if f in flags)
    if found:
        return True, f"CPU has {', '.join(found)}"
    if not flags:
        return False, "CPU flags unreadable: bf16 support unknown, not used"
    return False, "CPU has no bf16 instructions (avx512_bf16 / amx_bf16)"


def int8_reduce_range(flags: set[str] | None = None) -> tuple[bool, str]:
    """Whether int8 weights should use 7 bits, and why.

    Without VNNI-class dot-product instructions, x86 u8*s8 kernels (VPMADDUBSW) can saturate
    16-bit intermediates; ONNX Runtime's docs advise reduce_range there. With VNNI/dot-product
    the full 8-bit range is exact.
    """
    flags = cpu_flags() if flags is None else flags
    found = sorted(f for f in VNNI_FLAGS if f in flags)
    if found:
        return False, f"CPU has {', '.join(found)}: full 8-bit weights"
    if not flags:
        return True, "CPU flags unreadable: assume no VNNI, use 7-bit weights (reduce_range)"
    return True, "CPU has no VNNI/dot-product instructions: 7-bit weights (reduce_range)"
