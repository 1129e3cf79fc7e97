"""The GPU check: what one GPU does with this code, in about 8 minutes, written to reports/gpu.{md,json}.

Four parts, each with a time budget; a part that fails (or runs past its budget) is reported as failed and the
command exits 1:
- peak: the bf16 matrix-product rate, best over square products of a few sizes (TFLOP/s);
- iteration: one training iteration of one-step DMD as the engine runs it (`ttur` fake updates, then the generator
  update: generator forward and backward through the fake and the guided teacher) with diffusers'
  WanTransformer3DModel at Wan2.1-14B's width, on the paper's Wan text-to-image latents (720 x 1280) and text
  (512 tokens), in bf16; the number of layers grows until memory or the budget runs out. Its FLOPs are counted
  by torch's FlopCounterMode and set beside the cost model's (cost/); MFU = counted FLOPs per second / the peak;
- tests: the CUDA-only tests (pytest -m cuda tests/test_gpu.py: a student job's models on the GPU, a bf16 phase
  on CUDA against fp32, NCCL with one process);
- table2: the embedded Table 2 end to end (`snakemake reports/table2.md`) in a scratch copy of the repository,
  timed; the committed reports are not touched.

    bash scripts/gpu_check.sh                                  (on a GPU machine: sets up, runs, says where)
    python -m phased_dmd.gpu_check [--parts peak,iteration]    (the GPU check itself: reports/gpu.{md,json})
    python -m phased_dmd.gpu_check --dry-run --out /tmp/gpu    (CPU, tiny sizes, under a minute: the same code)

The dry run measures the peak and the iteration in fp32 on the CPU with a tiny Wan, collects the CUDA tests (which
skip without CUDA) and only plans Table 2 (`snakemake -n`): it checks the code path, its numbers say nothing
about a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from phased_dmd.config import read_yaml
from phased_dmd.cost.iteration import iteration_flops
from phased_dmd.cost.measure import measure_call, meta_transformer, parameter_count
from phased_dmd.engine.device import compute_device
from phased_dmd.engine.precision import DTYPES
from phased_dmd.io import write_json, write_text
from phased_dmd.jobs.bench import iteration_cost, matmul_peak_gflops
from phased_dmd.jobs.params import load_params
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.method.phases import plan_phases
from phased_dmd.reports.common import git_revision
from phased_dmd.reports.paper_scale import latent_shape
from phased_dmd.teachers.architectures import TRANSFORMER_CLASSES
from phased_dmd.teachers.flow_model import FlowModel, TeacherInfo
from phased_dmd.teachers.text import TinyTextEncoder

ROOT = Path(__file__).resolve().parents[2]  # the repository (editable install)
PARTS = ("peak", "iteration", "tests", "table2")
KIND = "wan2.1"  # the teacher whose paper-scale transformer and student settings the iteration takes
PROMPTS = ("a prompt", "another prompt")
CUDA_TESTS = ("tests/test_gpu.py",)
STEPS = re.compile(r"(\d+) of (\d+) steps \(\d+%\) done")  # snakemake's progress
PLANNED = re.compile(r"^total\s+(\d+)\s*$", re.M)  # snakemake -n's job count
FAILED, PASSED = "failed", "passed"


@dataclass(frozen=True)
class Plan:
    """What the check runs where: the GPU's sizes, or the CPU dry run's tiny ones."""

    mode: str  # gpu | dry run
    device: torch.device
    precision: str  # of the peak and of the iteration
    wan: dict  # WanTransformer3DModel's config; the iteration tries it with each of `layers` layers
    latent: tuple[int, ...]  # one sample's latents: (frames, height, width)
    text_tokens: int
    layers: tuple[int, ...]
    matmul_sizes: tuple[int, ...]
    repeats: int  # timed products per size; timed iterations per size (median)
    budgets: dict[str, float]  # part -> seconds
    run_table2: bool  # False: snakemake only plans its jobs (-n)


def paper_facts() -> dict:
    return read_yaml(ROOT / "configs" / "paper_scale.yaml")


def gpu_plan(facts: dict) -> Plan:
    """Wan2.1-14B's width at the paper's text-to-image size, its layers growing; budgets that sum to 7.5 minutes."""
    spec = facts["models"][KIND]
    size = facts["sizes"][spec["sizes"]][0][0]  # [frames, height, width] of its only size
    return Plan("gpu", compute_device(), "bf16", spec["config"], latent_shape("wan", size, facts["latents"]),
                facts["text_tokens"], layers=(2, 4, 6, 8, 10, 12, 16, 24, 32, 40), matmul_sizes=(4096, 8192, 16384),
                repeats=5, budgets={"peak": 20, "iteration": 120, "tests": 90, "table2": 220}, run_table2=True)


def dry_run_plan(facts: dict) -> Plan:
    """A tiny Wan in fp32 on the CPU; generous budgets (a shared CI machine), Table 2 only planned."""
    tiny = {"num_attention_heads": 2, "attention_head_dim": 8, "ffn_dim": 32, "text_dim": 16, "freq_dim": 32,
            "rope_max_seq_len": 32}
    return Plan("dry run", torch.device("cpu"), "fp32", {**facts["models"][KIND]["config"], **tiny}, (1, 8, 8), 4,
                layers=(1, 2), matmul_sizes=(128, 256), repeats=2,
                budgets={"peak": 30, "iteration": 60, "tests": 120, "table2": 120}, run_table2=False)


def timed_part(name: str, part: Callable[[Plan, float], dict], plan: Plan) -> dict:
    """Run one part within its budget: its result with status, seconds and budget; an error or a run past the
    budget is a failure, with its reason."""
    budget, start = plan.budgets[name], time.perf_counter()
    try:
        result = part(plan, budget)
    except Exception as error:  # reported, never hidden: the check goes on with the next part
        result = {"status": FAILED, "reason": f"{type(error).__name__}: {error}",
                  "traceback": traceback.format_exc()[-3000:]}
    seconds = time.perf_counter() - start
    if seconds > budget and result["status"] != FAILED:
        result = {**result, "status": FAILED, "reason": f"took {seconds:.0f} s, past its budget of {budget:.0f} s"}
    print(f"gpu check: {name}: {result['status']} in {seconds:.1f} s", flush=True)
    return {**result, "seconds": seconds, "budget_seconds": budget}


def matmul_peak(plan: Plan, budget: float) -> dict:
    """The device's best matrix-product rate in the plan's precision (TFLOP/s), over square sizes."""
    rates = {str(size): matmul_peak_gflops(size, plan.repeats, plan.device, DTYPES[plan.precision]) / 1e3
             for size in plan.matmul_sizes}
    return {"status": PASSED, "dtype": plan.precision, "tflops_by_size": rates, "tflops": max(rates.values())}


def wan_teacher(plan: Plan, config: dict) -> FlowModel:
    """A randomly initialised one-expert Wan teacher of `config` on the plan's device, for its latents and text."""
    frames, height, width = plan.latent
    info = TeacherInfo(KIND, list(PROMPTS), height, config["out_channels"], task="t2i" if frames == 1 else "t2v",
                       frames=frames, width=width)
    with plan.device:
        expert = TRANSFORMER_CLASSES["wan"].from_config(config)
        text = TinyTextEncoder(len(PROMPTS), plan.text_tokens, config["text_dim"])
    return FlowModel(info, [expert], text).requires_grad_(False)


