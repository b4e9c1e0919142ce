"""`make mutate`: mutation testing of the engine, the checkers' shared feedback and the exercise checkers.

mutmut plants one small bug at a time (`<` for `<=`, 1 for 0, `-` for `+`, an argument dropped or set to
None) and runs only the fast unit tests that called the changed function. A mutant that no test notices
"survives". This script runs mutmut in a copy of the sources (build/mutate/), prints the score per module
and every survivor with its diff, and writes the scores into docs/results.md. Not part of `make test`.
Usage: python benchmarks/mutate.py [--scope engine feedback checkers] [--jobs N] [--keep]
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutate"
START, END = "<!-- mutate:start -->", "<!-- mutate:end -->"

# What is mutated, by mutant name (mutmut names a mutant after its module and function).
# The checkers are the check_* functions of the lesson modules (the answers typed into a cell) and the code
# exercises' checking (exercises.py runs the learner's function on the cases of code_exercises*.py).
GROUPS = {
    "engine": ["helpers.engine.*"],
    "feedback": ["helpers.lessons.feedback.*"],
    "checkers": ["helpers.lessons.*.x_check_*", "helpers.lessons.exercises.*", "helpers.lessons.code_exercises.*",
                 "helpers.lessons.code_exercises_loop.*"],
}
CODE_EXERCISE_FILES = ["helpers/lessons/exercises.py", "helpers/lessons/code_exercises.py",
                       "helpers/lessons/code_exercises_loop.py"]
# check_quantizable validates a tensor for notebook 10's code; it answers no exercise. The code exercises'
# case builders (_batch_case, _loop_case, ...) run once, when the module is imported: mutmut switches a
# mutant on in a process that has imported it already, so their mutants never run and cannot be scored.
NOT_CHECKERS = ["helpers.lessons.precision_int8.x_check_quantizable__*",
                "helpers.lessons.code_exercises*.x__*_case__mutmut_*"]
TITLES = {"engine": "engine (helpers/engine)", "feedback": "feedback (helpers/lessons/feedback.py)",
          "checkers": "checkers (check_* in helpers/lessons)"}
DETECTED = {"killed", "timeout", "segfault"}  # the tests noticed: a failure, a hang or a crash

# Survivors that no test can or should kill, with the reason (see the closing list in docs/results.md).
# "GPU:" marks a change that only a second device shows: on a CPU-only machine `.to(None)` and `.to("cpu")`
# are the same; tests/test_engine_loop.py's GPU run (skipped without one) is there to kill these on a GPU
# (not yet seen run on one: the machine this was measured on has none).
_NOISE = "the sign of symmetric normal noise: `- noise * ε` is as random and as near the rule as `+ noise * ε`"
_L = "helpers.lessons."
_ZIP = "zip(..., strict=True) and zip(...) agree here: the lists have one length (checked, or made so)"
_GPU = "GPU: on the CPU every tensor is already where `{}` would put it; test_engine_loop's GPU run is for it"
EQUIVALENT = {
    "helpers.engine.data.x__rows__mutmut_2": "unreachable: check_data refuses a 0-d tensor before it counts rows",
    "helpers.engine.data.x__rows__mutmut_4": "unreachable: check_data refuses a 0-d tensor before it counts rows",
    "helpers.engine.data.x__rows__mutmut_6": "unreachable: check_data refuses a 0-d tensor before it counts rows",
    "helpers.engine.data.x_batches__mutmut_16":
        "the same rows: a GPU tensor indexed with a CPU index copies the index over itself (one copy slower)",
    "helpers.engine.data.x_make_line__mutmut_21": _NOISE,
    "helpers.engine.data.x_make_curve__mutmut_19": _NOISE,
    "helpers.engine.data.x_make_blobs__mutmut_25": _NOISE,
    "helpers.engine.data.x_make_bars__mutmut_73": _NOISE,
    "helpers.engine.data.x_make_bars__mutmut_15": "`randint(2, ...)` is `randint(0, 2, ...)`: the same call",
    "helpers.engine.data.x_make_bars__mutmut_26": "`randint(size, ...)` is `randint(0, size, ...)`: the same call",
    "helpers.engine.data.x_make_bars__mutmut_37":
        "`view(size, 1)` broadcasts against (n, 1, 1) exactly as `view(1, size, 1)` does",
    "helpers.engine.data.x_make_bars__mutmut_47":
        "`view(1, size)` broadcasts against (n, 1, 1) exactly as `view(1, 1, size)` does",
    "helpers.engine.data.x_make_bars__mutmut_48":
        "`view(1, size)` broadcasts against (n, 1, 1) exactly as `view(1, 1, size)` does",
    "helpers.engine.device.x_get_device__mutmut_7": "\"AUTO\".lower() is \"auto\"",
    "helpers.engine.device.x_resolve__mutmut_22": "get_device lower-cases its choice: \"MPS\" is \"mps\"",
    "helpers.engine.device.x_gfx_arch__mutmut_6": "`None or \"\"` and `\"\" or \"\"` are both \"\"",
    "helpers.engine.loop.x__epoch_loss__mutmut_7": _GPU.format("device=batch_losses[0].device"),
    "helpers.engine.loop.x__epoch_loss__mutmut_10": _GPU.format("device=batch_losses[0].device"),
    "helpers.engine.loop.x__epoch_loss__mutmut_12": "every batch loss lies on one device: [1] is where [0] is",
    "helpers.engine.loop.x__prepare__mutmut_31":
        "a model without weights cannot train: the optimizer or backward() stops it before the device matters",
    "helpers.engine.loop.x__prepare__mutmut_33":
        "a model without weights cannot train: the optimizer or backward() stops it before the device matters",
    "helpers.engine.loop.x__prepare__mutmut_35": "torch.empty(1) lies on the CPU as torch.empty(0) does",
    "helpers.engine.loop.x__prepare__mutmut_38": _GPU.format("model.to(device)"),
    "helpers.engine.loop.x__prepare__mutmut_40": _GPU.format("X.to(device)"),
    "helpers.engine.loop.x__prepare__mutmut_41": _GPU.format("y.to(device)"),
    "helpers.engine.loop.x__prepare__mutmut_48": _GPU.format("X_val.to(device)"),
    "helpers.engine.loop.x__prepare__mutmut_49": _GPU.format("y_val.to(device)"),
    "helpers.engine.loop.x_train__mutmut_42": "a full batch never reads the generator, so making one changes nothing",
    "helpers.engine.loop.xǁStepClockǁ__init____mutmut_9": "_start is set by __enter__ before it is read",
    "helpers.engine.loss.x_checked_once__mutmut_11": "`first = None` is as false as `first = False`",
    "helpers.engine.text.x_display_width__mutmut_7":
        "`in \"XXWFXX\"` holds for W and F and for no other east_asian_width (N, Na, H, A)",
    # The checkers
    _L + "backprop.x_check_chain_rule__mutmut_29":
        "dividing by the factor 1 gives the product itself, which was answered as right a line before",
    _L + "code_exercises.x__batches_step_one__mutmut_5": "range(0, k) is range(k)",
    _L + "code_exercises.x__gradient_returns_loss__mutmut_5":
        "the mistake returns the loss, detached: it is the same number with or without requires_grad",
    _L + "code_exercises.x__gradient_returns_loss__mutmut_6":
        "the mistake returns the loss, detached: it is the same number with or without requires_grad",
    _L + "code_exercises_loop.x__sgd_rebinds__mutmut_1":
        "the mistake rebinds a local name, so the weights stay as they were whatever it computes",
    _L + "code_exercises_loop.x__sgd_rebinds__mutmut_2":
        "the mistake rebinds a local name, so the weights stay as they were whatever it computes",
    _L + "code_exercises_loop.x__sgd_rebinds__mutmut_3":
        "the mistake rebinds a local name, so the weights stay as they were whatever it computes",
    _L + "distributed.x_check_allreduce_position__mutmut_29":
        "(4, 5) is answered before, and (4, x) for any other x is not a neighbouring pair: before is never 4 here",
    _L + "distributed.x_check_allreduce_position__mutmut_30":
        "(4, 5) is answered before, and (4, x) for any other x is not a neighbouring pair: before is never 4 here",
    _L + "distributed.x_check_batch_share__mutmut_6": "128 rows over 4 workers: 128 / 4 == 32 == 128 // 4",
    _L + "distributed_ddp.x_check_uneven__mutmut_4": "an unknown word gets the True/False hint whether kept or None",
    _L + "distributed_ddp.x_check_uneven__mutmut_6": "an unknown word gets the True/False hint whether kept or None",
    _L + "distributed_ddp.x_check_uneven__mutmut_33": "uneven_slices' default workers is UNEVEN's 3",
    _L + "exercises.x__where__mutmut_8": "\"code_exercises.py\" ends with \"exercises.py\": the first name filters it",
    _L + "exercises.x__where__mutmut_9": "\"code_exercises.py\" ends with \"exercises.py\": the first name filters it",
    _L + "exercises.x_same__mutmut_14": _ZIP,
    _L + "exercises.x_same__mutmut_17": _ZIP,
    _L + "exercises.x_same__mutmut_18": _ZIP,
    **{f"{_L}exercises.xǁCodeExerciseǁcheck__mutmut_{n}": _ZIP
       for n in (48, 51, 52, 68, 71, 72, 85, 88, 89, 111, 114, 115)},
    _L + "forward.x_check_linear_output__mutmut_21":
        "`< 1e-6` and `<= 1e-6` differ only at a distance of exactly 1e-6, which no typed decimal lands on",
    _L + "forward.x_check_linear_output__mutmut_26":
        "`< 1e-6` and `<= 1e-6` differ only at a distance of exactly 1e-6, which no typed decimal lands on",
    _L + "forward.x_check_linear_output__mutmut_34":
        "`< 1e-6` and `<= 1e-6` differ only at a distance of exactly 1e-6, which no typed decimal lands on",
    _L + "input.x_check_batch_count__mutmut_8": "100 rows are no multiple of 32: `<` and `<=` never differ",
    _L + "input.x_check_batch_count__mutmut_12": "100 rows are no multiple of 32: `>=` and `>` never differ",
    _L + "loop.x_check_diminishing__mutmut_66":
        "equal drops (a tie) get `late`; the question has no right answer for a tie, so no test pins one",
    _L + "overfitting.x_check_stop_epoch__mutmut_13": "the best epoch itself is answered a line before",
    _L + "overview.x_check_step_order__mutmut_24": _ZIP,
    _L + "overview.x_check_step_order__mutmut_27": _ZIP,
    _L + "overview.x_check_step_order__mutmut_28": _ZIP,
    _L + "training_vs_inference.x_check_memory_order__mutmut_27": "zip(a, a[1:]) stops at the shorter either way",
    _L + "training_vs_inference.x_check_memory_order__mutmut_30": "zip(a, a[1:]) stops at the shorter either way",
}


def scope_patterns(scope: list[str]) -> list[str]:
    return [p for group in scope for p in GROUPS[group]]


def in_group(name: str, group: str) -> bool:
    if group == "checkers" and any(fnmatch.fnmatch(name, p) for p in NOT_CHECKERS):
        return False
    return any(fnmatch.fnmatch(name, p) for p in GROUPS[group])


def files_to_mutate(scope: list[str]) -> list[str]:
    """The source files that hold the scope's functions: mutmut mutates (slowly) every file only_mutate names."""
    files = []
    if "engine" in scope:
        files.append("helpers/engine/*")
    if "feedback" in scope:
        files.append("helpers/lessons/feedback.py")
    if "checkers" in scope:
        files += sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "helpers" / "lessons").glob("*.py")
                        if re.search(r"(?m)^def check_", path.read_text(encoding="utf-8")))
        files += CODE_EXERCISE_FILES
    return list(dict.fromkeys(files))


