"""``storyline worker``: run the streaming worker until interrupted.

By default the staged worker (docs/stages.md): ``--stage all``, extract × N and fold as
child processes of this one. ``--single``: the single-process worker (faust), every stage
in one process, as before issue #10. One stage (``--stage``):

- ``extract``: the extract stage: the stripes of the articles log (as many as the facts
  topic has partitions) spread over ``--processes K`` processes (``STORYLINE_EXTRACT_PROCESSES``;
  by default one per stripe, at most one per core but one: the fold takes a core), or given
  stripes in this process (``--stripe I [--stripe J ...] --stripes N``);
- ``fold``: assign + page in one process, from the facts topic;
- ``assign``: the assign stage alone, from the facts topic to the assignments topic (when
  the page stage runs in processes of its own);
- ``page``: page partition ``--partition P`` of the page stage, from the assignments and
  facts topics (docs/stages.md, "The page stage as processes");
- ``all``: ``extract`` × N and ``fold`` as child processes of this one (the default); with
  ``--page-processes M`` (``STORYLINE_PAGE_PROCESSES``), ``extract`` × N, ``assign`` and
  ``page`` × M.

The supervisor (``all``, or ``extract`` without ``--stripe``) holds only the standard
library: a short-lived child (``storyline worker ... --plan``, which prints the plan as JSON)
reads the settings and the topics' partitions and says which stage processes to start.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from storyline.cli import port_number
from storyline.processes import die_with_parent, usable_cores

if TYPE_CHECKING:
    from storyline.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--single", action="store_true",
                        help="the single-process worker (faust): every stage in one process")
    parser.add_argument("--web-port", type=port_number, default=None,
                        help="with --single: serve faust's web endpoints (tables, health) on "
                             "this port")
    parser.add_argument("--faust-loglevel", default="warning",
                        help="with --single: log level of faust's own logging (default: "
                             "warning)")
    parser.add_argument("--stage", choices=("extract", "fold", "assign", "page", "all"),
                        default=None,
                        help="run one stage over the facts topic, or all of them as child "
                             "processes (default: all)")
    parser.add_argument("--processes", type=int, default=None, metavar="K",
                        help="extract processes, the stripes (the facts topic's partitions) "
                             "spread over them (default: STORYLINE_EXTRACT_PROCESSES, or one "
                             "per stripe, at most the cores less one)")
    parser.add_argument("--stripe", type=int, action="append", default=None, metavar="I",
                        help="with --stage extract: run stripe I (of --stripes) in this "
                             "process; repeat it for several")
    parser.add_argument("--stripes", type=int, default=None, metavar="N",
                        help="with --stripe: the number of stripes")
    parser.add_argument("--partition", type=int, default=None, metavar="P",
                        help="with --stage page: the page partition (a partition of the "
                             "assignments topic) this process folds")
    parser.add_argument("--plan", action="store_true",
                        help="print the stage processes this would run (JSON: their commands "
                             "and the stop grace) and exit")
    parser.add_argument("--page-processes", type=int, default=None, metavar="M",
                        help="with --stage all: run the page stage as M processes beside an "
                             "assign process (M: the assignments topic's partition count; 0: "
                             "pages folded in the fold process; default: "
                             "STORYLINE_PAGE_PROCESSES)")


def run(args: argparse.Namespace) -> int:
    supervising = not args.single and (args.stage in (None, "all") or (
        args.stage == "extract" and args.stripe is None))
    if args.plan and not supervising:
        raise SystemExit("--plan prints the stage processes `storyline worker` starts: not "
                         "with --single, --stripe or a stage that runs in this process")
    if supervising and not args.plan:
        return _supervise_plan(args)
    return _run_stage(args)


def _run_stage(args: argparse.Namespace) -> int:
    import asyncio

    from storyline import outages
    from storyline.logconfig import configure_logging
    from storyline.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    outages.install(settings.bootstrap_servers,
                    reminder_seconds=settings.outage_reminder_seconds,
                    settle_seconds=settings.outage_settle_seconds)
    if args.single and args.stage is not None:
        raise SystemExit("--single runs every stage in one process: give --single or --stage")
    if args.single:
        from storyline.stream.worker import run_worker

        return _refusing(lambda: run_worker(settings, loglevel=args.faust_loglevel,
                                            web_port=args.web_port))
    if args.stage in ("fold", "assign"):
        from storyline.stream.fold_stage import run_fold

        return _refusing(lambda: run_fold(settings, pages=args.stage == "fold"))
    if args.stage == "page":
        if args.partition is None:
            raise SystemExit("--stage page needs --partition P (a partition of the "
                             "assignments topic)")
        from storyline.stream.page_stage import run_page

        return _refusing(lambda: run_page(settings, args.partition))
    if args.stage == "extract" and args.stripe is not None:
        from storyline.stream.extract_stage import run_extracts

        stripes = args.stripes if args.stripes is not None else _partitions(settings)
        outside = [i for i in args.stripe if not 0 <= i < stripes]
        if outside:
            # a StatefulSet scaled past --stripes runs pods whose index is no stripe: said in
            # one line (it was a ValueError traceback in a crash loop)
            raise SystemExit(f"stripe {outside[0]} of {stripes}: the stripes are 0 to "
                             f"{stripes - 1} (--stripes N, the facts topic's partitions); to "
                             "run more, change the facts topic's partitions, --stripes and the "
                             "extract replicas together, as a new deployment (docs/kafka.md)")
        from storyline.stream.beats import beating

        return _refusing(lambda: asyncio.run(beating(run_extracts(settings, args.stripe,
                                                                  stripes))))
    stage = args.stage or "all"
    stripes = _partitions(settings)
    processes = extract_processes(
        stripes, args.processes if args.processes is not None else settings.extract_processes)
    commands = [_command("extract", *_stripe_args(stripes, processes, k), "--stripes",
                         str(stripes)) for k in range(processes)]
    if stage == "all":
        pages = (args.page_processes if args.page_processes is not None
                 else settings.page_processes)
        if pages == 0:
            commands.append(_command("fold"))
        else:
            partitions = _partitions(settings, settings.assignments)
            if pages != partitions:
                raise SystemExit(f"{pages} page processes, and the assignments topic "
                                 f"{settings.assignments} has {partitions} partitions: one "
                                 "page process per partition (`deploy/topics.toml`)")
            commands.append(_command("assign"))
            commands.extend(_command("page", "--partition", str(p)) for p in range(pages))
    print(json.dumps({"commands": commands, "stop_seconds": settings.stage_stop_seconds,
                      "hang_seconds": settings.stage_hang_seconds,
                      "restart_pauses": list(settings.restart_pauses)}))
    return 0


def _refusing(run: Callable[[], object]) -> int:
    """Run a stage process. A state of the cluster that the operator must mend (records on
    a partition of the articles topic that is not the log, records deleted from a log the
    stage must read whole, a log made again under its state, stripes that do not match the
    facts topic or the records in it, commits of another pipeline version or of other
    partition counts of the stage topics) is said in one line,
    logged (``stage_refused``, critical) and on stderr, with exit status 2, not as a
    traceback."""
    import structlog

    from storyline.kafka.articles_log import ArticlesOffTheLog
    from storyline.stream.extract_stage import StripeMismatch
    from storyline.stream.logreader import LogRewound, LogTruncated
    from storyline.stream.offsets import PartitionsChanged, PipelineChanged
    from storyline.stream.stripes import MisplacedRecord

    try:
        run()
    except (ArticlesOffTheLog, LogRewound, LogTruncated, MisplacedRecord, PartitionsChanged,
            PipelineChanged, StripeMismatch) as exc:
        structlog.get_logger(__name__).critical("stage_refused", error_type=type(exc).__name__,
                                                reason=str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _supervise_plan(args: argparse.Namespace) -> int:
    """The supervisor: its plan (the stage processes, from the settings and the topics'
    partitions) from a short-lived ``--plan`` child, then the stages. So this process, which
    lives as long as the stages do, holds only the standard library (~12 MB) and not the
    settings' and Kafka client's libraries (~48 MB)."""
    # it waits for the broker (a host's boot): it must not outlive a supervisor stopped
    # meanwhile
    planner = subprocess.run([*_command_prefix(), "worker", *_plan_args(args), "--plan"],
                             stdout=subprocess.PIPE, env=_children_env(),
                             preexec_fn=functools.partial(die_with_parent, signal.SIGTERM))
    if planner.returncode != 0:  # its reason is on stderr already
        return planner.returncode
    plan = json.loads(planner.stdout)
    return _supervise(plan["commands"], stop_seconds=float(plan["stop_seconds"]),
                      hang_seconds=float(plan.get("hang_seconds", 0.0)),
                      pauses=tuple(float(p) for p in plan.get("restart_pauses",
                                                               RESTART_PAUSES)))


def _plan_args(args: argparse.Namespace) -> list[str]:
    """The arguments of ``storyline worker`` that shape its plan."""
    words = ["--stage", args.stage] if args.stage is not None else []
    for flag, value in (("--processes", args.processes),
                        ("--page-processes", args.page_processes)):
        if value is not None:
            words += [flag, str(value)]
    return words


def extract_processes(stripes: int, asked: int | None, cores: int | None = None) -> int:
    """How many extract processes run the ``stripes``: ``asked``, or one per stripe but no
    more than the cores less one. The fold (one process, the staged worker's bottleneck)
    takes a core; an extract process beyond the cores left only adds an interpreter's
    memory (~65 MB of libraries, plus its fetch buffers)."""
    if asked is not None:
        if not 1 <= asked <= stripes:
            raise SystemExit(f"{asked} extract processes for {stripes} stripes (the facts "
                             f"topic's partitions): give 1 to {stripes}")
        return asked
    cores = cores if cores is not None else usable_cores()
    return max(1, min(stripes, cores - 1))


def _stripe_args(stripes: int, processes: int, k: int) -> list[str]:
    """``--stripe I`` for each stripe process ``k`` of ``processes`` runs (i mod K == k)."""
    return [arg for i in range(k, stripes, processes) for arg in ("--stripe", str(i))]


def _partitions(settings: Settings, topic: str | None = None) -> int:
    import asyncio

    from storyline.stream.logreader import end_offsets
    from storyline.stream.reconnect import retried

    topic = topic or settings.facts
    # started with the broker (a host's boot) or in a broker bounce: wait for it
    found = len(asyncio.run(retried(lambda: end_offsets(settings.bootstrap_servers, topic),
                                    f"{topic} partitions")))
    if not found:
        raise SystemExit(f"the topic {topic} does not exist: run `storyline topics apply`")
    return found


def _command_prefix() -> list[str]:
    return [sys.executable, "-m", "storyline.cli"]


def _command(stage: str, *extra: str) -> list[str]:
    return [*_command_prefix(), "worker", "--stage", stage, *extra]


def _own_session(parent: int) -> None:
    """In a child, before exec: die with the supervisor (Linux), which passes signals on.

    A supervisor SIGKILLed between the fork and the death signal being set leaves a child
    the kernel will never signal: a fold that would hold the state directory's lock from
    every successor for good. Such a child finds its parent changed, and leaves."""
    os.setsid()
    die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(1)


def _children_env() -> dict[str, str]:
    """The stage processes' environment: this one's, without a fixed stage port (several
    stages of one host listen on ports of their own: the worker's port plus their index)."""
    env = dict(os.environ)
    env.pop("STORYLINE_STAGE_METRICS_PORT", None)
    return env


# A stage process that dies is started again after these pauses (the n-th death in a row of
# one stage waits the n-th; a stage that ran RESTART_RESET seconds counts from the first
# again; STORYLINE_STAGE_RESTART_PAUSES, whose default they are, sets others). CRASH_LOOP
# deaths in a row, each within RESTART_RESET of its start, mean something no restart will
# fix (a bad setting, a broken broker): the set stops and the supervisor exits non-zero, for
# an operator, systemd or Kubernetes to see.
RESTART_PAUSES = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0)
RESTART_RESET = 60.0
CRASH_LOOP = 6


def _supervise(commands: list[list[str]], stop_seconds: float = 60.0, *,
               pauses: tuple[float, ...] = RESTART_PAUSES, reset: float = RESTART_RESET,
               crash_loop: int = CRASH_LOOP, hang_seconds: float = 0.0) -> int:
    """Run the stage processes; SIGTERM/SIGINT is passed on to each. A stage that dies
    (a crash, the OOM killer, a SIGKILL) is started again on its own: the others go on, so
    a fold that dies keeps no extract process from working, and its restart costs one
    interpreter's start, not the whole set's. A stage that keeps dying stops the set.

    Each runs in a session of its own, as separately started processes (or containers) do:
    with the kernel's autogroup scheduling (the default on desktop and many server
    kernels) the processes of one session share one CPU share, so on a busy machine N
    stage processes in the supervisor's session would get no more CPU than one.

    ``hang_seconds`` (0: never): a stage whose event loop has not beaten for this long
    (``storyline.stream.beats``: a byte a second on a pipe of its own) hangs, paused or
    deadlocked; it is killed (SIGKILL) and so started again like any that dies. It used to
    be left as it was: a fold stopped by SIGSTOP held the state and the log's progress for
    good, and nothing but ``storyline status`` said so."""
    own_session = functools.partial(_own_session, os.getpid())
    env = _children_env()
    beats: dict[int, int] = {}  # stage index -> the read end of its beat pipe
    last_beat: dict[int, float] = {}

    def start(command: list[str], i: int) -> subprocess.Popen[bytes]:
        read, write = os.pipe()
        os.set_blocking(read, False)
        if i in beats:
            os.close(beats[i])
        beats[i], last_beat[i] = read, time.monotonic()
        try:
            return subprocess.Popen(command, preexec_fn=own_session, pass_fds=(write,),
                                    env=dict(env, STORYLINE_SUPERVISOR_BEAT_FD=str(write)))
        finally:
            os.close(write)

    def heard(i: int, now: float) -> None:
        try:
            while os.read(beats[i], 4096):
                last_beat[i] = now
        except BlockingIOError:
            pass  # nothing more now

    children = [start(command, i) for i, command in enumerate(commands)]
    started = [time.monotonic()] * len(children)
    deaths = [0] * len(children)  # deaths in a row of each stage
    due: dict[int, float] = {}  # stage index -> when it is started again
    stopping = False
    gave_up = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while not stopping and not gave_up:
        time.sleep(0.2)
        now = time.monotonic()
        for i, child in enumerate(children):
            if stopping:
                break
            if i in due:
                if now >= due[i]:
                    del due[i]
                    children[i], started[i] = start(commands[i], i), now
                continue
            code = child.poll()
            if code is None:
                heard(i, now)
                if hang_seconds and now - last_beat[i] > hang_seconds:
                    print(f"storyline worker: stage process {child.pid} "
                          f"({_described(child.args)}) has not beaten for "
                          f"{now - last_beat[i]:.0f} s: it hangs; killed (SIGKILL)",
                          file=sys.stderr, flush=True)
                    child.kill()  # a stopped process dies of it too; restarted below
                continue
            deaths[i] = 1 if now - started[i] >= reset else deaths[i] + 1
            if deaths[i] >= crash_loop:
                print(f"storyline worker: stage process {child.pid} ({_described(child.args)}) "
                      f"exited with {code}, {deaths[i]} times in a row within {reset:g} s "
                      "of its start: stopping the stages", file=sys.stderr, flush=True)
                gave_up = True
                break
            pause = pauses[min(deaths[i], len(pauses)) - 1] if pauses else 0.0
            print(f"storyline worker: stage process {child.pid} ({_described(child.args)}) "
                  f"exited with {code}: started again in {pause:g} s", file=sys.stderr,
                  flush=True)
            due[i] = now + pause
    if not stopping:
        forward(signal.SIGTERM, None)
    codes = _stopped([c for i, c in enumerate(children) if i not in due], stop_seconds)
    for read in beats.values():
        os.close(read)
    return 0 if not gave_up and all(code in (0, -signal.SIGTERM) for code in codes) else max(
        1, *(abs(code) for code in codes))


def _stopped(children: list[subprocess.Popen[bytes]], stop_seconds: float) -> list[int]:
    """The children's exit codes once each has stopped: a child still running
    ``stop_seconds`` after SIGTERM was passed on is killed (SIGKILL), and says so."""
    deadline = time.monotonic() + stop_seconds
    codes: list[int] = []
    for child in children:
        try:
            codes.append(child.wait(timeout=max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            print(f"storyline worker: stage process {child.pid} ({_described(child.args)}) "
                  f"did not stop within {stop_seconds:g} s of SIGTERM: killed", file=sys.stderr)
            child.kill()
            codes.append(child.wait())
    return codes


def _described(args: object) -> str:
    """The stage part of a stage process's command line ("--stage extract --stripe 0 ...")."""
    words = [str(a) for a in args] if isinstance(args, list) else [str(args)]
    return " ".join(words[words.index("--stage"):] if "--stage" in words else words)