def distill_settings() -> DistillConfig:
    """One-step DMD with the students' settings for the teacher (params.yaml), at the paper's batch per GPU."""
    params = load_params(ROOT / "params.yaml")
    return dataclasses.replace(params.students.settings("dmd", KIND), batch_size=params.paper_scale.batch_per_gpu)


def modelled_flops(plan: Plan, config: dict, cfg: DistillConfig) -> float:
    """The cost model's FLOPs of the iteration: the transformer call measured on the meta device, times the
    engine's calls per iteration (cost/iteration.py), times the batch."""
    call = measure_call("wan", meta_transformer("wan", config, plan.precision), plan.latent, plan.text_tokens,
                        plan.precision)
    return iteration_flops(cfg, plan_phases(cfg)[0], call) * cfg.batch_size


def iteration_at(plan: Plan, cfg: DistillConfig, layers: int) -> dict:
    """One size of the iteration: its median seconds, FLOPs counted and modelled, rate and peak memory."""
    start, config = time.perf_counter(), {**plan.wan, "num_layers": layers}
    if plan.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(plan.device)
    teacher = wan_teacher(plan, config)
    parameters = parameter_count(teacher.experts[0])
    cost = iteration_cost(teacher, cfg, plan.repeats, seed=0, compute=plan.precision, device=plan.device)
    tflop = cost["gflop"] / 1e3
    return {"layers": layers, "parameters": parameters, "seconds": cost["seconds"], "tflop": tflop,
            "modelled_tflop": modelled_flops(plan, config, cfg) / 1e12, "tflops": tflop / cost["seconds"],
            "memory_gb": torch.cuda.max_memory_allocated(plan.device) / 1e9 if plan.device.type == "cuda" else None,
            "wall_seconds": time.perf_counter() - start}


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def wan_iteration(plan: Plan, budget: float) -> dict:
    """The iteration at growing numbers of layers, until one runs out of memory, the next would overrun the budget
    (predicted from the last size's time, in proportion to the layers) or the sizes end; the largest one that ran
    is the result. Another error fails the part, with the sizes that ran before it."""
    cfg, start, sizes, error = distill_settings(), time.perf_counter(), [], None
    stopped = "the largest size tried fitted"
    for layers in plan.layers:
        if sizes and time.perf_counter() - start + sizes[-1]["wall_seconds"] * layers / sizes[-1]["layers"] > budget:
            stopped = f"{layers} layers would overrun the time budget"
            break
        try:
            sizes.append(iteration_at(plan, cfg, layers))
        except torch.OutOfMemoryError:
            stopped = f"{layers} layers ran out of memory"
            break
        except Exception as failure:  # reported with what ran before it
            stopped = error = f"{layers} layers: {type(failure).__name__}: {failure}"
            break
        finally:
            free_memory(plan.device)
        print(f"gpu check: iteration with {layers} layers: {sizes[-1]['seconds']:.3f} s, "
              f"{sizes[-1]['tflops']:.2f} TFLOP/s", flush=True)
    result = {"status": FAILED if error or not sizes else PASSED, "stopped": stopped, "sizes": sizes,
              "batch_size": cfg.batch_size, "ttur": cfg.ttur, "latent": list(plan.latent),
              "text_tokens": plan.text_tokens, "dtype": plan.precision,
              "width": plan.wan["num_attention_heads"] * plan.wan["attention_head_dim"]}
    return {**result, "reason": stopped} if result["status"] == FAILED else {**result, "largest": sizes[-1]}


