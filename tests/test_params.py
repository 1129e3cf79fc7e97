"""params.yaml validation: every bad value stops with one line naming the key and what was expected."""

import copy
from pathlib import Path

import pytest
import yaml

from phased_dmd.config import ConfigError
from phased_dmd.jobs.params import load_params

ROOT = Path(__file__).resolve().parents[1]
GOOD = yaml.safe_load((ROOT / "params.yaml").read_text())


def _with(path: str, value):
    data = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()

BAD = {
    "s above 1": ("figure2.s", 1.5, "params.yaml: figure2.s: expected a number strictly between 0 and 1, got 1.5"),
    "s at 0": ("figure2.s", 0.0, "figure2.s: expected a number strictly between 0 and 1"),
    "negative iterations": ("figure2.train.iterations", -10,
                            "figure2.train.iterations: expected a number > 0, got -10"),
    "unknown objective": ("figure2.objectives", ["full", "exact"],
                          "figure2.objectives[1]: expected one of ['full', 'subinterval', 'naive'], got 'exact'"),
    "missing key": ("figure2.s", _DELETE, "figure2.s: Structured config of type `Figure2Params` has missing mandatory"),
    "missing section": ("figure2", _DELETE, "figure2.mixture.weights"),
    "wrong type": ("figure2.s", "half", "figure2.s: Value 'half' of type 'str' could not be converted to Float"),
    "fractional iterations": ("figure2.train.iterations", 2.5, "figure2.train.iterations: Value '2.5'"),
    "unknown key": ("figure2.step_size", 0.1, "figure2.step_size: Key 'step_size' not in 'Figure2Params'"),
    "repeated seeds": ("figure2.seeds", [0, 0], "figure2.seeds: expected a non-empty list without repeats"),
    "mixture lengths": ("figure2.mixture.means", [0.0, 1.0],
                        "figure2.mixture.weights: expected weights, means and stds"),
    "data resolution": ("data.resolution", 18, "data.resolution: expected a multiple of 4"),
    "zero std": ("figure2.mixture.stds", [0.3, 0.0, 0.3], "figure2.mixture.stds: expected positive numbers"),
    "unknown teacher": ("students.teachers", ["wan2.1", "sd3"], "students.teachers[1]: expected one of"),
    "table of an untrained student": ("evaluation.table2.students", ["dmd", "phased8"],
                                      "evaluation.table2.students[1]: expected a student of students.methods"),
    "image teacher in a motion table": ("evaluation.table3.teachers", ["wan2.2-t2v", "wan2.1"],
                                        "evaluation.table3.teachers[1]: expected a video teacher"),
    "video teacher in the diversity table": ("evaluation.table2.teachers", ["wan2.2-i2v"],
                                             "evaluation.table2.teachers[0]: expected an image teacher"),
    "figure of one student": ("evaluation.figure9.students", ["phased"],
                              "evaluation.figure9.students: expected two students to compare"),
    "figure of an unknown student": ("evaluation.figure10.students", ["dmd", "dmd_t999"],
                                     "evaluation.figure10.students[1]: expected a student of students.methods"),
    "diversity group": ("evaluation.group", 5, "evaluation.group: expected at least 2 and a divisor of per_prompt"),
    "unknown metric backend": ("evaluation.backend", "raft",
                               "evaluation.backend: expected one of ['embedded', 'paper']"),
    "unknown scale": ("teachers.scale", "huge", "teachers.scale: expected one of ['embedded', 'paper']"),
    "paper scale without prompts": (
        "teachers.scale", "paper", "teachers.prompts: expected a non-empty list without repeats, got []"),
    "steps not split into phases": ("students.methods.phased4", {"method": "phased", "num_phases": 3},
                                    "students.methods.phased4.num_phases: expected a divisor of num_steps = 4, got 3"),
    "unknown method": ("students.methods.dmd", {"method": "dmd3"},
                       "students.methods.dmd.method: expected one of ['dmd', 'sgts', 'phased'], got 'dmd3'"),
    "student name": ("students.methods", {"a/b": {"method": "dmd"}}, "students.methods.a/b: expected a name of"),
    "settings of an unknown teacher": ("students.per_teacher", {"wan3": {"shift": 7.0}},
                                       "students.per_teacher.wan3: expected one of"),
    "negative shift": ("students.per_teacher", {"wan2.2": {"shift": -1.0}},
                       "students.per_teacher.wan2.2.shift: expected a number > 0, got -1.0"),
    "unknown schedule": ("students.distill.schedule", "parallel",
                         "students.distill.schedule: expected one of ['progressive', 'joint'], got 'parallel'"),
    "bench teacher": ("bench.teacher", "flux", "bench.teacher: expected one of"),
    "phase knob of a missing phase": ("students.methods.phased", {"method": "phased", "num_phases": 2,
                                                                  "phases": {3: {"iterations": 5}}},
                                      "students.methods.phased.phases.3: expected a phase number from 1 to 2"),
    "negative phase knob": ("students.methods.phased", {"method": "phased", "num_phases": 2,
                                                        "phases": {2: {"lr_fake": -1.0}}},
                            "students.methods.phased.phases.2.lr_fake: expected a number > 0, got -1.0"),
    "a knob no phase may set": ("students.methods.phased", {"method": "phased", "num_phases": 2,
                                                            "phases": {2: {"method": "dmd"}}},
                                "students.methods.phased.phases.2.method: expected one of the knobs a phase may set"),
    "unknown knob of a student": ("students.methods.dmd", {"method": "dmd", "learning_rate": 0.1},
                                  "students.methods.dmd.learning_rate: Key 'learning_rate' not in 'DistillConfig'"),
    "wrong type in a student": ("students.methods.dmd", {"method": "dmd", "iterations": "many"},
                                "students.methods.dmd.iterations: Value 'many' of type 'str' could not be converted"),
    "a knob nobody sets": ("students.distill.grad_clip", _DELETE,
                           "students.methods.dmd: expected a value of grad_clip (here or in students.distill)"),
    "negative seed": ("students.seeds", [0, -1], "students.seeds[1]: expected a number >= 0, got -1"),
    "repeated report seed": ("evaluation.table2.seeds", [0, 1, 1],
                             "evaluation.table2.seeds: expected a non-empty list without repeats, got [0, 1, 1]"),
    "mfu above one": ("paper_scale.mfu", 1.5, "paper_scale.mfu: expected a share in (0, 1], got 1.5"),
    "no lora target": ("paper_scale.lora_targets", [], "paper_scale.lora_targets: expected a non-empty list"),
    "skip of a student not shown": ("evaluation.convergence.skip", {"wan2.2-t2v": ["phased_i640"]},
                                    "evaluation.convergence.skip.wan2.2-t2v[0]: expected one of this table's "
                                    "students"),
    "skip of a teacher not shown": ("evaluation.convergence.skip", {"qwen-image": ["dmd"]},
                                    "evaluation.convergence.skip.qwen-image: expected one of this table's teachers"),
    "negative figure seed": ("evaluation.figure9.seeds", [3, -4],
                             "evaluation.figure9.seeds[1]: expected a number >= 0, got -4"),
    "fractional seed": ("students.seeds", [0, 1.5], "students.seeds[1]: Value '1.5' of type 'float' could not be"),
    "negative figure2 seed": ("figure2.seeds", [-3], "figure2.seeds[0]: expected a number >= 0, got -3"),
    "negative toy2d seed": ("toy2d.seeds", [-3], "toy2d.seeds[0]: expected a number >= 0, got -3"),
    "negative grad_clip": ("students.distill.grad_clip", -1.0,
                           "students.distill.grad_clip: expected a number > 0, got -1.0"),
    "zero max_weight": ("students.distill.max_weight", 0.0, "students.distill.max_weight: expected a number > 0"),
    "beta1 of 1": ("students.distill.beta1", 1.0, "students.distill.beta1: expected a number from 0 up to"),
    "negative beta2": ("students.distill.beta2", -0.1, "students.distill.beta2: expected a number from 0 up to"),
    "negative weight decay": ("students.distill.weight_decay", -0.01,
                              "students.distill.weight_decay: expected a number >= 0, got -0.01"),
    "negative cfg_scale": ("students.distill.cfg_scale", -4.0,
                           "students.distill.cfg_scale: expected a number >= 0, got -4.0"),
    "negative teacher cfg_scale": ("evaluation.teacher_cfg_scale", -1.0,
                                   "evaluation.teacher_cfg_scale: expected a number >= 0, got -1.0"),
    "negative sample seed": ("evaluation.sample_seed", -5, "evaluation.sample_seed: expected a number >= 0, got -5"),
    "toy2d grad_clip": ("toy2d.distill.grad_clip", -1.0, "toy2d.distill.grad_clip: expected a number > 0, got -1.0"),
    "toy2d method": ("toy2d.distill.method", "dmd", "toy2d.distill.method: expected no method here"),
}


