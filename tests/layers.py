"""Lists the imports of src/phased_dmd that go up the layers; exits 1 when there is one (tests/test_dag.py)."""

import pathlib
import re
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "src" / "phased_dmd"
ORDER = ["foundation", "method", "engine", "data", "teachers", "cost", "metrics", "toy", "jobs", "sample", "export",
         "reports", "gpu_check", "workflow"]
FOUNDATION = {"__init__", "choices", "config", "diffusers_api", "draws", "io", "kinds", "plots", "registry", "runs",
              "stats", "torchvision_import"}
IMPORT = re.compile(r"^\s*(?:from phased_dmd\.([\w.]+) import|from phased_dmd import (\w+)"
                    r"|import phased_dmd\.([\w.]+))",
                    re.M)


def layer(module: str) -> str:
    top = module.split(".")[0]
    return "foundation" if top in FOUNDATION else top


def upward_imports() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for match in IMPORT.finditer(path.read_text()):
            dep = next(group for group in match.groups() if group)
            if ORDER.index(layer(dep)) > ORDER.index(layer(module)):
                found.append(f"{module} ({layer(module)}) imports {dep} ({layer(dep)})")
    return found


if __name__ == "__main__":
    bad = upward_imports()
    print("\n".join(bad) or "imports run one way")
    sys.exit(1 if bad else 0)
