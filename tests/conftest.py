import pytest
import torch

from phased_dmd.toy.mixture import GaussianMixture


@pytest.fixture
def gen() -> torch.Generator:
    """A fresh seeded generator per test: random inputs, reproducible failures."""
    return torch.Generator().manual_seed(20251031)


@pytest.fixture(params=[1, 2], ids=["1d", "2d"])
def mixture(request) -> GaussianMixture:
    """A 3-component mixture with unequal weights and widths, in 1-D and 2-D."""
    if request.param == 1:
        return GaussianMixture.create([0.25, 0.45, 0.3], [-2.0, 0.3, 2.2], [0.3, 0.5, 0.2])
    return GaussianMixture.create(
        [0.25, 0.45, 0.3], [[-2.0, 1.0], [0.3, -1.5], [2.2, 0.8]], [[0.3, 0.6], [0.5, 0.2], [0.2, 0.4]]
    )


@pytest.fixture
def repo(tmp_path):
    """A fresh git repository holding the project's tracked files with tiny settings (workflow tests)."""
    from workflow_repo import make_repo

    return make_repo(tmp_path / "repo")


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A real one-node Slurm on localhost (Debian's slurm-wlm), started for the session and stopped after.

    An already running one (sinfo answers) is used as it is and left running.
    """
    import shutil
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "envs" / "slurm-localhost.sh"
    if shutil.which("slurmctld") is None:
        pytest.fail(f"Slurm is not installed: run `bash {script} install` (root), as .ci/run and the README do")
    if subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30).returncode == 0:
        yield
        return
    work = tmp_path_factory.mktemp("slurm")
    subprocess.run(["timeout", "-k", "10", "60", "bash", str(script), "start", str(work)], check=True)
    try:
        yield
    finally:
        subprocess.run(["timeout", "-k", "10", "60", "bash", str(script), "stop", str(work)], check=False)


@pytest.fixture(scope="module")
def student_setup(tmp_path_factory, request):
    """A folder with Fashion-MNIST (fmnist/: the repository's data/fashion-mnist when the workflow has fetched it,
    else from Debian's package) and a randomly initialised tiny teacher (teacher/) of the kind the test module names
    in its TEACHER_KIND (students need a teacher, not a good one)."""
    from pathlib import Path

    from phased_dmd.data.fashion_mnist import CLASS_NAMES, fetch
    from phased_dmd.teachers.flow_model import teacher_info, tiny_teacher

    root = tmp_path_factory.mktemp("student")
    local = Path(__file__).resolve().parents[1] / "data" / "fashion-mnist"
    fetch(root / "fmnist", local if local.is_dir() else None)
    torch.manual_seed(0)
    tiny_teacher(teacher_info(request.module.TEACHER_KIND, list(CLASS_NAMES), 16)).save(root / "teacher")
    return root


@pytest.fixture(scope="session")
def metric_weights(tmp_path_factory):
    """A weights folder with random-weight instances of the paper's metric networks, and their state dicts."""
    from metric_weights import random_weights

    folder = tmp_path_factory.mktemp("metric-weights")
    return folder, random_weights(folder)
