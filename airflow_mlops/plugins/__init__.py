"""The Airflow UI plugin: the Models page and the report endpoint, on the api-server."""
