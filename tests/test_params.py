"""params.yaml validation: every bad value stops with one line naming the key and what was expected."""

import copy
from pathlib import Path

import pytest
import yaml

from phased_dmd.config import ConfigError
from phased_dmd.params import load_params

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
    "figure of an unknown student": ("evaluation.figure10.students", ["dmd", "dmd_t100"],
                                     "evaluation.figure10.students[1]: expected a student of students.methods"),
    "diversity group": ("evaluation.group", 5, "evaluation.group: expected at least 2 and a divisor of per_prompt"),
    "unknown metric backend": ("evaluation.backend", "raft",
                               "evaluation.backend: expected one of ['embedded', 'paper']"),
    "unknown scale": ("teachers.scale", "huge", "teachers.scale: expected one of ['embedded', 'paper']"),
    "paper scale without prompts": (
        "teachers.scale", "paper", "teachers.prompts: expected a non-empty list without repeats, got []"),
    "steps not split into phases": ("students.methods.phased4", {"method": "phased", "num_phases": 3},
                                    "students.methods.phased4: num_phases: expected a divisor of num_steps = 4, got 3"),
    "unknown method": ("students.methods.dmd", {"method": "dmd3"},
                       "students.methods.dmd: method: expected one of ['dmd', 'sgts', 'phased'], got 'dmd3'"),
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


def test_unreadable_yaml_is_one_line(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("figure2: [unclosed\n")
    with pytest.raises(ConfigError, match=r"params.yaml: cannot be read as YAML") as info:
        load_params(bad)
    assert "\n" not in str(info.value)


def test_paper_scale_image_to_video_needs_one_image_per_prompt():
    data = copy.deepcopy(GOOD)
    data["teachers"].update(scale="paper", names=["wan2.2-i2v"], prompts=["a cat", "a dog"], images=["cat.png"])
    data["evaluation"]["backend"] = "paper"
    with pytest.raises(ConfigError, match=r"teachers.images: expected one image per prompt \(2\) for image-to-video"):
        load_params(data)
    data["teachers"]["images"] = ["cat.png", "dog.png"]
    assert load_params(data).teachers.images == ["cat.png", "dog.png"]