def with_python_path(root: Path) -> dict:
    """This environment, with `root`'s src first on the path (its code runs, whatever the install points at)."""
    path = os.pathsep.join(p for p in (str(root / "src"), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def junit_cases(path: Path) -> list[dict]:
    """Each test case of a pytest JUnit XML report with its outcome: passed, failed, error or skipped."""
    cases = []
    for case in ElementTree.parse(path).iter("testcase"):
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), PASSED)
        cases.append({"name": case.get("name"), "outcome": {"failure": FAILED}.get(outcome, outcome)})
    return cases


def cuda_tests(plan: Plan, budget: float) -> dict:
    """pytest -m cuda on the CUDA-only tests. Without CUDA they skip (the dry run); on a GPU a skip is a failure."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        done = subprocess.run([sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider",
                               f"--junitxml={junit}", *CUDA_TESTS], cwd=ROOT, env=with_python_path(ROOT),
                              capture_output=True, text=True, timeout=budget)
        cases = junit_cases(junit) if junit.is_file() else []
    counts = {outcome: sum(c["outcome"] == outcome for c in cases) for outcome in (PASSED, FAILED, "error", "skipped")}
    if not cases or counts[FAILED] or counts["error"] or done.returncode not in (0, 5):
        status = FAILED
    elif counts["skipped"]:
        status = FAILED if plan.mode == "gpu" else "skipped"
    else:
        status = PASSED
    return {"status": status, "counts": counts, "cases": cases,
            "output_tail": done.stdout[-3000:] + done.stderr[-2000:]}


def working_tree_copy(dest: Path) -> Path:
    """The repository's working tree (tracked and untracked files git does not ignore) in dest, with an empty
    reports/ (the tests' scratch repositories are made the same way: tests/workflow_repo.py)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in files:
        if name and (ROOT / name).is_file() and not name.startswith("reports/"):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    (dest / "reports").mkdir(exist_ok=True)
    return dest


def scratch_copy(dest: Path) -> Path:
    """The working tree in dest, with the Fashion-MNIST files when they are here (data/, ignored by git: no
    download)."""
    working_tree_copy(dest)
    if (ROOT / "data" / "fashion-mnist").is_dir():
        shutil.copytree(ROOT / "data" / "fashion-mnist", dest / "data" / "fashion-mnist")
    return dest


def stop(proc: subprocess.Popen) -> str:
    """End a process and every process it started (its own session), SIGTERM then SIGKILL; what it printed."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()[0]


def table2(plan: Plan, budget: float) -> dict:
    """`snakemake reports/table2.md` from nothing in a scratch copy, timed (the dry run: -n, its jobs planned)."""
    command = ["snakemake", "reports/table2.md", "--cores", str(os.cpu_count())] + ([] if plan.run_table2 else ["-n"])
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        repo = scratch_copy(Path(tmp))
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=repo, env=with_python_path(repo), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, timed_out = proc.communicate(timeout=budget - 5)[0], False  # 5 s to copy the repository
        except subprocess.TimeoutExpired:
            out, timed_out = stop(proc), True
        seconds, made = time.perf_counter() - start, (repo / "reports" / "table2.md").is_file()
    progress = STEPS.findall(out)
    planned = PLANNED.search(out)
    result = {"command": " ".join(command), "ran": plan.run_table2, "snakemake_seconds": seconds,
              "jobs": int(progress[-1][1]) if progress else int(planned.group(1)) if planned else None,
              "done": int(progress[-1][0]) if progress else 0}
    if timed_out:
        return {**result, "status": FAILED, "reason": f"not finished within {budget:.0f} s "
                f"({result['done']} of {result['jobs']} jobs done)", "output_tail": out[-3000:]}
    if proc.returncode or (plan.run_table2 and not made):
        return {**result, "status": FAILED, "reason": f"snakemake exited {proc.returncode}", "output_tail": out[-3000:]}
    return {**result, "status": PASSED if plan.run_table2 else "planned"}


PART_RUNS: dict[str, Callable[[Plan, float], dict]] = {"peak": matmul_peak, "iteration": wan_iteration,
                                                        "tests": cuda_tests, "table2": table2}


def with_mfu(iteration: dict, peak: dict) -> dict:
    """Each size's rate as a share of the measured peak (MFU), when the peak was measured and a size ran; the
    largest size's is the iteration's."""
    if peak["status"] != PASSED or not iteration.get("sizes"):
        return iteration
    sizes = [{**size, "mfu": size["tflops"] / peak["tflops"]} for size in iteration["sizes"]]
    return {**iteration, "sizes": sizes, "largest": sizes[-1], "mfu": sizes[-1]["mfu"]}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def datasheet_tflops(name: str, facts: dict) -> float | None:
    """The vendor's dense bf16 peak of this GPU (configs/paper_scale.yaml `gpus`), when it is one of them."""
    return next((gpu["bf16_tflops"] for model, gpu in facts["gpus"].items() if model in name), None)


def percent(share: float) -> str:
    return f"{100 * share:.3g}%"


HEADLINES = {  # what each part found, in a few words
    "peak": lambda r: f"{r['tflops']:.4g} TFLOP/s in {r['dtype']}",
    "iteration": lambda r: f"{r['largest']['layers']} layers: {r['largest']['tflops']:.3g} TFLOP/s"
                           + (f", MFU {percent(r['mfu'])}" if "mfu" in r else ""),
    "tests": lambda r: ", ".join(f"{n} {outcome}" for outcome, n in r["counts"].items() if n),
    "table2": lambda r: f"{r['done']} of {r['jobs']} jobs done in {r['snakemake_seconds']:.0f} s",
}


def run_check(plan: Plan, parts: tuple[str, ...], facts: dict) -> dict:
    """Run the chosen parts in order; the check's record."""
    start = time.perf_counter()
    results = {name: timed_part(name, PART_RUNS[name], plan) for name in PARTS if name in parts}
    if "iteration" in results and "peak" in results:
        results["iteration"] = with_mfu(results["iteration"], results["peak"])
    for name, result in results.items():
        result["result"] = result["reason"] if result["status"] == FAILED else HEADLINES[name](result)
    name = device_name(plan.device)
    return {"mode": plan.mode, "device": name, "datasheet_bf16_tflops": datasheet_tflops(name, facts),
            "torch": torch.__version__, "cuda": torch.version.cuda,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "git": git_revision(),
            "parts": results, "seconds": time.perf_counter() - start,
            "budget_seconds": sum(plan.budgets[name] for name in results),
            "passed": all(r["status"] != FAILED for r in results.values())}


def status_lines(parts: dict) -> list[str]:
    lines = ["| part | status | seconds | budget | result |", "|---|---|---|---|---|"]
    for name, r in parts.items():
        lines.append(f"| {name} | {r['status']} | {r['seconds']:.1f} | {r['budget_seconds']:.0f} | {r['result']} |")
    return lines


def peak_lines(peak: dict, datasheet: float | None) -> list[str]:
    lines = ["## Matrix-product peak", "", f"Best of square {peak['dtype']} products, 2 n^3 FLOPs each:", "",
             "| n | TFLOP/s |", "|---|---|"]
    lines += [f"| {size} | {tflops:.2f} |" for size, tflops in peak["tflops_by_size"].items()]
    if datasheet:
        lines += ["", f"The measured peak is {peak['tflops'] / datasheet:.0%} of the data sheet's dense bf16 "
                  f"{datasheet:.1f} TFLOP/s."]
    return lines + [""]


def iteration_lines(it: dict) -> list[str]:
    lines = ["## A Wan-shaped DMD iteration", "",
             f"One training iteration of one-step DMD as the engine runs it ({it['ttur']} fake updates, then the "
             "generator update through the guided teacher and the fake), WanTransformer3DModel of width "
             f"{it['width']} (randomly initialised), latents {tuple(it['latent'])} (frames, height, width), "
             f"{it['text_tokens']} text tokens, batch {it['batch_size']}, {it['dtype']}; median of the timed "
             "iterations. FLOPs counted by FlopCounterMode, beside the cost model's (cost/); MFU: their rate over the "
             "measured peak. Peak memory: the most the CUDA allocator held (the benchmark keeps the teacher's fp32 "
             "weights beside its bf16 copy, 4 bytes per parameter more than a student job). "
             f"Stopped: {it['stopped']}.", "",
             "| layers | parameters | seconds | TFLOP counted | TFLOP modelled | TFLOP/s | MFU | peak memory GB |",
             "|---|---|---|---|---|---|---|---|"]
    for s in it["sizes"]:
        mfu = percent(s["mfu"]) if "mfu" in s else "-"
        memory = f"{s['memory_gb']:.1f}" if s["memory_gb"] is not None else "-"
        lines.append(f"| {s['layers']} | {s['parameters']:,} | {s['seconds']:.3f} | {s['tflop']:.4g} | "
                     f"{s['modelled_tflop']:.4g} | {s['tflops']:.3g} | {mfu} | {memory} |")
    return lines + [""]


def tests_lines(tests: dict) -> list[str]:
    counts = ", ".join(f"{n} {outcome}" for outcome, n in tests["counts"].items())
    return (["## CUDA-only tests", "", f"`pytest -m cuda {' '.join(CUDA_TESTS)}`: {counts}.", ""]
            + [f"- {case['name']}: {case['outcome']}" for case in tests["cases"]] + [""])


def table2_lines(t: dict) -> list[str]:
    what = "ran" if t["ran"] else "was only planned (-n: the dry run runs no job)"
    return ["## Table 2, embedded, end to end", "",
            f"`{t['command']}` in a scratch copy of the repository {what}: {t['snakemake_seconds']:.1f} s, "
            f"{t['done']} of {t['jobs']} jobs done.", ""]


SECTIONS = {"peak": lambda r, data: peak_lines(r, data["datasheet_bf16_tflops"]),
            "iteration": lambda r, data: iteration_lines(r), "tests": lambda r, data: tests_lines(r),
            "table2": lambda r, data: table2_lines(r)}


def markdown(data: dict) -> str:
    """reports/gpu.md: the parts' statuses, then each part that has something to show."""
    verdict = "every part passed" if data["passed"] else "**some part FAILED**"
    lines = ["# GPU check", ""]
    if data["mode"] != "gpu":
        lines += ["**A CPU dry run at tiny sizes: it checks the code path; its numbers say nothing about a GPU.**", ""]
    lines += [f"{data['device']}, torch {data['torch']} (CUDA {data['cuda']}), {data['date']}, git {data['git']}: "
              f"{verdict}, in {data['seconds']:.0f} s (budget {data['budget_seconds']:.0f} s). "
              "Regenerate on a GPU: `bash scripts/gpu_check.sh`.", ""] + status_lines(data["parts"]) + [""]
    for name, result in data["parts"].items():
        if result["status"] != FAILED or result.get("sizes") or result.get("cases"):
            lines += SECTIONS[name](result, data)
    return "\n".join(lines)


def parts_option(value: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"unknown part(s) {unknown or [value]}: expected some of {', '.join(PARTS)}")
    return parts


def budget_option(value: str) -> tuple[str, float]:
    part, _, seconds = value.partition("=")
    try:
        budget = float(seconds)
    except ValueError:
        budget = 0.0
    if part not in PARTS or budget <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected PART=SECONDS, PART one of {', '.join(PARTS)} and "
                                         "SECONDS a number > 0, e.g. table2=1800")
    return part, budget


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m phased_dmd.gpu_check", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="on the CPU at tiny sizes (needs --out)")
    ap.add_argument("--out", type=Path, help="folder of gpu.md and gpu.json (default: reports)")
    ap.add_argument("--parts", type=parts_option, default=PARTS, help=f"comma-separated, of {', '.join(PARTS)} "
                    "(default: all)")
    ap.add_argument("--budget", type=budget_option, action="append", default=[], metavar="PART=SECONDS",
                    help="another time budget for a part, e.g. table2=1800 to time the whole of Table 2")
    args = ap.parse_args(argv)
    if args.dry_run and args.out is None:
        ap.error("--dry-run needs --out FOLDER: reports/ holds a GPU's report, not a CPU dry run's")
    if not args.dry_run and not torch.cuda.is_available():
        ap.error(f"no CUDA device here (torch {torch.__version__}): run it on a GPU machine, or try the code path "
                 "on the CPU with --dry-run --out FOLDER")
    torch.set_num_threads(1)  # the check's CPU work, as the benchmark's: undisturbed by a busy machine's other jobs
    facts = paper_facts()
    plan = dry_run_plan(facts) if args.dry_run else gpu_plan(facts)
    plan = dataclasses.replace(plan, budgets={**plan.budgets, **dict(args.budget)})
    data = run_check(plan, args.parts, facts)
    out = args.out or ROOT / "reports"
    write_json(out / "gpu.json", data)
    write_text(out / "gpu.md", markdown(data))
    print(f"gpu check: {'passed' if data['passed'] else 'FAILED'}; report in {out / 'gpu.md'} (+ gpu.json)")
    return 0 if data["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
