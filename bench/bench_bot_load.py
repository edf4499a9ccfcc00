"""Load benchmark of the Telegram bot: `newsbite serve` on the news corpus, long-polling a
loopback fake Bot API (bench/loopback_bot_api.py), beside a minimal python-telegram-bot bot
that answers every message with a fixed text, measured the same way in the same run.

    python bench/bench_bot_load.py [--corpus ../shared/data/news] [--rate 100] [--seconds 30]
    python bench/bench_bot_load.py --profile --rate 20   # where the CPU goes, under cProfile

Four bots, each in its own process, flood control off (NEWSBITE_RATE_LIMIT=0): the minimal
bot; the minimal bot with the two transport tweaks `newsbite serve` makes (what lifts
python-telegram-bot's own ceiling); `newsbite serve` with the engine's answer replaced by a
canned one (the bot layer alone); and `newsbite serve` itself. Phases:

1. fixed load: ``--rate`` questions per second from 100 private chats for ``--seconds``;
2. the highest rate each bot sustains (every question answered, p95 ≤ 100 ms), in steps;
3. an admin /reload of a copy of the corpus with ``--reload-files`` files changed, while
   questions keep coming at ``--reload-rate``.

Latency is from the moment a question is queued at the fake Bot API to the moment the bot's
sendMessage for it arrives. CPU is the user + system time of the bot's process and all its
descendants (newsbite's engine process; the indexer's workers during a reload) divided by the
questions answered; memory is their RSS summed. Prints markdown;
copy it into docs/benchmarks.md with the command line. The machine's other load skews numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from loopback_bot_api import LoopbackBotApi  # noqa: E402

TOKEN = "123456789:AAH-load-bench-token"
ADMIN = 1
CHATS = tuple(range(1001, 1101))  # 100 private chats
P95_TARGET_MS = 100.0
RELOAD_P95_TARGET_MS = 500.0
STEP_RATES = (20, 40, 50, 60, 70, 80, 100, 120, 140, 160, 180, 200, 240, 280, 320)
MINIMAL_REPLY = "Thanks for your message!"
TICKS = os.sysconf("SC_CLK_TCK")
MINIMAL = "minimal PTB bot"
TWEAKED_MINIMAL = "minimal PTB bot with newsbite's two transport tweaks"
NEWSBITE = "newsbite"
CANNED = "newsbite, engine replaced by one canned answer"
BOT_KEYS = {"minimal": MINIMAL, "tweaked": TWEAKED_MINIMAL, "canned": CANNED, "newsbite": NEWSBITE}
QUESTIONS = 20_000  # distinct questions: repeats would flatter any cache on the way


# -- the minimal bot ----------------------------------------------------------------------------


def run_minimal_bot(api_url: str, *, tweaked: bool = False) -> None:
    """The floor: python-telegram-bot set up like ours (same concurrency and timeouts),
    answering every text message with a fixed text and nothing else. ``tweaked``: with the
    two transport tweaks of `newsbite serve` (no failing sniffio import per request, a pause
    between getUpdates calls)."""
    from bot.serve import (
        ALLOWED_UPDATES,
        POLL_INTERVAL_SECONDS,
        POLL_TIMEOUT_SECONDS,
        skip_missing_sniffio,
    )

    if tweaked:
        skip_missing_sniffio()
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    from bot.app import CONCURRENT_UPDATES, Timeouts

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message:
            await update.effective_message.reply_text(MINIMAL_REPLY)

    timeouts = Timeouts()
    application = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(api_url)
        .concurrent_updates(CONCURRENT_UPDATES)
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.read)
        .write_timeout(timeouts.write)
        .pool_timeout(timeouts.pool)
        .get_updates_read_timeout(timeouts.get_updates_read)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, answer))
    application.run_polling(
        allowed_updates=ALLOWED_UPDATES,
        timeout=POLL_TIMEOUT_SECONDS,
        poll_interval=POLL_INTERVAL_SECONDS if tweaked else 0.0,
    )


# -- processes ----------------------------------------------------------------------------------


class BotProcess:
    def __init__(self, label: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.label = label
        self.log = log  # its stderr: a file, since a full pipe would stall the bot
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr
            )

    def processes(self) -> list[int]:
        """The bot's pid and those of all its live descendants (newsbite's engine process,
        the indexer's workers during a reload)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def cpu_seconds(self) -> float:
        """User + system time of the bot and its live descendants, and of the children of
        each that have ended."""
        total = 0
        for pid in self.processes():
            try:
                with open(f"/proc/{pid}/stat") as file:
                    fields = file.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(value) for value in fields[11:15])
        return total / TICKS

    def memory_mb(self) -> tuple[float, float]:
        """Resident set size now and at its peak, in MB, of the bot and its live descendants
        together (peaks summed: an upper bound)."""
        now = peak = 0.0
        for pid in self.processes():
            values: dict[str, float] = {}
            try:
                with open(f"/proc/{pid}/status") as file:
                    for line in file:
                        name, _, rest = line.partition(":")
                        if name in ("VmRSS", "VmHWM"):
                            values[name] = int(rest.split()[0]) / 1024
            except OSError:
                continue
            now += values.get("VmRSS", 0.0)
            peak += values.get("VmHWM", 0.0)
        return now, peak

    def stop(self) -> str:
        """SIGTERM, wait, and its stderr."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        err = self.log.read_text(errors="replace")
        if self.process.returncode != 0:
            print(f"{self.label} exited {self.process.returncode}:\n{err[-2000:]}")
        return err


def bot_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBITE_")}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        NEWSBITE_RATE_LIMIT="0",  # no per-user limit, no outgoing flood control
        NEWSBITE_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def our_bot_command(
    api: LoopbackBotApi, corpus: Path, db: Path, *, canned: bool = False
) -> list[str]:
    return [
        *(["--canned-engine"] if canned else []),
        *("--newsbite", "serve", "--api-url", api.base_url),
        *("--corpus", str(corpus), "--db", str(db), "--admins", str(ADMIN)),
    ]


def minimal_bot_command(api: LoopbackBotApi) -> list[str]:
    return ["--minimal-bot", api.base_url]


def tweaked_minimal_bot_command(api: LoopbackBotApi) -> list[str]:
    return ["--minimal-bot", api.base_url, "--tweaked"]


async def start_bot(
    label: str,
    api: LoopbackBotApi,
    arguments: list[str],
    workdir: Path,
    profile_to: Path | None = None,
) -> BotProcess:
    """Start a bot (this script in a child mode) and wait until it long-polls (its engine is
    loaded by then)."""
    profiling = ["--profile-to", str(profile_to)] if profile_to else []
    command = [sys.executable, str(Path(__file__).resolve()), *profiling, *arguments]
    log = workdir / f"{label.replace(' ', '_').replace(',', '')}.log"
    bot = BotProcess(label, command, bot_env(), log)
    deadline = time.monotonic() + 300
    while api.stats.get_updates_calls == 0:
        if bot.process.poll() is not None or time.monotonic() > deadline:
            output = await asyncio.to_thread(bot.stop)
            raise RuntimeError(f"{label} did not start:\n{output[-3000:]}")
        await asyncio.sleep(0.05)
    return bot


# -- load and measurement -----------------------------------------------------------------------


@dataclass
class Run:
    label: str
    rate: float
    seconds: float
    asked: int
    answered: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    cpu_seconds: float
    rss_mb: float
    peak_rss_mb: float
    updates_per_poll: float  # updates per getUpdates answer: how much polling batches

    @property
    def sustained(self) -> bool:
        return self.answered == self.asked and self.p95_ms <= P95_TARGET_MS

    @property
    def cpu_ms_per_answer(self) -> float:
        return self.cpu_seconds * 1000 / max(self.answered, 1)

    @property
    def cpu_share(self) -> float:
        return self.cpu_seconds / self.seconds


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def generate(
    api: LoopbackBotApi, questions: Sequence[str], rate: float, done: Callable[[], bool]
) -> int:
    """Questions at ``rate`` per second, round-robin over the chats, until ``done()``; how
    many were asked."""
    started = time.perf_counter()
    number = 0
    while not done():
        delay = started + number / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        api.ask(CHATS[number % len(CHATS)], questions[number % len(questions)])
        number += 1
    return number


async def measure(
    api: LoopbackBotApi, bot: BotProcess, rate: float, load: Awaitable[int], grace: float = 5.0
) -> Run:
    """Run ``load``, then wait up to ``grace`` seconds for the last answers."""
    api.take_stats()
    cpu_before = bot.cpu_seconds()
    started = time.perf_counter()
    asked = await load
    elapsed = time.perf_counter() - started
    deadline = time.perf_counter() + grace
    while api.open_questions() and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    cpu = bot.cpu_seconds() - cpu_before
    stats = api.take_stats()
    latencies = [d.latency_ms for d in stats.deliveries if d.chat_id != ADMIN]
    rss, peak = bot.memory_mb()
    return Run(
        label=bot.label,
        rate=rate,
        seconds=elapsed,
        asked=asked,
        answered=len(latencies),
        p50_ms=percentile(latencies, 0.5),
        p95_ms=percentile(latencies, 0.95),
        p99_ms=percentile(latencies, 0.99),
        max_ms=max(latencies, default=float("nan")),
        cpu_seconds=cpu,
        rss_mb=rss,
        peak_rss_mb=peak,
        updates_per_poll=stats.updates_delivered / max(stats.get_updates_calls, 1),
    )


async def drive(
    api: LoopbackBotApi, bot: BotProcess, questions: Sequence[str], rate: float, seconds: float
) -> Run:
    """``rate`` questions per second for ``seconds``."""
    end = time.perf_counter() + seconds
    load = generate(api, questions, rate, lambda: time.perf_counter() >= end)
    return await measure(api, bot, rate, load)


async def drain(api: LoopbackBotApi, timeout: float = 120.0) -> None:
    """Let an overloaded bot catch up before the next phase; give up on what is left."""
    deadline = time.perf_counter() + timeout
    while api.open_questions() and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    api.forget_open_questions()
    await asyncio.sleep(1.0)


async def highest_sustained_rate(
    api: LoopbackBotApi, bot: BotProcess, questions: Sequence[str], seconds: float
) -> tuple[Run | None, list[Run]]:
    """Step the rate up until a step is not sustained; the last sustained step and all."""
    runs: list[Run] = []
    best: Run | None = None
    for rate in STEP_RATES:
        run = await drive(api, bot, questions, rate, seconds)
        runs.append(run)
        print(f"  {bot.label}: {row(run)}", flush=True)
        if not run.sustained:
            break
        best = run
    return best, runs


# -- the corpus ---------------------------------------------------------------------------------


def prepare_corpus(source: Path, workdir: Path) -> tuple[Path, Path]:
    """A copy of the corpus (the reload phase changes files) and its index, built once."""
    corpus, db = workdir / "corpus", workdir / "index.db"
    if not db.exists():
        shutil.rmtree(corpus, ignore_errors=True)
        shutil.copytree(source, corpus)
        print(f"indexing {corpus} into {db} ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "bot.cli", "index", "--corpus", str(corpus), "--db", str(db)],
            cwd=REPO,
            check=True,
        )
    return corpus, db


def sample_questions(db: Path, count: int, seed: int = 7) -> list[str]:
    """Questions made from real paragraphs: a wh-word and a few consecutive words."""
    rng = random.Random(seed)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT text FROM chunks ORDER BY random() LIMIT ?", [count * 2])
        texts = [text for (text,) in rows]
    questions = []
    for text in texts:
        words = [word for word in text.split() if word.isalpha()]
        if len(words) < 8:
            continue
        start = rng.randrange(0, len(words) - 6)
        wh = rng.choice(["What", "Who", "How many", "When", "Where"])
        questions.append(f"{wh} {' '.join(words[start : start + rng.randint(4, 8)])}?")
        if len(questions) == count:
            break
    return questions


def change_files(corpus: Path, count: int) -> int:
    """Give a reload work: append a paragraph to ``count`` BBC articles and touch as many
    others (same content, new mtime: hashed and skipped)."""
    files = sorted((corpus / "bbc").rglob("*.txt"))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for path in files[:count]:
        with path.open("a", encoding="utf-8") as file:
            file.write(f"\n\nUpdated on {stamp}: the load benchmark changed this article.\n")
    for path in files[count : 2 * count]:
        path.touch()
    return min(count, len(files))


async def reload_under_load(
    api: LoopbackBotApi,
    bot: BotProcess,
    questions: Sequence[str],
    corpus: Path,
    rate: float,
    files: int,
) -> tuple[Run, float, str]:
    """Questions at ``rate`` from the moment an admin asks for /reload until a second after
    the bot reports it done: that run, the reload's duration and its report."""
    changed = change_files(corpus, files)
    print(f"  changed {changed} files, touched {changed} more", flush=True)
    api.watch(ADMIN)
    reports = api.texts_to[ADMIN]
    asked = time.perf_counter()
    finished: list[float] = []

    def done() -> bool:
        if not finished and reports:
            finished.append(time.perf_counter())
        return bool(finished) and time.perf_counter() > finished[0] + 1.0

    api.ask(ADMIN, "/reload")
    run = await measure(api, bot, rate, generate(api, questions, rate, done))
    return run, finished[0] - asked, reports[0]


