"""Walk through every example of the RIME SDK reference against a running server.

Start a server in one terminal, then run this script in another:

    rime serve --data-dir /tmp/rime-data --port 5000 --no-pip-index
    python examples/sdk/quickstart.py --address 127.0.0.1:5000

The script writes a small loan-approval data set and a model file into a temporary directory,
uploads them, runs a stress test, reads its results, lists jobs with both status-filter
spellings, builds a managed image (with no requirements, so it works offline) and creates a
firewall on the run. Run it again against the same server: it makes a new project and run,
and reuses the image the first run built (image names are unique on a server).
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from pytest_rime import RIMEClient
from pytest_rime.sdk import RIMEAlreadyExistsError

MODEL = """
import numpy as np


def predict_df(df):
    score = 0.05 * (df["age"] - 40) + 0.8 * (df["income"] - 50) / 20
    score = score + np.where(df["city"] == "Paris", 0.4, 0.0)
    return 1.0 / (1.0 + np.exp(-score))
"""


def write_data(directory: Path, seed: int = 0) -> tuple[Path, Path, Path]:
    """Write ref.csv, eval.csv and model/model.py into ``directory``."""
    rng = np.random.default_rng(seed)

    def frame(n: int) -> pd.DataFrame:
        df = pd.DataFrame(
            {
                "age": rng.integers(18, 80, n),
                "income": rng.normal(50, 15, n).round(2),
                "city": rng.choice(["Paris", "Lyon", "Nice"], n),
            }
        )
        score = 0.05 * (df["age"] - 40) + 0.8 * (df["income"] - 50) / 20
        score += np.where(df["city"] == "Paris", 0.4, 0.0) + rng.normal(0, 0.5, n)
        df["approved"] = (score > 0).astype(int)
        return df

    ref, cur = directory / "ref.csv", directory / "eval.csv"
    frame(800).to_csv(ref, index=False)
    frame(800).to_csv(cur, index=False)
    model_dir = directory / "model"
    model_dir.mkdir()
    (model_dir / "model.py").write_text(textwrap.dedent(MODEL))
    return ref, cur, model_dir


def main() -> None:
    """Run the reference examples in order, printing what each returns."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:5000", help="host:port of rime serve")
    parser.add_argument("--api-key", default="", help="API key, when the server requires one")
    args = parser.parse_args()

    rime_client = RIMEClient(args.address, args.api_key, disable_tls=True)
    project = rime_client.create_project(name="foo", description="bar")
    projects, next_page_token = rime_client.list_projects()
    print(f"{len(projects)} project(s); next page token {next_page_token!r}")

    with tempfile.TemporaryDirectory() as tmp:
        ref, cur, model_dir = write_data(Path(tmp))
        ref_uri = rime_client.upload_dataset_file(ref)
        eval_uri = rime_client.upload_dataset_file(cur)
        model_uri = rime_client.upload_model_directory(model_dir)
    print("uploaded:", ref_uri, eval_uri, model_uri, sep="\n  ")

    config = {
        "run_name": "Loans",
        "data_info": {"label_col": "approved", "ref_path": ref_uri, "eval_path": eval_uri},
        "model_info": {"path": f"{model_uri}/model.py"},
    }
    job = rime_client.start_stress_test_job(test_run_config=config, project_id=project.project_id)
    job.get_status(verbose=True, wait_until_finish=True, poll_rate_sec=1.0)
    cases = job.get_test_cases_result()
    print(cases[["test_batch_type", "features", "status", "severity"]].head(10).to_string())
    run = job.get_test_run_result()
    print(run.filter(like="metrics.severity_counts").to_string())
    print("link:", job.get_link())

    for filters in (["pending", "succeeded"], ["JOB_STATUS_PENDING", "JOB_STATUS_SUCCEEDED"]):
        jobs = rime_client.list_stress_test_jobs(
            status_filters=filters, project_id=project.project_id
        )
        print(f"{len(jobs)} job(s) with status in {filters}")

    try:
        builder = rime_client.create_managed_image("quickstart_image", [])
    except RIMEAlreadyExistsError:  # a previous run built it: image names are unique
        print("image quickstart_image already exists; reusing it")
    else:
        builder.get_status(verbose=True, wait_until_finish=True, poll_rate_sec=1.0)
    images, _ = rime_client.list_managed_images()
    print("images:", [x["name"] for x in images])

    firewall = rime_client.create_firewall(
        "quickstart firewall", 86400, job.get_test_run_id(), project.project_id
    )
    same = rime_client.get_firewall_for_project(project.project_id)
    print("firewall:", firewall.firewall_id, "found by project:", same.firewall_id)
    rime_client.close()


if __name__ == "__main__":
    main()
