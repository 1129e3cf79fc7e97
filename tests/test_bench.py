"""The benchmark measures what it says: allocator peaks, and every method's generator update."""

import json

import pytest
import torch

from phased_dmd.data.fashion_mnist import CLASS_NAMES
from phased_dmd.jobs.bench import main, peak_allocated_mb
from phased_dmd.reports.bench import write_report
from phased_dmd.teachers.flow_model import teacher_info, tiny_teacher


def test_peak_allocated_counts_live_tensors_only():
    def fn():
        a = torch.ones(2 * 2**20)  # 8 MiB
        del a
        b = torch.ones(2**20)  # 4 MiB, allocated after a is freed
        return b.sum()

    assert 8.0 <= peak_allocated_mb(fn) < 8.5


def test_bench_measures_every_method_and_reports_ratios(tmp_path):
    torch.manual_seed(0)
    tiny_teacher(teacher_info("wan2.1", list(CLASS_NAMES), 16)).save(tmp_path / "teacher")
    assert main([f"teacher_dir={tmp_path / 'teacher'}", f"out_dir={tmp_path / 'bench'}", "teacher=wan2.1",
                 "batch_size=8", "repeats=1", "samples=10", "teacher_steps=4"]) == 0
    raw = json.loads((tmp_path / "bench" / "measurements.json").read_text())
    updates = raw["generator_update"]
    assert list(updates) == ["dmd", "full_backprop", "sgts", "phased_2", "phased_4"]
    assert [len(u["per_phase"]) for u in updates.values()] == [1, 1, 1, 2, 4]
    # gradients through all 4 steps keep 4 steps of activations; SGTS keeps one
    assert updates["full_backprop"]["peak_mb"] > 1.5 * updates["sgts"]["peak_mb"]
    assert raw["sampling"]["teacher_evaluations"] == 8 and raw["sampling"]["student_evaluations"] == 4
    iteration = raw["iteration"]
    assert [r["batch_size"] for r in iteration["batches"]] == [4, 8, 16, 32]
    gflop = [r["gflop"] for r in iteration["batches"]]  # the FLOPs of an iteration grow with its batch
    assert gflop[3] == pytest.approx(8 * gflop[0], rel=0.05) and gflop[0] > 0
    assert all(0 < r["share_of_peak"] < 1 for r in iteration["batches"]) and iteration["peak_gflops"] > 0
    assert iteration["two_threads"]["batch_size"] == 8
    assert set(raw["precision"]) == {"fp32", "bf16"} and all(c["seconds"] > 0 for c in raw["precision"].values())
    compiled = raw["compile"]  # the students' iteration with every transformer compiled, and what compiling costs
    assert compiled["batch_size"] == 8 and compiled["compiled_seconds"] > 0 and compiled["eager_seconds"] > 0
    assert compiled["compile_cold_seconds"] > compiled["compile_warm_seconds"]  # the warm cache skips codegen

    write_report(None, tmp_path / "bench", tmp_path / "report")
    report = json.loads((tmp_path / "report.json").read_text())
    ratios = {name: row["peak_ratio"] for name, row in report["generator_update"].items()}  # to one-step DMD
    assert ratios["full_backprop"] > 1.5  # four steps of activations against one
    assert max(ratios["phased_2"], ratios["phased_4"]) < ratios["full_backprop"]  # a phase keeps one step's
    assert set(report["generator_update"]["phased_2"]) >= {"seconds", "peak_mb", "seconds_ratio", "peak_ratio"}
    assert set(report["sampling"]) >= {"teacher_seconds", "student_seconds", "speedup"}
    text = (tmp_path / "report.md").read_text()
    assert "| Phased DMD, 4 steps, 2 phases |" in text and "| 32 | " in text and "share of the matmul peak" in text
    assert "## bf16 against fp32" in text and "## torch.compile" in text
