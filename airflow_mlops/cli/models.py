"""``airflow-mlops models``: the aliases, decisions and alias ledger of a registered model.

- ``status NAME``: where each alias points, and the latest versions' decisions;
- ``history NAME``: the alias ledger, newest move first;
- ``rollback NAME``: champion back to previous_champion, recorded in the ledger;
- ``trust NAME VERSION``: record the SHA-256 of a hand-registered version's reviewed files;
- ``card NAME [VERSION]``: print a version's model card (the champion's by default);
- ``reproduce NAME VERSION``: retrain a version from its records and compare the metrics.

MLflow is reached through an Airflow connection (``--conn-id``), a tracking URI
(``--tracking-uri``), or else MLflow's own environment (``MLFLOW_TRACKING_URI``...).
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from airflow_mlops.cli.common import EXIT_FAILED, EXIT_OK, table
from airflow_mlops.core.errors import ConfigError

if TYPE_CHECKING:
    from mlflow import MlflowClient

CLI_DAG_ID = "airflow-mlops-cli"
MAX_REASONS = 100


@contextmanager
def _client(args: argparse.Namespace) -> Iterator[MlflowClient]:
    """A client for the MLflow the arguments name; its failures end the command in one line."""
    import mlflow
    from mlflow import MlflowClient

    from airflow_mlops.cli.errors import reaching_mlflow
    from airflow_mlops.core.tracking import TrackingTarget, tracking_session

    if args.conn_id:
        from airflow.sdk.exceptions import AirflowNotFoundException

        from airflow_mlops.hooks.mlflow import MlflowHook

        try:
            target = MlflowHook(mlflow_conn_id=args.conn_id).get_target()
        except AirflowNotFoundException:
            raise ConfigError(f"Airflow connection '{args.conn_id}' is not defined") from None
    elif args.tracking_uri:
        target = TrackingTarget(args.tracking_uri, registry_uri=args.registry_uri)
    else:
        with reaching_mlflow(mlflow.get_tracking_uri()):
            yield MlflowClient()
        return
    with reaching_mlflow(target.tracking_uri), tracking_session(target):
        yield MlflowClient()


def _status(args: argparse.Namespace) -> int:
    from mlflow.exceptions import MlflowException

    from airflow_mlops.core import registry
    from airflow_mlops.core.errors import RegistryError

    with _client(args) as client:
        try:
            model = client.get_registered_model(args.model)
        except MlflowException as exc:
            if exc.error_code in registry.NOT_FOUND_CODES:
                raise RegistryError(f"model '{args.model}' is not registered") from None
            raise
        versions = client.search_model_versions(
            f"name='{args.model}'", max_results=args.decisions,
            order_by=["version_number DESC"],
        )
    aliases = {alias: str(version) for alias, version in sorted(model.aliases.items())}
    decisions = []
    for version in versions:
        tags = {key.removeprefix(registry.TAG_PREFIX): value
                for key, value in version.tags.items() if key.startswith(registry.TAG_PREFIX)}
        decisions.append({
            "version": str(version.version),
            "decision": tags.get("decision", ""),
            "status": tags.get("status", ""),
            "compared_to": tags.get("compared_to", ""),
            "evaluated_by": tags.get("evaluated_by", ""),
            "reasons": tags.get("reasons", ""),
        })
    if args.json:
        print(json.dumps({"model": args.model, "aliases": aliases, "decisions": decisions},
                         indent=2))
        return EXIT_OK
    lines = [f"model {args.model}", ""]
    lines.append(table([("ALIAS", "VERSION"), *aliases.items()]) if aliases else "no aliases")
    if decisions:
        rows = [("VERSION", "DECISION", "STATUS", "COMPARED TO", "EVALUATED BY", "REASONS")]
        rows += [(d["version"], d["decision"] or "-", d["status"] or "-", d["compared_to"] or "-",
                  d["evaluated_by"] or "-", _short(d["reasons"])) for d in decisions]
        lines += ["", table(rows)]
    print("\n".join(lines))
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    from airflow_mlops.core import ledger

    with _client(args) as client:
        entries = ledger.history(client, args.model, alias=args.alias, max_results=args.limit)
    if args.json:
        print(json.dumps([entry.to_dict() for entry in entries], indent=2))
        return EXIT_OK
    if not entries:
        print(f"no alias moves of model {args.model} recorded")
        return EXIT_OK
    rows = [("TIME (UTC)", "ALIAS", "FROM", "TO", "ACTION", "STATUS", "DAG RUN", "REASON")]
    rows += [(f"{e.time:%Y-%m-%d %H:%M:%S}", e.alias, e.from_version or "-", e.to_version,
              e.action, e.status.lower(), f"{e.dag_id}/{e.dag_run_id}", _short(e.reason))
             for e in entries]
    print(table(rows))
    return EXIT_OK


def _rollback(args: argparse.Namespace) -> int:
    import datetime as dt

    from airflow_mlops.core import registry
    from airflow_mlops.core.model_card import refresh_cards

    moment = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    lineage = {"dag_id": CLI_DAG_ID, "run_id": f"cli__{moment}__{getpass.getuser()}"}
    with _client(args) as client:
        result = registry.rollback(client, args.model, reason=args.reason, lineage=lineage,
                                   expected_champion=args.expected_champion)
        refresh_cards(client, args.model, result["champion"], result["previous_champion"])
    print(json.dumps(result, indent=2) if args.json else
          f"model {args.model}: champion is v{result['champion']} again; "
          f"previous_champion is v{result['previous_champion']}")
    return EXIT_OK


def _trust(args: argparse.Namespace) -> int:
    from airflow_mlops.core.fetch import trust_version

    with _client(args) as client:
        result = trust_version(client, args.model, args.version, reason=args.reason,
                               by=getpass.getuser())
    print(json.dumps(result, indent=2) if args.json else
          f"model {args.model} v{args.version}: files with sha256 {result['digest']} may load")
    return EXIT_OK


def _card(args: argparse.Namespace) -> int:
    from airflow_mlops.core import registry
    from airflow_mlops.core.errors import RegistryError
    from airflow_mlops.core.model_card import read_card

    with _client(args) as client:
        version = args.version or registry.alias_version(client, args.model, registry.CHAMPION)
        if version is None:
            raise RegistryError(f"model '{args.model}' has no champion; name a version")
        card = read_card(client, args.model, version)
        if args.html:
            args.html.write_text(read_card(client, args.model, version, as_html=True),
                                 encoding="utf-8")
    print(json.dumps({"model": args.model, "version": version, "card": card}, indent=2)
          if args.json else card)
    return EXIT_OK


def _reproduce(args: argparse.Namespace) -> int:
    from airflow_mlops.core.reproduce import DEFAULT_TOLERANCE, reproduce

    if args.tolerance is None:
        args.tolerance = DEFAULT_TOLERANCE
    with _client(args) as client:
        result = reproduce(client, args.model, args.version, tolerance=args.tolerance)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return EXIT_OK if result.matches else EXIT_FAILED
    verdict = "matches" if result.matches else "does NOT match"
    lines = [f"model {args.model} v{args.version} rebuilt from {result.data_uri}: {verdict} "
             f"the recorded metrics (tolerance {args.tolerance:g})", ""]
    rows = [("METRIC", "RECORDED", "REPRODUCED", "")]
    rows += [(name, _figure(result.recorded.get(name)), _figure(value),
              "differs" if name in result.differences else "")
             for name, value in sorted(result.reproduced.items())]
    lines.append(table(rows))
    if result.library_differences:
        rows = [("LIBRARY", "AT TRAINING", "NOW")]
        rows += [(name, found["recorded"] or "-", found["now"] or "-")
                 for name, found in result.library_differences.items()]
        lines += ["", "library versions differ:", table(rows)]
    print("\n".join(lines))
    return EXIT_OK if result.matches else EXIT_FAILED


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"


def _short(text: str) -> str:
    return text if len(text) <= MAX_REASONS else text[: MAX_REASONS - 3] + "..."


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="registered model name")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--conn-id", help="Airflow connection of type mlflow to use")
    where.add_argument("--tracking-uri", help="MLflow tracking URI (else $MLFLOW_TRACKING_URI)")
    parser.add_argument("--registry-uri", help="MLflow registry URI, with --tracking-uri")
    parser.add_argument("--json", action="store_true", help="print JSON")


def add_arguments(models: argparse.ArgumentParser) -> None:
    """The ``models`` command group's actions: status, history, rollback, trust, card, reproduce."""
    actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")

    status = actions.add_parser("status", help="where the aliases point; latest decisions")
    _common(status)
    status.add_argument("--decisions", type=int, default=5,
                        help="show the decisions of this many newest versions (5)")
    status.set_defaults(handler=_status)

    history = actions.add_parser("history", help="the alias ledger, newest move first")
    _common(history)
    history.add_argument("--alias", help="only moves of this alias, e.g. champion")
    history.add_argument("--limit", type=int, default=50, help="at most this many moves (50)")
    history.set_defaults(handler=_history)

    rollback = actions.add_parser("rollback", help="point champion back at previous_champion")
    _common(rollback)
    rollback.add_argument("--reason", required=True, help="why, for the ledger")
    rollback.add_argument("--expected-champion", metavar="VERSION",
                          help="only if champion is still this version")
    rollback.set_defaults(handler=_rollback)

    trust = actions.add_parser(
        "trust", help="record the SHA-256 of a hand-registered version's files you reviewed")
    _common(trust)
    trust.add_argument("version", help="the version whose files you reviewed")
    trust.add_argument("--reason", required=True, help="what was reviewed, for the record")
    trust.set_defaults(handler=_trust)
    _add_card(actions)
    _add_reproduce(actions)


def _add_card(actions: argparse._SubParsersAction) -> None:
    from pathlib import Path

    card = actions.add_parser("card", help="print a version's model card (default: the champion)")
    _common(card)
    card.add_argument("version", nargs="?", help="the version (default: the champion)")
    card.add_argument("--html", type=Path, metavar="OUT", help="also write the card as HTML here")
    card.set_defaults(handler=_card)


def _add_reproduce(actions: argparse._SubParsersAction) -> None:
    # The default tolerance is core.reproduce's (1e-09), read when the command runs: importing
    # that module here would make every --help import dataclasses and inspect.
    reproduce = actions.add_parser(
        "reproduce", help="retrain a version from its records and compare; registers nothing",
        description="Exit code 0: the metrics match; 1: they differ; 2: the version cannot be "
        "reproduced (its data changed or is gone, or nothing was recorded).")
    _common(reproduce)
    reproduce.add_argument("version", help="the version to rebuild")
    reproduce.add_argument("--tolerance", type=float,
                           help="largest metric difference that still matches (1e-09)")
    reproduce.set_defaults(handler=_reproduce)