# -- report -------------------------------------------------------------------------------------

HEADER = (
    "| bot | rate (q/s) | asked | answered | p50 ms | p95 ms | p99 ms | max ms "
    "| CPU (cores) | CPU ms / answer | RSS MB (peak) | updates / getUpdates |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def row(run: Run) -> str:
    return (
        f"| {run.label} | {run.rate:g} | {run.asked} | {run.answered} | {run.p50_ms:.1f} "
        f"| {run.p95_ms:.1f} | {run.p99_ms:.1f} | {run.max_ms:.1f} | {run.cpu_share:.2f} "
        f"| {run.cpu_ms_per_answer:.2f} | {run.rss_mb:.0f} ({run.peak_rss_mb:.0f}) "
        f"| {run.updates_per_poll:.1f} |"
    )


# -- main ---------------------------------------------------------------------------------------


async def benchmark(args: argparse.Namespace) -> None:
    corpus, db = prepare_corpus(args.corpus, args.workdir)
    questions = sample_questions(db, QUESTIONS)
    print(f"{len(questions)} questions, e.g. {questions[0]!r}", flush=True)
    fixed: list[Run] = []
    best: dict[str, Run | None] = {}
    steps: dict[str, list[Run]] = {}
    for label, arguments_for, stepped in (
        (MINIMAL, minimal_bot_command, True),
        (TWEAKED_MINIMAL, tweaked_minimal_bot_command, True),
        (CANNED, lambda api: our_bot_command(api, corpus, db, canned=True), False),
        (NEWSBITE, lambda api: our_bot_command(api, corpus, db), True),
    ):
        if label not in args.bots:
            continue
        api = LoopbackBotApi(TOKEN)
        await api.start()
        bot = await start_bot(label, api, arguments_for(api), args.workdir)
        try:
            await drive(api, bot, questions, 20, 3)  # warm-up
            run = await drive(api, bot, questions, args.rate, args.seconds)
            print(row(run), flush=True)
            fixed.append(run)
            await drain(api)
            if args.steps and stepped:
                best[label], steps[label] = await highest_sustained_rate(
                    api, bot, questions, args.step_seconds
                )
        finally:
            await asyncio.to_thread(bot.stop)  # the fake API must keep serving meanwhile
            await api.stop()

    reload_result = None
    if args.reload_files:
        api = LoopbackBotApi(TOKEN)
        await api.start()
        bot = await start_bot(NEWSBITE, api, our_bot_command(api, corpus, db), args.workdir)
        try:
            await drive(api, bot, questions, 20, 3)  # warm-up
            reload_result = await reload_under_load(
                api, bot, questions, corpus, args.reload_rate, args.reload_files
            )
        finally:
            await asyncio.to_thread(bot.stop)  # the fake API must keep serving meanwhile
            await api.stop()

    print("\n### Fixed load\n")
    print(HEADER)
    for run in fixed:
        print(row(run))
    ours = fixed[-1]
    print(f"\nCPU per answered question, {ours.label}: {ours.cpu_ms_per_answer:.2f} ms")
    for floor in [run for run in fixed if run.label in (MINIMAL, TWEAKED_MINIMAL)]:
        ratio = ours.cpu_ms_per_answer / floor.cpu_ms_per_answer
        print(
            f"- {ratio:.2f}× the {floor.label}'s {floor.cpu_ms_per_answer:.2f} ms (target ≤ 1.5×)"
        )
    if best:
        print(f"\n### Highest rate with every question answered and p95 ≤ {P95_TARGET_MS:g} ms\n")
        print(HEADER)
        for label, run in best.items():
            print(row(run) if run else f"| {label} | below {STEP_RATES[0]} | | | | | | | | | | |")
        print_cpu_by_rate(steps)
    if reload_result:
        run, seconds, report = reload_result
        print(f"\n### Questions during an admin /reload ({args.reload_files} files changed)\n")
        print(HEADER)
        print(row(run))
        print(f"\nReload took {seconds:.1f} s: {report}")
        print(f"p95 ≤ {RELOAD_P95_TARGET_MS:g} ms: {run.p95_ms <= RELOAD_P95_TARGET_MS}")


def print_cpu_by_rate(steps: dict[str, list[Run]]) -> None:
    """CPU per answer of each bot at each step rate it sustained: the fair comparison (an
    overloaded bot spends more per answer)."""
    sustained = {
        label: {run.rate: run for run in runs if run.sustained} for label, runs in steps.items()
    }
    rates = sorted({rate for runs in sustained.values() for rate in runs})
    labels = list(sustained)
    print("\nCPU ms per answer at each sustained step rate (ratio to the minimal bot):\n")
    print("| rate (q/s) | " + " | ".join(labels) + " |")
    print("|---:|" + "---:|" * len(labels))
    for rate in rates:
        floor = sustained.get(MINIMAL, {}).get(rate)
        cells = []
        for label in labels:
            run = sustained[label].get(rate)
            if run is None:
                cells.append("")
            elif floor is None or label == MINIMAL:
                cells.append(f"{run.cpu_ms_per_answer:.2f}")
            else:
                ratio = run.cpu_ms_per_answer / floor.cpu_ms_per_answer
                cells.append(f"{run.cpu_ms_per_answer:.2f} ({ratio:.2f}×)")
        print(f"| {rate:g} | " + " | ".join(cells) + " |")


async def profile(args: argparse.Namespace) -> None:
    """Each bot under cProfile at the fixed rate; where its main thread's time goes."""
    corpus, db = prepare_corpus(args.corpus, args.workdir)
    questions = sample_questions(db, QUESTIONS)
    for label, arguments_for in (
        (MINIMAL, minimal_bot_command),
        (TWEAKED_MINIMAL, tweaked_minimal_bot_command),
        (CANNED, lambda api: our_bot_command(api, corpus, db, canned=True)),
        (NEWSBITE, lambda api: our_bot_command(api, corpus, db)),
    ):
        if label not in args.bots:
            continue
        api = LoopbackBotApi(TOKEN)
        await api.start()
        output = args.workdir / f"{label.replace(' ', '_').replace(',', '')}.prof"
        output.unlink(missing_ok=True)
        bot = await start_bot(label, api, arguments_for(api), args.workdir, profile_to=output)
        try:
            await drive(api, bot, questions, 10, 2)  # warm-up, not profiled
            bot.process.send_signal(signal.SIGUSR1)
            run = await drive(api, bot, questions, args.rate, args.seconds)
        finally:
            await asyncio.to_thread(bot.stop)  # the fake API must keep serving meanwhile
            await api.stop()
        print(f"\n### {label} under cProfile (main thread only)\n\n{HEADER}\n{row(run)}\n")
        print_profile(pstats.Stats(str(output)), run.answered)


def print_profile(stats: pstats.Stats, answered: int) -> None:
    """Own CPU time of the main thread, grouped by package, per answered question."""
    groups: dict[str, float] = {}
    for (path, _, name), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        group = package_of(path, name)
        groups[group] = groups.get(group, 0.0) + own
    total = sum(groups.values())
    print(f"Main thread CPU while profiled: {total:.2f} s.\n")
    print("| code | CPU per answer (µs) | share |\n|---|---:|---:|")
    for group, seconds in sorted(groups.items(), key=lambda item: -item[1])[:14]:
        print(f"| {group} | {seconds * 1e6 / max(answered, 1):.0f} | {seconds / total:.0%} |")
    stats.sort_stats("tottime").print_stats(15)


def package_of(path: str, name: str) -> str:
    if path.startswith("<frozen importlib"):
        return "importlib (httpcore's failing `import sniffio`)"
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for part in ("/bot/", "/retrieval/", "/asyncio/", "/json/", "/concurrent/", "/logging/"):
        if part in path:
            return part.strip("/")
    if "/lib/python3" in path:
        return path.rsplit("/", 1)[1].removesuffix(".py")  # a standard library module
    if path == "~":
        return f"C: {name.strip('<>').split(' of ')[0].replace('built-in method ', '')}"
    return "other stdlib"


class CannedEngine:
    """The real engine for everything but questions, which all get one answer worked out at
    start-up: `newsbite` minus retrieval and answering, to see what the rest costs."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.result = engine.answer("How many people did the chemical attack kill?")

    def answer(
        self, question: str, k: int = 3, depth: int = 10, short_answers: int | None = None
    ) -> Any:
        return self.result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def use_canned_engine() -> None:
    import bot.app

    open_engine = bot.app.open_engine
    bot.app.open_engine = lambda settings, stopping=None: CannedEngine(
        open_engine(settings, stopping)
    )


def run_child(args: argparse.Namespace) -> None:
    """A bot process: the minimal bot or `newsbite` itself. With ``--profile-to``, SIGUSR1
    starts cProfile on the main thread (where python-telegram-bot and the handlers run),
    timing CPU, not wall-clock, so start-up and idle waits stay out of the numbers."""
    profiler = cProfile.Profile(time.thread_time) if args.profile_to else None
    if profiler:
        signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
    try:
        if args.minimal_bot:
            run_minimal_bot(args.minimal_bot, tweaked=args.tweaked)
        else:
            from bot.cli import main as newsbite

            if args.canned_engine:
                use_canned_engine()
            newsbite(args.newsbite)
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile_to)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "news")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/newsbite-bot-load"))
    parser.add_argument("--rate", type=float, default=100.0, help="questions per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-steps", dest="steps", action="store_false")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--reload-files", type=int, default=1000, help="0: no reload phase")
    parser.add_argument("--reload-rate", type=float, default=40.0)
    parser.add_argument("--profile", action="store_true", help="profile the bots instead")
    parser.add_argument(
        "--bots",
        type=lambda text: [BOT_KEYS[key.strip()] for key in text.split(",")],
        default=list(BOT_KEYS.values()),
        help=f"which bots, of {','.join(BOT_KEYS)} (default: all)",
    )
    # Child modes (how this script starts the bots):
    parser.add_argument("--minimal-bot", metavar="API_URL", help=argparse.SUPPRESS)
    parser.add_argument("--newsbite", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tweaked", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--canned-engine", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.minimal_bot or args.newsbite:
        run_child(args)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    asyncio.run(profile(args) if args.profile else benchmark(args))


if __name__ == "__main__":
    main()