def test_the_shipped_params_are_valid():
    params = load_params(ROOT / "params.yaml")
    assert 0 < params.figure2.s < 1 and len(params.figure2.seeds) >= 3


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_params_name_the_key(case):
    path, value, message = BAD[case]
    with pytest.raises(ConfigError) as info:
        load_params(_with(path, value))
    text = str(info.value)
    assert message in text and "\n" not in text


def test_a_yaml_syntax_error_names_its_line_and_column(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("figure2:\n  s: [unclosed\n  seeds: [0]\n")
    with pytest.raises(ConfigError) as info:
        load_params(bad)
    assert str(info.value).startswith(f"{bad}: line 3, column 8: expected ',' or ']', but got ':'")
    assert "\n" not in str(info.value)


def test_a_key_given_twice_is_refused_naming_it(tmp_path):
    """PyYAML keeps the last of two equal keys: an edit of the first would silently change nothing."""
    text = (ROOT / "params.yaml").read_text().replace("    iterations: 80 ", "    iterations: 80\n    ttur: 2 ", 1)
    (tmp_path / "params.yaml").write_text(text)
    line = 1 + next(i for i, row in enumerate(text.splitlines()) if row.startswith("    ttur: 5 "))
    with pytest.raises(ConfigError, match=rf"line {line}, column 5: duplicate key 'ttur' \(also on line "):
        load_params(tmp_path / "params.yaml")


def _settings(edit, name="dmd", teacher="wan2.1", phase=1):
    data = copy.deepcopy(GOOD)
    edit(data["students"])
    return load_params(data).students.settings(name, teacher, phase)


@pytest.mark.parametrize("knob,value", [("critic", "naive"), ("interval", "disjoint"), ("num_phases", 4),
                                        ("fixed_t", 0.5), ("iterations", 7), ("grad_clip", 0.5)])
def test_every_shared_knob_reaches_every_student(knob, value):
    """students.distill is the lowest layer: a knob that no student, teacher or phase sets reaches them all
    (critic, interval, num_phases and fixed_t were once overwritten by a student's own defaults)."""
    data = copy.deepcopy(GOOD)
    data["students"]["distill"][knob] = value
    students = load_params(data).students
    for name, spec in GOOD["students"]["methods"].items():
        if knob not in spec:
            for teacher in ("wan2.1", "wan2.2-t2v"):
                assert getattr(students.settings(name, teacher, 1), knob) == value, (name, teacher)


def test_the_layers_of_a_students_settings_in_their_order():
    """distill < methods.<name> < per_teacher.<teacher> < methods.<name>.phases.<p>, key by key."""
    def shared(s):
        s["distill"]["batch_size"] = 16

    def spec(s):
        shared(s)
        s["methods"]["dmd"]["batch_size"] = 24

    def teacher(s):
        spec(s)
        s["per_teacher"]["wan2.1"] = {"batch_size": 12}

    def phase(s):
        teacher(s)
        s["methods"]["dmd"]["phases"] = {1: {"batch_size": 6}}

    assert _settings(shared).batch_size == 16
    assert _settings(spec).batch_size == 24
    assert _settings(spec, name="sgts").batch_size == 16  # another student keeps the shared value
    assert _settings(teacher).batch_size == 12
    assert _settings(teacher, teacher="qwen-image").batch_size == 24  # another teacher keeps the student's
    assert _settings(phase).batch_size == 6
    assert load_params(_with("students.methods.dmd", {"method": "dmd", "phases": {1: {"batch_size": 6}}})
                       ).students.settings("dmd", "wan2.1").batch_size == 32  # without a phase: no phase layer
    assert _settings(phase).iterations == GOOD["students"]["distill"]["iterations"]  # the other keys stay


def test_the_shipped_students_keep_their_settings():
    students = load_params(GOOD).students
    assert students.settings("phased_long", "wan2.1", 2).iterations == 320
    assert students.settings("phased_long", "wan2.1", 1).iterations == 80
    assert students.settings("phased_disjoint", "wan2.2", 1).interval == "disjoint"
    assert students.settings("phased", "wan2.2-t2v", 1).batch_size == 8 and students.settings(
        "phased", "wan2.2-t2v", 1).shift == 1.4
    assert students.settings("dmd_t600", "wan2.1").fixed_t == 0.6


def test_paper_scale_image_to_video_needs_one_image_per_prompt():
    data = copy.deepcopy(GOOD)
    data["teachers"].update(scale="paper", names=["wan2.2-i2v"], prompts=["a cat", "a dog"], images=["cat.png"])
    data["evaluation"]["backend"] = "paper"
    with pytest.raises(ConfigError, match=r"teachers.images: expected one image per prompt \(2\) for image-to-video"):
        load_params(data)
    data["teachers"]["images"] = ["cat.png", "dog.png"]
    assert load_params(data).teachers.images == ["cat.png", "dog.png"]


def test_the_paper_times_map_to_the_embedded_scale_and_wan22_grids_end_phase_one_at_the_mapped_boundary():
    """The paper's shift-5 times unshifted (METHOD.md, "Mapping"): Fig. 10's 0.357 and 0.882 are 0.1 and 0.6,
    Wan2.2's boundaries 0.875 and 0.9 are 7/12 and 9/14; the shipped students' grids put s_1 there."""
    from phased_dmd.kinds import KINDS, embedded_time, paper_time
    from phased_dmd.method.grids import LEVEL_TOLERANCE
    from phased_dmd.method.phases import plan_phases

    assert [round(embedded_time(t), 2) for t in (0.357, 0.882)] == [0.1, 0.6]
    assert paper_time(embedded_time(0.3)) == pytest.approx(0.3)
    assert KINDS["wan2.2-t2v"].embedded_boundary == pytest.approx(7 / 12)
    assert KINDS["wan2.2-i2v"].embedded_boundary == pytest.approx(9 / 14)
    students = load_params(GOOD).students
    for kind in ("wan2.2", "wan2.2-t2v", "wan2.2-i2v"):
        end = plan_phases(students.settings("phased", kind))[0].end_level  # float32: within jobs.student's tolerance
        assert end == pytest.approx(KINDS[kind].embedded_boundary, abs=LEVEL_TOLERANCE)
