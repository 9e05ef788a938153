"""The ``airflow-mlops`` command line: :mod:`.main` builds the parser; a module per command."""
