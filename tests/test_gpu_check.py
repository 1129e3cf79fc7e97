"""The GPU check on the CPU (python -m phased_dmd.gpu_check --dry-run): its report has every part, the iteration's
FLOPs are the engine's calls as the cost model counts them, MFU is their rate over the measured peak; a failing part
fails the check, and bad input is refused before anything runs."""

import dataclasses
import json

import pytest
import torch

from phased_dmd import gpu_check
from phased_dmd.cost.measure import measure_call, meta_transformer
from phased_dmd.gpu_check import dry_run_plan, main, paper_facts, timed_part


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu")
    code = main(["--dry-run", "--out", str(out)])
    return code, json.loads((out / "gpu.json").read_text()), (out / "gpu.md").read_text()


def test_the_dry_run_reports_every_part_and_says_it_is_one(dry_run):
    code, data, md = dry_run
    assert code == 0 and data["passed"] and data["mode"] == "dry run"
    assert {name: part["status"] for name, part in data["parts"].items()} == {
        "peak": "passed", "iteration": "passed", "tests": "skipped", "table2": "planned"}
    assert {"device", "date", "git", "torch", "seconds", "budget_seconds"} <= data.keys()
    assert all(part["seconds"] <= part["budget_seconds"] and part["result"] for part in data["parts"].values())
    tests = data["parts"]["tests"]  # collected from tests/test_gpu.py, skipped without CUDA
    assert tests["counts"] == {"passed": 0, "failed": 0, "error": 0, "skipped": 3}
    assert "test_nccl_with_one_process_reduces_and_runs_a_sharded_transformer_as_the_whole_one" in {
        case["name"] for case in tests["cases"]}
    table2 = data["parts"]["table2"]  # planned, not run: every job of Table 2 from nothing
    assert table2["command"].endswith("-n") and table2["jobs"] > 50 and table2["done"] == 0
    assert md.startswith("# GPU check\n\n**A CPU dry run") and "| tests | skipped |" in md and "| MFU |" in md


def test_the_mfu_is_the_counted_flops_rate_over_the_measured_peak(dry_run):
    _, data, _ = dry_run
    peak, iteration = data["parts"]["peak"], data["parts"]["iteration"]
    assert peak["tflops"] == max(peak["tflops_by_size"].values()) > 0
    assert [size["layers"] for size in iteration["sizes"]] == [1, 2]
    for size in iteration["sizes"]:
        assert size["mfu"] == pytest.approx(size["tflop"] / size["seconds"] / peak["tflops"])
        assert 0 < size["mfu"] <= 1
    assert iteration["mfu"] == iteration["largest"]["mfu"] == iteration["sizes"][-1]["mfu"]


@pytest.mark.parametrize("layers", [1, 2])
def test_the_iteration_counts_the_engines_calls(dry_run, layers):
    """One-step DMD, per sample: each of the ttur fake updates runs the generator without gradient (F) and the fake
    with it (F + B); the generator update runs the generator with gradient (F + B), the guided teacher (2 F) and the
    fake (F). F and B: one call's forward and backward FLOPs, counted on the meta device."""
    _, data, _ = dry_run
    it = data["parts"]["iteration"]
    plan = dry_run_plan(paper_facts())
    call = measure_call("wan", meta_transformer("wan", {**plan.wan, "num_layers": layers}, "fp32"), plan.latent,
                        plan.text_tokens, "fp32")
    f, b = call.forward_flops, call.backward_flops
    expected = it["batch_size"] * (it["ttur"] * (2 * f + b) + 4 * f + b)
    size = next(s for s in it["sizes"] if s["layers"] == layers)
    assert size["tflop"] * 1e12 == pytest.approx(expected, rel=1e-9)  # counted as it ran
    assert size["modelled_tflop"] * 1e12 == pytest.approx(expected, rel=1e-9)  # the cost model's


@pytest.mark.parametrize("fault, wall, status, stopped, ran", [
    (torch.OutOfMemoryError("CUDA out of memory"), 1, "passed", "4 layers ran out of memory", [1, 2]),
    (ValueError("bad"), 1, "failed", "4 layers: ValueError: bad", [1, 2]),
    (None, 26, "passed", "4 layers would overrun the time budget", [1, 2]),  # 2 x 26 s ran, 4 x 26 s predicted
])
def test_the_iteration_grows_until_memory_or_time_runs_out_and_keeps_what_ran(monkeypatch, fault, wall, status,
                                                                              stopped, ran):
    def size(plan, cfg, layers):
        if layers == 4 and fault:
            raise fault
        return {"layers": layers, "wall_seconds": wall * layers, "seconds": 1.0, "tflops": 1.0}

    monkeypatch.setattr(gpu_check, "iteration_at", size)
    plan = dataclasses.replace(dry_run_plan(paper_facts()), layers=(1, 2, 4, 8))
    grown = gpu_check.wan_iteration(plan, budget=100)
    assert (grown["status"], grown["stopped"], [s["layers"] for s in grown["sizes"]]) == (status, stopped, ran)


def test_a_part_that_fails_or_overruns_its_budget_fails_the_check(tmp_path, monkeypatch):
    plan = dry_run_plan(paper_facts())
    failed = timed_part("peak", lambda plan, budget: {"status": "passed", "x": 1 / 0}, plan)
    assert failed["status"] == "failed" and failed["reason"] == "ZeroDivisionError: division by zero"
    no_time = dataclasses.replace(plan, budgets={"peak": -1})
    slow = timed_part("peak", lambda plan, budget: {"status": "passed"}, no_time)
    assert slow["status"] == "failed" and "past its budget of -1 s" in slow["reason"]
    monkeypatch.setitem(gpu_check.PART_RUNS, "peak", lambda plan, budget: 1 / 0)
    assert main(["--dry-run", "--out", str(tmp_path), "--parts", "peak"]) == 1
    assert "**some part FAILED**" in (tmp_path / "gpu.md").read_text()
    assert json.loads((tmp_path / "gpu.json").read_text())["passed"] is False


@pytest.mark.parametrize("argv, message", [
    (["--dry-run", "--out", "{out}", "--parts", "peak,peek"],
     "unknown part(s) ['peek']: expected some of peak, iteration, tests, table2"),
    (["--dry-run", "--out", "{out}", "--budget", "table2=soon"], "'table2=soon': expected PART=SECONDS"),
    (["--dry-run"], "--dry-run needs --out FOLDER"),
    (["--out", "{out}"], "no CUDA device here"),
])
def test_bad_input_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as stopped:
        main([a.format(out=tmp_path) for a in argv])
    assert stopped.value.code == 2 and message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_help_says_what_the_check_measures(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--help"])
    assert stopped.value.code == 0 and "bash scripts/gpu_check.sh" in capsys.readouterr().out