def prepare(keep: bool, scope: list[str]) -> None:
    """A copy of the sources, tests and configuration for mutmut to work in (its mutants/ goes inside).

    The copy's only_mutate names just the files of the scope, so `--scope engine` does not wait for the
    lesson modules to be mutated.
    """
    if WORK.exists() and not keep:
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True, exist_ok=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("helpers", "tests"):
        shutil.copytree(ROOT / folder, WORK / folder, ignore=skip, dirs_exist_ok=True, copy_function=_copy_if_new)
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    config, found = re.subn(r"(?m)^only_mutate = \[.*\]$", "only_mutate = " + json.dumps(files_to_mutate(scope)),
                            config)
    if found != 1:
        raise SystemExit("pyproject.toml: [tool.mutmut] needs one only_mutate = [...] line")
    target = WORK / "pyproject.toml"
    if not target.exists() or target.read_text(encoding="utf-8") != config:
        target.write_text(config, encoding="utf-8")


def _copy_if_new(source, target):
    """Copy, keeping the time stamp, unless the target holds the same bytes (mutmut's --keep cache)."""
    source, target = Path(source), Path(target)
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copy2(source, target)
    return target


def run_mutmut(patterns: list[str], jobs: int, log: Path) -> int:
    """`mutmut run` on the chosen mutants; its spinner goes to log, a progress line to the terminal."""
    mutmut = Path(sys.executable).with_name("mutmut")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    env.pop("TRAINING_FLOW_LANG", None)
    env.pop("TRAINING_FLOW_DEVICE", None)
    progress = re.compile(r"(\d+)/(\d+)\s+🎉 (\d+) 🫥 (\d+)\s+⏰ (\d+)\s+🤔 (\d+)\s+🙁 (\d+)")
    with open(log, "wb") as out:
        process = subprocess.Popen([str(mutmut), "run", "--max-children", str(jobs), *patterns], cwd=WORK,
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
        shown = time.monotonic()
        while process.poll() is None:
            time.sleep(2)
            if time.monotonic() - shown >= 30:
                shown = time.monotonic()
                tail = log.read_bytes()[-400:].decode("utf-8", "replace")
                found = progress.findall(tail)
                if found:
                    _, _, killed, no_tests, timeout, suspicious, survived = found[-1]
                    print(f"  … killed {killed}, survived {survived}, no tests {no_tests}, timeout {timeout}",
                          flush=True)
    return process.returncode


def load_results(scope: list[str]) -> dict[str, dict[str, dict[str, str]]]:
    """{group: {source file: {mutant name: status}}} for the mutants in scope."""
    from mutmut.stats import status_by_exit_code

    results = {group: {} for group in scope}
    for meta in sorted((WORK / "mutants" / "helpers").rglob("*.py.meta")):
        source = meta.relative_to(WORK / "mutants").as_posix().removesuffix(".meta")
        exit_codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for name, code in exit_codes.items():
            for group in scope:
                if in_group(name, group):
                    results[group].setdefault(source, {})[name] = status_by_exit_code[code]
    return results


def diff_of(name: str, source: str) -> list[str]:
    """The changed lines of a mutant, as `- old` / `+ new`."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    cwd = os.getcwd()
    os.chdir(WORK)
    try:
        diff = get_diff_for_mutant(name, path=source)
    except Exception as err:  # an index mutmut could not read: name the mutant without its diff
        return [f"(no diff: {type(err).__name__})"]
    finally:
        os.chdir(cwd)
    return [line for line in diff.splitlines() if line[:1] in "-+" and line[:3] not in ("---", "+++")]


def score(statuses: dict[str, str]) -> tuple[int, int, float]:
    """(detected, counted, percent); mutants mutmut skipped are not counted, untested ones are."""
    counted = [s for s in statuses.values() if s not in ("skipped", "not checked")]
    detected = sum(s in DETECTED for s in counted)
    return detected, len(counted), 100.0 * detected / len(counted) if counted else 100.0


def report(results, seconds: float, facts: dict) -> tuple[str, bool]:
    """Print the scores and survivors; return the Markdown for docs/results.md and whether all were checked."""
    complete = True
    sections = []
    for group, files in results.items():
        lines = [f"### {TITLES[group]}", "",
                 f"{facts['date']} · {facts['machine']} · mutmut {facts['mutmut']} · torch {facts['torch']} · "
                 f"Python {facts['python']} · {facts['jobs']} workers · {seconds / 60:.1f} min "
                 f"(scope: {', '.join(facts['scope'])})", "",
                 "| モジュール / module | 変異 / mutants | 検出 / detected | 生存 / survived | 得点 / score |",
                 "|---|---|---|---|---|"]
        print(f"\n== {TITLES[group]} ==")
        total_detected = total_counted = 0
        survivors = []
        for source, statuses in sorted(files.items()):
            detected, counted, percent = score(statuses)
            total_detected += detected
            total_counted += counted
            complete &= "not checked" not in statuses.values()
            lines.append(f"| `{source}` | {counted} | {detected} | {counted - detected} | {percent:.1f}% |")
            print(f"{source:45s} {detected:4d}/{counted:<4d} {percent:5.1f}%")
            survivors += [(source, name, status) for name, status in sorted(statuses.items(), key=_natural)
                          if status not in DETECTED | {"skipped", "not checked"}]
        percent = 100.0 * total_detected / total_counted if total_counted else 100.0
        lines.append(f"| **合計 / total** | {total_counted} | {total_detected} | {total_counted - total_detected} "
                     f"| **{percent:.1f}%** |")
        print(f"{'total':45s} {total_detected:4d}/{total_counted:<4d} {percent:5.1f}%")
        if survivors:
            lines += ["", "生き残った変異 / surviving mutants:", ""]
            print(f"\nsurviving mutants ({len(survivors)}):")
        for source, name, status in survivors:
            changes = diff_of(name, source)
            reason = EQUIVALENT.get(name, "")
            print(f"  {name} [{status}]" + (f": {reason}" if reason else ""))
            for change in changes:
                print(f"      {change.strip()[:150]}")
            shown = " → ".join(f"`{c[1:].strip()[:90]}`" for c in changes[:2])
            lines.append(f"- `{name}` ({status}): {shown}" + (f" — {reason}" if reason else ""))
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections), complete


def _natural(item):
    name = item[0]
    head, _, number = name.rpartition("__mutmut_")
    return head, int(number) if number.isdigit() else 0


def write_results(path: Path, markdown: str) -> None:
    """Replace this run's subsections between the mutate markers; keep the other groups' subsections."""
    text = path.read_text(encoding="utf-8")
    if START not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    body, tail = rest.split(END, 1)
    new = re.split(r"(?m)^(?=### )", markdown.strip("\n"))
    titles = {part.splitlines()[0] for part in new if part.strip()}
    old = [p for p in re.split(r"(?m)^(?=### )", body.strip("\n")) if p.strip() and p.splitlines()[0] not in titles]
    order = {f"### {title}": i for i, title in enumerate(TITLES.values())}
    parts = sorted(old + [p for p in new if p.strip()], key=lambda p: order.get(p.splitlines()[0], len(order)))
    path.write_text(head + START + "\n" + "\n".join(p.rstrip("\n") + "\n" for p in parts) + END + tail,
                    encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scope", nargs="+", choices=list(GROUPS), default=list(GROUPS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="mutants tested at once")
    parser.add_argument("--keep", action="store_true", help="reuse build/mutate/ (only changed functions rerun)")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results.md")
    args = parser.parse_args(argv)

    from importlib.metadata import version

    import torch

    facts = {"date": datetime.date.today().isoformat(), "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
             "mutmut": version("mutmut"), "torch": torch.__version__, "python": platform.python_version(),
             "jobs": args.jobs, "scope": args.scope}
    print(f"mutmut {facts['mutmut']} · {facts['machine']} · scope: {', '.join(args.scope)}", flush=True)
    prepare(args.keep, args.scope)
    log = WORK / "mutmut.log"
    start = time.monotonic()
    code = run_mutmut(scope_patterns(args.scope), args.jobs, log)
    seconds = time.monotonic() - start
    if code != 0:
        tail = log.read_bytes()[-4000:].decode("utf-8", "replace").replace("\r", "\n")
        print(tail, file=sys.stderr)
        print(f"mutmut run stopped with exit code {code}; the whole log is in {log}", file=sys.stderr)
        return code
    markdown, complete = report(load_results(args.scope), seconds, facts)
    print(f"\n{seconds / 60:.1f} min with {args.jobs} workers; log: {log}")
    if not complete:
        print("some mutants were not checked: the scores above are not written to the results page", file=sys.stderr)
        return 1
    write_results(args.results, markdown)
    print(f"scores written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
