import os
from pathlib import Path

# One persistent compilation cache for the whole test session, in-process and in every
# subprocess the tests start (CLI runs, the notebook's kernel, the 8-device and resume runs):
# they compile the same programs again and again. Set before JAX is imported.
_CACHE = Path(__file__).parents[1] / ".pytest_cache" / "jaxnets-xla"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAXNETS_CACHE_DIR", os.environ["JAX_COMPILATION_CACHE_DIR"])  # the CLI's default
# The precision policy (experiments.harness.runner.PRECISION): float32 matrix products on every backend,
# since the tests' bars (1e-6 between seed k of N and the single run, resume bit for bit, 1 vs 8
# devices) are tighter than a TPU's bfloat16 passes or a GPU's TF32. The CPU computes float32 anyway.
os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "float32")

import pytest  # noqa: E402

from jaxnets import data  # noqa: E402


def _available(name: str) -> bool:
    try:
        return data._find_folder(name, None) is not None
    except data.DataError:
        return False


needs_mnist = pytest.mark.skipif(
    not _available("mnist"),
    reason=f"MNIST files not found: set {data.ENV_VAR} to a folder holding mnist/ (its four IDX .gz files)",
)
needs_fashion = pytest.mark.skipif(
    not (_available("mnist") and _available("fashion_mnist")),
    reason=f"MNIST or Fashion-MNIST files not found: set {data.ENV_VAR} to a folder holding mnist/ and "
    "fashion-mnist/ (their IDX .gz files)",
)


# The end-to-end tier (``pytest -m slow``; CI runs it after the default tier): tests that run the
# project as its users do (the CLI, the docs' examples, other processes, several devices) or at a
# real (if reduced) size, most of them tens of seconds from an empty cache, most of it compiling.
# The default tier (``pytest``) is the in-process tests of the library and the harness.
# Node ids, or their beginnings.
END_TO_END = (
    # every experiment at its reduced settings, the labs' PyTorch code step for step, ResNet-18
    "tests/experiments/test_experiments.py",
    "tests/twins/",
    "tests/test_models.py::test_resnet18_gives_the_same_outputs_and_gradients_either_way",
    # other processes: 8 simulated devices, jobs of 2 processes, a notebook kernel, scripts
    "tests/test_accelerator.py",
    "tests/test_distributed.py",
    "tests/test_notebook.py",
    "tests/test_parallel.py::test_eight_devices_train_like_one",
    "tests/test_checkpoint.py::test_a_killed_run_resumes_to_the_same_parameters_and_history_bit_for_bit",
    "tests/experiments/harness/test_plots.py::test_importing_jaxnets_changes_no_global_state",
    "tests/experiments/harness/test_settings.py::test_a_tuple_setting_takes_a_literal_and_quick_still_applies",
    # the command line and the docs' code blocks, run as users run them
    "tests/experiments/harness/test_cli.py",
    "tests/test_docs.py::test_python_blocks_run",
    "tests/experiments/harness/test_stopping.py::test_sigterm_to_a_process_stuck_in_a_collective",
    "tests/experiments/harness/test_stopping.py::test_a_ctrl_c_swallowed_on_its_way",
    *(
        f"tests/experiments/harness/test_cli_bad_input.py::test_{name}"
        for name in (
            "a_job_that_loses_a_process_stops_on_every_process_in_one_line",
            "a_damaged_result_of_another_experiment_breaks_neither_the_report_nor_the_estimate",
            "documented_extremes_give_a_result_not_a_traceback",
            "two_processes_started_with_different_settings_both_stop_at_once",
            "resume_runs_again_a_finished_result_whose_files_were_deleted",
            "fashion_mnist_under_mnist_is_refused_unless_accepted",
            "a_file_size_limit_is_one_line_and_exit_1_and_keeps_the_results",
        )
    ),
)


# Kept apart, on one xdist worker one after another: the programs of 8 simulated CPU devices and
# PyTorch's twins. Beside PyTorch's load, XLA:CPU's in-process all-reduce of 8 devices lost a
# device's part about 1 run in 6 (rendezvous.cc: "Expected 8 threads to join the rendezvous, but
# only 7 of them arrived", then an abort: the device's task left waiting behind threads that wait
# for it); with nothing beside them it has not happened. `--dist loadgroup` (pyproject.toml) runs
# a group on one worker.
APART = (
    "tests/twins/",
    "tests/test_notebook.py::test_the_notebook_executes_on_one_and_on_eight_devices",
    "tests/test_parallel.py::test_eight_devices_train_like_one",
    "tests/test_accelerator.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(END_TO_END):
            item.add_marker(pytest.mark.slow)
        if item.nodeid.startswith(APART):
            item.add_marker(pytest.mark.xdist_group("eight-devices-and-pytorch"))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path


def pytest_report_header(config):
    return f"{data.ENV_VAR}={os.environ.get(data.ENV_VAR, '(unset)')}"
