"""Benchmark: parsing the model factory's DAG file, as Airflow's DAG processor parses it.

For 10, 100 and 1,000 model configs, side by side in one run, each in a fresh interpreter
that has imported Airflow and pre-imported the file's ``airflow.*`` imports (what a parser
process forked from the DAG processor starts with), the time of ``DagBag(file)``:

- ``ours``: ``dags/nightly_retrain.py`` over a folder of model YAMLs (copies of
  ``dags/models/churn.yaml``, one per model), its validated-config cache warmed by one untimed
  parse (what every re-parse of unchanged configs meets);
- ``ours-cold``: the same with the cache off (``AIRFLOW_MLOPS_CONFIG_CACHE=off``): every
  config's YAML read and checked, as on the first parse after an edit;
- ``dag-factory``: astronomer's dag-factory (``load_yaml_dags``) over one YAML per model that
  declares the same tasks with the same operator classes and arguments;
- ``hand-written``: ``bench/plain_retrain.py``, the same DAG written by hand, once per model;
- ``floor``: a plain DAG file building as many DAGs with as many ``EmptyOperator`` tasks and
  the same dependencies: what any DAG file with that many DAGs and tasks costs.

``--marginal`` also times a single model once the modules are imported (the median of
re-parses in one interpreter): our template with one config against ``bench/plain_retrain.py``,
a hand-written DAG file with the same tasks. Peak RSS is the parser process's maximum.

``--instructions`` counts, instead of timing, the instructions each variant's parse executes
under valgrind's callgrind (the child building the DagBag once, minus the same child building
none): a count that other work on the machine does not change, for ratios a busy machine
cannot settle. It is about 50 times slower than the timed parse.

    make bench    # installs dag-factory (the `bench` dependency group)
    .venv/bin/python bench/parse.py                      # 10, 100, 1000 models, 3 runs each
    .venv/bin/python bench/parse.py --models 10 --repeat 1 --marginal
    .venv/bin/python bench/parse.py --models 1000 --instructions --variants ours,floor,hand-written
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
IMPORT_TIMEOUT = 30.0  # Airflow's default [core] dagbag_import_timeout

PARSE = """
import json, resource, sys, time
import airflow
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports
path, repeat = sys.argv[1], int(sys.argv[2])
for module in iter_airflow_imports(path):  # [dag_processor] parsing_pre_import_modules
    __import__(module)
times, bag = [], None
for _ in range(repeat):
    start = time.perf_counter()
    bag = DagBag(dag_folder=path)
    times.append(time.perf_counter() - start)
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
dags = {} if bag is None else bag.dags
tasks = sum(len(dag.tasks) for dag in dags.values())
print(json.dumps({"times": times, "dags": len(dags), "tasks": tasks,
                  "errors": 0 if bag is None else len(bag.import_errors), "peak_mb": peak_mb}))
"""

OURS_FILE = (REPO / "dags" / "nightly_retrain.py").read_text()
PLAIN_FILE = (REPO / "bench" / "plain_retrain.py").read_text()
FLOOR_FILE = """\
# The floor: {models} DAGs of the template's shape, every task an EmptyOperator.
import datetime as dt

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

TASKS = ("wait_for_data", "validate", "train", "evaluate", "route_decision", "approve",
         "smoke_check", "promote", "reject", "summary")
EDGES = [("wait_for_data", "validate"), ("validate", "train"), ("train", "evaluate"),
         ("evaluate", "route_decision"), ("route_decision", "approve"),
         ("route_decision", "smoke_check"), ("route_decision", "reject"),
         ("approve", "smoke_check"), ("approve", "reject"), ("smoke_check", "promote"),
         ("promote", "summary"), ("reject", "summary"), ("validate", "summary"),
         ("evaluate", "promote"), ("evaluate", "reject"), ("evaluate", "summary")]

for index in range({models}):
    with DAG(dag_id=f"floor_{{index:04d}}", schedule="@daily", catchup=False,
             start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)):
        tasks = {{name: EmptyOperator(task_id=name) for name in TASKS}}
        for upstream, downstream in EDGES:
            tasks[upstream] >> tasks[downstream]
