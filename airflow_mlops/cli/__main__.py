"""``python -m airflow_mlops.cli``: the same as the ``airflow-mlops`` command."""

import sys

from airflow_mlops.cli.main import main

sys.exit(main())
