"""A twin of nightly_retrain_churn whose every promotion waits for a human (approval.always),
for the browser test that approves a night from Required Actions (tests/stack/test_ui_on_stack.py).
"""

from _churn import churn_config

from airflow_mlops.templates.retrain import build_retrain_dag

config = churn_config()
approval = config.promotion.approval.model_copy(update={"always": True})
config = config.model_copy(update={"promotion": config.promotion.model_copy(
    update={"approval": approval})})

dag = build_retrain_dag(config, dag_id="nightly_retrain_churn_gated")