"""
PEER_FILE = """\
# Airflow DAGs from YAML through dag-factory's documented entry point (into globals()).
from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), dags_folder={folder!r})
"""
PEER_CALLABLES = '''\
def route(decision):
    return [] if decision.get("dry_run") else [
        {"promote": "smoke_check", "needs_approval": "approve", "reject": "reject"}[
            decision["verdict"]]]


def summarize(**context):
    return context["ti"].xcom_pull(task_ids="evaluate")
'''


def churn(name: str) -> dict:
    config = yaml.safe_load((REPO / "dags" / "models" / "churn.yaml").read_text())
    config["suite"] = str(REPO / "expectations" / "churn.json")
    return {**config, "name": name}


def peer_dag(config: dict) -> dict:
    """The dag-factory declaration of the same DAG our template builds for ``config``."""
    name, data_uri = config["name"], config["data_uri"]
    common = {"model_name": name, "mlflow_conn_id": config["mlflow_conn_id"]}
    data = {"data_uri": data_uri, "target": config["target"], "features": config["features"],
            "task": config["task"], "holdout_fraction": config["holdout_fraction"],
            "seed": config["seed"]}
    evaluated = "{{ ti.xcom_pull(task_ids='evaluate') }}"
    after_decision = {"trigger_rule": "none_failed_min_one_success",
                      "dependencies": ["route_decision", "approve"]}
    ours = "airflow_mlops.operators."
    tasks = {
        "wait_for_data": {"operator": "airflow_mlops.sensors.data.DataPartitionSensor",
                          "uri": data_uri, "mode": "reschedule", "poke_interval": 60,
                          "timeout": 6 * 3600},
        "validate": {"operator": ours + "validation.ValidateDataOperator", "data_uri": data_uri,
                     "suite": config["suite"], "dependencies": ["wait_for_data"]},
        "train": {"operator": ours + "training.TrainChallengerOperator",
                  "estimator": config["estimator"], "experiment_name": f"airflow-mlops/{name}",
                  **common, **data, "dependencies": ["validate"]},
        "evaluate": {"operator": ours + "evaluation.EvaluateChallengerOperator",
                     "challenger_version": "{{ ti.xcom_pull(task_ids='train')['version'] }}",
                     "policy": config["promotion"], "on_failure": "warn", **common, **data,
                     "dependencies": ["train"]},
        "route_decision": {
            "operator": "airflow.providers.standard.operators.python.BranchPythonOperator",
            "python_callable": "peer_callables.route", "op_args": [evaluated],
            "dependencies": ["evaluate"]},
        "approve": {"operator": "airflow.providers.standard.operators.hitl.HITLBranchOperator",
                    "subject": f"Promote {name}?", "body": "See the decision record.",
                    "options": ["Approve", "Reject"],
                    "options_mapping": {"Approve": "smoke_check", "Reject": "reject"},
                    "defaults": ["Reject"], "dependencies": ["route_decision"]},
        "smoke_check": {"operator": ours + "deployment.SmokeCheckOperator",
                        "version": "{{ ti.xcom_pull(task_ids='evaluate')['challenger_version'] }}",
                        "data_uri": data_uri, "sample_rows": 100, **common, **after_decision},
        "promote": {"operator": ours + "registry.PromoteChallengerOperator",
                    "decision": evaluated, **common, "dependencies": ["smoke_check"]},
        "reject": {"operator": ours + "registry.RejectChallengerOperator",
                   "decision": evaluated, **common, **after_decision},
        "summary": {"operator": "airflow.providers.standard.operators.python.PythonOperator",
                    "python_callable": "peer_callables.summarize",
                    "trigger_rule": "none_failed_min_one_success",
                    "dependencies": ["promote", "reject"]},
    }
    return {f"nightly_retrain_{name}": {
        "default_args": {"owner": config["owner"], "start_date": str(config["start_date"]),
                         "retries": 2, "retry_delay_sec": 60, "retry_exponential_backoff": 2.0},
        "schedule": config["schedule"], "catchup": False, "max_active_runs": 1,
        "description": f"Validate, retrain and compare {name} against its champion",
        "tags": ["airflow-mlops", "retrain", name], "tasks": tasks,
    }}


def write_variants(root: Path, models: int) -> dict[str, Path]:
    """The DAG file of each variant, with ``models`` model configs for it."""
    ours, peer = root / "ours", root / "peer"
    (ours / "models").mkdir(parents=True)
    (peer / "configs").mkdir(parents=True)
    (ours / "nightly_retrain.py").write_text(OURS_FILE)
    (peer / "dag_factory_retrain.py").write_text(PEER_FILE.format(folder=str(peer / "configs")))
    (peer / "peer_callables.py").write_text(PEER_CALLABLES)
    (root / "plain").mkdir()
    (root / "plain" / "plain_retrain.py").write_text(PLAIN_FILE)
    (root / "floor").mkdir()
    (root / "floor" / "floor.py").write_text(FLOOR_FILE.format(models=models))
    for index in range(models):
        config = churn(f"model_{index:04d}")
        (ours / "models" / f"{config['name']}.yaml").write_text(yaml.safe_dump(config))
        (peer / "configs" / f"{config['name']}.yaml").write_text(
            yaml.safe_dump(peer_dag(config), default_flow_style=False))
    return {"ours": ours / "nightly_retrain.py", "ours-cold": ours / "nightly_retrain.py",
            "dag-factory": peer / "dag_factory_retrain.py",
            "hand-written": root / "plain" / "plain_retrain.py",
            "floor": root / "floor" / "floor.py"}


def parse_environment(dag_file: Path, models: int, cache: str) -> dict[str, str]:
    env = {**os.environ, "AIRFLOW_MLOPS_DATA_ROOT": "/tmp/airflow-mlops-bench-data",
           "AIRFLOW_MLOPS_CONFIG_CACHE": cache,
           "PLAIN_RETRAIN_MODELS": str(models),
           "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
           # measure past Airflow's import timeout instead of stopping at it
           "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "3600",
           "PYTHONPATH": os.pathsep.join([str(dag_file.parent), os.environ.get("PYTHONPATH", "")])}
    env.pop("AIRFLOW_MLOPS_CONFIGS", None)
    return env


def parse(dag_file: Path, repeat: int = 1, models: int = 1, cache: str = "off") -> dict:
    result = subprocess.run([sys.executable, "-c", PARSE, str(dag_file), str(repeat)],
                            capture_output=True, text=True, check=True,
                            env=parse_environment(dag_file, models, cache))
    return json.loads(result.stdout.strip().splitlines()[-1])


def callgrind_total(dag_file: Path, repeat: int, models: int, cache: str) -> int:
    """Instructions the parser child executes, building the DagBag ``repeat`` times."""
    with tempfile.TemporaryDirectory(prefix="mlops-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        sys.executable, "-c", PARSE, str(dag_file), str(repeat)],
                       capture_output=True, text=True, check=True,
                       env={**parse_environment(dag_file, models, cache),
                            # the same set orders each run; seeds differ by about 2 %
                            "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")})
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"callgrind wrote no total for {dag_file}")


def instructions(models: list[int], variants: list[str]) -> None:
    print("| models | " + " | ".join(f"{v} instructions (millions)" for v in variants)
          + " | ours / " + " | ours / ".join(v for v in variants if v != "ours") + " |")
    print("|---:" * (2 * len(variants)) + "|")
    for count in models:
        with tempfile.TemporaryDirectory(prefix="mlops-parse-") as tmp:
            files = {n: p for n, p in write_variants(Path(tmp), count).items() if n in variants}
            cache = {name: "off" for name in files} | {"ours": str(Path(tmp) / "cache")}
            if "ours" in files:
                parse(files["ours"], models=count, cache=cache["ours"])  # warms the cache
            counts = {name: callgrind_total(path, 1, count, cache[name])
                      - callgrind_total(path, 0, count, cache[name])
                      for name, path in files.items()}
        ratios = [f"{counts['ours'] / counts[v]:.2f}x" if "ours" in counts else ""
                  for v in variants if v != "ours"]
        print(f"| {count} | " + " | ".join(f"{counts[v] / 1e6:,.0f}" for v in variants) + " | "
              + " | ".join(ratios) + " |", flush=True)


def scaling(models: list[int], repeat: int, variants: list[str]) -> None:
    print("| models | " + " | ".join(f"{v} s" for v in variants)
          + " | ours / " + " | ours / ".join(v for v in variants if v != "ours")
          + " | " + " | ".join(f"{v} peak MB" for v in variants)
          + " | DAGs / tasks (" + "; ".join(variants) + ") |")
    print("|---:" * (1 + 3 * len(variants) - 1) + "|---|")
    for count in models:
        with tempfile.TemporaryDirectory(prefix="mlops-parse-") as tmp:
            files = {n: p for n, p in write_variants(Path(tmp), count).items() if n in variants}
            runs = {name: [] for name in files}
            cache = {name: "off" for name in files} | {"ours": str(Path(tmp) / "cache")}
            if "ours" in files:
                parse(files["ours"], models=count, cache=cache["ours"])  # warms the cache
            for _ in range(repeat):  # interleaved: drifting load hits every variant alike
                for name, path in files.items():
                    runs[name].append(parse(path, models=count, cache=cache[name]))
        seconds = {n: statistics.median(r["times"][0] for r in rs) for n, rs in runs.items()}
        peak = {n: max(r["peak_mb"] for r in rs) for n, rs in runs.items()}
        built = {n: f"{rs[0]['dags']} / {rs[0]['tasks']}" for n, rs in runs.items()}
        if any(r["errors"] for rs in runs.values() for r in rs):
            raise SystemExit(f"import errors at {count} models: {runs}")
        print(f"| {count} | " + " | ".join(f"{seconds[v]:.2f}" for v in variants) + " | "
              + " | ".join(f"{seconds['ours'] / seconds[v]:.2f}x" for v in variants
                           if v != "ours") + " | "
              + " | ".join(f"{peak[v]:.0f}" for v in variants) + " | "
              + "; ".join(built[v] for v in variants) + " |", flush=True)
        if count == max(models):
            print(f"\n{count} models: ours {seconds['ours']:.2f} s = "
                  f"{seconds['ours'] / IMPORT_TIMEOUT:.2f} of the {IMPORT_TIMEOUT:.0f} s "
                  "import timeout")


def marginal(repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mlops-parse-") as tmp:
        ours = write_variants(Path(tmp), 1)["ours"]
        cache = str(Path(tmp) / "cache")
        warm = {"ours (1 config)": parse(ours, repeat + 1, cache=cache),
                "plain DAG file": parse(REPO / "bench" / "plain_retrain.py", repeat + 1)}
    medians = {name: statistics.median(r["times"][1:]) * 1000 for name, r in warm.items()}
    for name, ms in medians.items():
        print(f"- {name}: {ms:.1f} ms per re-parse (median of {repeat})")
    print(f"- ratio: {medians['ours (1 config)'] / medians['plain DAG file']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--marginal", action="store_true")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions with callgrind instead of timing")
    parser.add_argument("--variants", default="ours,floor,hand-written,dag-factory",
                        help="comma-separated; ours first (dag-factory needs `make bench`)")
    args = parser.parse_args()
    print(f"# {dt.date.today()} on {platform.node()}: {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, median of {args.repeat} interleaved runs, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    if args.instructions:
        instructions(args.models, args.variants.split(","))
        return
    scaling(args.models, args.repeat, args.variants.split(","))
    if args.marginal:
        print()
        marginal(max(args.repeat, 20))


if __name__ == "__main__":
    main()
