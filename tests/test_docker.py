"""The container set-up: docker/compose.yaml as docker-compose resolves it, the Dockerfiles as text,
the notebook launcher's token guard, and the image check script. No Docker engine is needed:
``docker-compose config`` validates and resolves the compose file offline."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"

GPU_SERVICES = {"pipeline", "bench", "notebook", "test"}
CPU_SERVICES = {f"{s}-cpu" for s in GPU_SERVICES}

# Variables the compose file reads; cleared so that the host's settings do not leak into the test.
_KNOBS = ("GPUPIPE_BACKEND", "GPUPIPE_USER", "GPUPIPE_GPUS", "GPUPIPE_SHM_SIZE", "JUPYTER_TOKEN",
          "JUPYTER_BIND", "JUPYTER_PORT")


# --------------------------------------------------------------------------------------------
# docker-compose config
# --------------------------------------------------------------------------------------------

def _compose_config(**env: str) -> dict:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (.ci/run installs Debian's docker-compose with apt-get; "
                    "apt-get was unavailable or failed here)")
    import yaml

    run_env = {k: v for k, v in os.environ.items() if k not in _KNOBS}
    run_env.update(env)
    # --project-directory keeps a stray .env in the caller's directory out of the resolution.
    proc = subprocess.run([exe, "--project-directory", str(DOCKER), "-f", str(COMPOSE), "config"],
                          capture_output=True, text=True, env=run_env, timeout=120, check=False)
    assert proc.returncode == 0, f"docker-compose config failed:\n{proc.stderr}"
    return yaml.safe_load(proc.stdout)


@pytest.fixture(scope="module")
def config() -> dict:
    return _compose_config()


def _devices(service: dict) -> list[dict]:
    return service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])


def _bytes(size: str | int) -> int:
    m = re.fullmatch(r"(\d+)\s*([kmg]?)b?", str(size).strip().lower())
    assert m, f"unparseable size {size!r}"
    return int(m.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m.group(2)]


def test_compose_defines_the_gpu_services_and_their_cpu_variants(config):
    assert set(config["services"]) == GPU_SERVICES | CPU_SERVICES


def test_gpu_services_reserve_nvidia_gpus(config):
    for name in GPU_SERVICES:
        devices = _devices(config["services"][name])
        assert len(devices) == 1, name
        dev = devices[0]
        assert dev["driver"] == "nvidia", name
        assert "gpu" in dev["capabilities"], name
        assert dev["count"] == "all" or int(dev["count"]) >= 1, name


def test_gpu_count_can_be_narrowed():
    cfg = _compose_config(GPUPIPE_GPUS="1")
    assert int(_devices(cfg["services"]["pipeline"])[0]["count"]) == 1


def test_cpu_services_reserve_no_gpu_and_sit_behind_the_cpu_profile(config):
    for name in CPU_SERVICES:
        svc = config["services"][name]
        assert _devices(svc) == [], name
        assert "cpu" in svc.get("profiles", []), name
        assert svc["build"]["dockerfile"] == "docker/Dockerfile.cpu", name
        assert svc["environment"]["GPUPIPE_BACKEND"] == "pandas", name
    for name in GPU_SERVICES:
        svc = config["services"][name]
        # GPU services start without naming a profile: `up pipeline` must just work.
        assert not svc.get("profiles"), name
        assert svc["build"]["dockerfile"] == "docker/Dockerfile", name
        assert Path(svc["build"]["context"]).resolve() == ROOT, name


def test_gpu_backend_defaults_to_cudf_and_follows_the_environment(config):
    assert {config["services"][s]["environment"]["GPUPIPE_BACKEND"] for s in GPU_SERVICES} == {"cudf"}
    cfg = _compose_config(GPUPIPE_BACKEND="auto")
    assert cfg["services"]["bench"]["environment"]["GPUPIPE_BACKEND"] == "auto"
    assert cfg["services"]["bench-cpu"]["environment"]["GPUPIPE_BACKEND"] == "pandas"


def test_shared_memory_and_ulimits_as_rapids_and_nvidia_document(config):
    for name, svc in config["services"].items():
        assert _bytes(svc["shm_size"]) >= 2**30, name
        ulimits = svc["ulimits"]
        assert ulimits["memlock"] == {"soft": -1, "hard": -1}, name
        assert int(ulimits["stack"]) == 67108864, name


def test_results_and_data_are_mounted_from_the_repository(config):
    for name, svc in config["services"].items():
        mounts = {}
        for v in svc["volumes"]:
            src, dst, *mode = v.split(":") if isinstance(v, str) else (v["source"], v["target"])
            mounts[dst] = (Path(src).resolve(), mode[0] if mode else "rw")
        assert mounts["/results"] == (ROOT / "results", "rw"), name
        assert mounts["/data"] == (ROOT / "data", "ro"), name


def test_commands_are_the_documented_ones(config):
    s = config["services"]
    for suffix in ("", "-cpu"):
        assert s["pipeline" + suffix]["command"] == ["gpupipe", "run", "flights-delay", "--out",
                                                     "/results/flights-delay"]
        assert s["bench" + suffix]["command"] == ["gpupipe", "bench", "--out", "/results/bench"]
        test_cmd = s["test" + suffix]["command"]
        assert test_cmd[:3] == ["python", "-m", "pytest"]
        # the whole suite: no marker or keyword selection that would drop the gpu tests
        assert "-m" not in test_cmd[3:] and "-k" not in test_cmd[3:]
        assert s["notebook" + suffix]["command"] == ["gpupipe-notebook"]


def test_containers_do_not_run_as_root(config):
    for name, svc in config["services"].items():
        user = str(svc.get("user", "")).split(":")[0]
        assert user and user not in {"0", "root"}, name
    cfg = _compose_config(GPUPIPE_USER="1234:5678")
    assert cfg["services"]["test"]["user"] == "1234:5678"


def test_notebook_is_published_on_localhost_only_by_default(config):
    for name in ("notebook", "notebook-cpu"):
        ports = config["services"][name]["ports"]
        assert len(ports) == 1
        port = ports[0]
        host_ip, target = (port.split(":")[0], port.split(":")[2]) if isinstance(port, str) \
            else (port["host_ip"], port["target"])
        assert host_ip == "127.0.0.1", name
        assert str(target).split("/")[0] == "8888", name
    assert "ports" not in config["services"]["pipeline"]


def test_notebook_token_comes_from_the_host_and_is_not_needed_by_other_services(config):
    # Without JUPYTER_TOKEN the file still resolves (so `up pipeline` needs no token) and the
    # notebook receives an empty token, which its launcher refuses (see the launcher tests).
    assert config["services"]["notebook"]["environment"]["JUPYTER_TOKEN"] in ("", None)
    token = "f" * 32
    cfg = _compose_config(JUPYTER_TOKEN=token)
    assert cfg["services"]["notebook"]["environment"]["JUPYTER_TOKEN"] == token
    assert cfg["services"]["notebook-cpu"]["environment"]["JUPYTER_TOKEN"] == token
    assert "JUPYTER_TOKEN" not in cfg["services"]["pipeline"]["environment"]


# --------------------------------------------------------------------------------------------
# the notebook launcher (docker/notebook.sh, installed in the images as gpupipe-notebook)
# --------------------------------------------------------------------------------------------

def _launch(tmp_path: Path, token: str | None) -> subprocess.CompletedProcess:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    stub = tmp_path / "jupyter"  # records how it was called instead of starting a server
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$STUB_OUT"\nprintf "%s" "$JUPYTER_TOKEN" > "$STUB_OUT.token"\n')
    stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN"}
    env.update(PATH=f"{tmp_path}{os.pathsep}{env.get('PATH', '')}", STUB_OUT=str(tmp_path / "args"))
    if token is not None:
        env["JUPYTER_TOKEN"] = token
    return subprocess.run([bash, str(DOCKER / "notebook.sh")], capture_output=True, text=True, env=env,
                          timeout=30, check=False)


@pytest.mark.parametrize("token", [None, "", "too-short"])
def test_notebook_launcher_refuses_to_start_without_a_real_token(tmp_path, token):
    proc = _launch(tmp_path, token)
    assert proc.returncode == 2
    assert "JUPYTER_TOKEN" in proc.stderr
    assert not (tmp_path / "args").exists(), "jupyter was started"


def test_notebook_launcher_starts_jupyterlab_with_the_token_in_its_environment(tmp_path):
    token = "0123456789abcdef" * 2
    proc = _launch(tmp_path, token)
    assert proc.returncode == 0, proc.stderr
    args = (tmp_path / "args").read_text().split("\n")
    assert args[0] == "lab"
    assert "--ip=0.0.0.0" in args and "--no-browser" in args
    # the token reaches jupyter-server through its environment, never on the command line
    assert (tmp_path / "args.token").read_text() == token
    assert not any(token in a for a in args)


# --------------------------------------------------------------------------------------------
# the Dockerfiles, parsed as text
# --------------------------------------------------------------------------------------------

def _stages(path: Path) -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    """(global ARG defaults, stages as lists of (INSTRUCTION, arguments)); continuations joined."""
    lines, buf = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        lines.append(buf + line)
        buf = ""
    args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        instr, _, rest = line.partition(" ")
        instr, rest = instr.upper(), rest.strip()
        if instr == "FROM":
            stages.append([])
        if not stages:
            if instr == "ARG" and "=" in rest:
                k, v = rest.split("=", 1)
                args[k] = v
            continue
        stages[-1].append((instr, rest))
    return args, stages


def _resolve(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], text)


def _final(path: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    args, stages = _stages(path)
    return args, stages[-1]


def test_gpu_image_is_ngc_rapids_for_cuda13_and_python312():
    args, final = _final(DOCKER / "Dockerfile")
    base = _resolve(final[0][1].split()[0], args)
    assert re.fullmatch(r"nvcr\.io/nvidia/rapidsai/base:\d{2}\.\d{2}-cuda13-py3\.12", base), base


def test_cpu_image_is_plain_python312_slim():
    args, final = _final(DOCKER / "Dockerfile.cpu")
    assert _resolve(final[0][1].split()[0], args) == "python:3.12-slim"


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cpu"])
def test_images_run_as_a_non_root_user_with_a_gpupipe_info_healthcheck(name):
    _, final = _final(DOCKER / name)
    users = [rest for instr, rest in final if instr == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    checks = [rest for instr, rest in final if instr == "HEALTHCHECK"]
    assert len(checks) == 1
    assert re.search(r'CMD \["gpupipe",\s*"info"\]', checks[0]) or re.search(r"CMD gpupipe info", checks[0])
    env = " ".join(rest for instr, rest in final if instr == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert any(instr == "WORKDIR" for instr, _ in final)
    # every file the image copies from the checkout exists
    for instr, rest in final:
        if instr == "COPY" and "--from=" not in rest:
            src = next(t for t in rest.split() if not t.startswith("--"))
            assert (ROOT / src).exists(), f"{name}: COPY {src} does not exist"


def test_gpu_image_installs_cuda13_torch_and_cannot_replace_the_image_packages():
    _, final = _final(DOCKER / "Dockerfile")
    runs = [rest for instr, rest in final if instr == "RUN"]
    installs = [r for r in runs if "pip install" in r]
    assert installs
    for r in installs:
        assert "--constraint" in r or " -c " in r, f"pip install without the image constraints: {r}"
        # pip names of the gpu extra would pull a second cuDF next to the image's conda one
        assert "[gpu" not in r and "dev,gpu" not in r and "cudf-cu13" not in r, r
    arg_defaults = dict(rest.split("=", 1) for instr, rest in final if instr == "ARG" and "=" in rest)
    torch_installs = [_resolve(r, arg_defaults) for r in installs if "torch==" in r]
    assert len(torch_installs) == 1
    assert '--index-url "https://download.pytorch.org/whl/cu130"' in torch_installs[0]
    assert "+cu130" in torch_installs[0]
    assert any("verify_image.py" in r for r in runs), "the image does not check its gpu extra"


def test_cpu_image_installs_the_cpu_torch_wheel():
    _, final = _final(DOCKER / "Dockerfile.cpu")
    arg_defaults = dict(rest.split("=", 1) for instr, rest in final if instr == "ARG" and "=" in rest)
    assert arg_defaults["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert any("torch==" in rest and "TORCH_INDEX_URL" in rest for instr, rest in final if instr == "RUN")


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", ".venv-gpuapi", "results"} <= ignored


# --------------------------------------------------------------------------------------------
# docker/verify_image.py (runs at image build time; its logic is checked here)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def verify():
    spec = importlib.util.spec_from_file_location("verify_image", DOCKER / "verify_image.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["verify_image"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gpu_extra() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["gpu"]


# What a RAPIDS 26.10 CUDA 13 conda image holds, under conda names.
_RAPIDS_IMAGE = {"cudf": "26.10.2", "cuml": "26.10.0", "dask-cudf": "26.10.2", "dask-cuda": "26.10.0",
                 "cupy": "14.0.1", "cudf-polars": "26.10.2", "pynvml": "13.0.1", "nvidia-ml-py": "13.580.82",
                 "pandas": "3.0.2"}


def test_verify_accepts_an_image_that_has_the_gpu_extra_under_conda_names(verify, gpu_extra):
    assert verify.check_extra(gpu_extra, _RAPIDS_IMAGE.get) == []


def test_verify_names_a_missing_or_out_of_range_package(verify, gpu_extra):
    image = dict(_RAPIDS_IMAGE, pandas="3.1.0")
    del image["cudf"]
    problems = verify.check_extra(gpu_extra, image.get)
    assert len(problems) == 2
    assert any("cudf" in p and "not installed" in p for p in problems)
    assert any(p.startswith("pandas 3.1.0") for p in problems)


def test_verify_detects_a_pinned_package_that_pip_replaced(verify, tmp_path):
    pins_file = tmp_path / "constraints.txt"
    pins_file.write_text("pandas==3.0.2\ncudf==26.10.2\nrequests==2.32.0\n")
    pins = verify.read_constraints(str(pins_file))
    assert verify.check_pins(pins, lookup={"pandas": "3.0.2", "cudf": "26.10.2"}.get) == []
    problems = verify.check_pins(pins, lookup={"pandas": "3.1.0", "cudf": "26.10.2"}.get)
    assert len(problems) == 1 and "pandas was 3.0.2" in problems[0] and "3.1.0" in problems[0]


def test_verify_rejects_a_torch_that_is_not_a_cuda13_build(verify):
    torch = pytest.importorskip("torch")
    problems = verify.check_torch("13")
    if torch.version.cuda and torch.version.cuda.startswith("13."):
        assert problems == []
    else:
        assert len(problems) == 1 and "expected CUDA 13" in problems[0]
