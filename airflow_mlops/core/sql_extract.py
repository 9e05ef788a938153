"""Landing a SQL source's rows as a file, streamed: memory holds one chunk, never the result.

Rows come through a server-side cursor in chunks and are appended to a Parquet file (one row
group per chunk) or a CSV file, written through a temporary sibling and renamed, so a reader
never sees half a file and a re-run replaces it whole. With ``max_rows``, a seeded sample is
drawn in the database (:meth:`SqlSource.sample_select`) and only the sample is transferred.
"""

from __future__ import annotations

import uuid
from typing import IO, TYPE_CHECKING

from airflow_mlops.core.errors import DataError
from airflow_mlops.core.io import StoragePath, as_path, data_format, short
from airflow_mlops.core.sql_sources import SqlSource, SqlSourceError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

CHUNK_ROWS = 50_000


def _arrow(chunk: pd.DataFrame, schema: pa.Schema | None, label: str) -> pa.Table:
    """The chunk as Arrow, in the first chunk's schema (a column all null there adapts)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(chunk, preserve_index=False)
    if schema is None or table.schema.equals(schema):
        return table
    for name, have in zip(table.schema.names, table.schema.types, strict=True):
        want = schema.field(name).type
        if have != want and not pa.types.is_null(have):
            try:
                table = table.set_column(table.schema.get_field_index(name), name,
                                         table[name].cast(want))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise SqlSourceError(f"{label}: column {name!r} holds {have} values after "
                                     f"earlier rows of type {want}; cast it in the query"
                                     ) from None
    return table.cast(schema)


def _first_schema(chunk: pd.DataFrame, label: str) -> pa.Schema:
    import pyarrow as pa

    schema = pa.Table.from_pandas(chunk, preserve_index=False).schema
    nulls = [f.name for f in schema if pa.types.is_null(f.type)]
    if nulls:  # no type to write yet: ask for one rather than guess
        raise SqlSourceError(f"{label}: column(s) {', '.join(map(repr, nulls))} are null in "
                             "the first rows, so their type is unknown; cast them in the query")
    return schema


def _write_chunks(chunks, handle: IO[bytes], kind: str, label: str) -> int:
    import pyarrow.parquet as pq

    rows, writer = 0, None
    try:
        for chunk in chunks:
            if chunk.empty:
                continue
            if kind == "csv":
                chunk.to_csv(handle, index=False, header=rows == 0)
            else:
                if writer is None:
                    writer = pq.ParquetWriter(handle, _first_schema(chunk, label))
                writer.write_table(_arrow(chunk, writer.schema, label))
            rows += len(chunk.index)
    finally:
        if writer is not None:
            writer.close()
    return rows


def land_rows(source: SqlSource, location: str | StoragePath, *, max_rows: int | None = None,
              seed: int = 0, key_column: str | None = None, chunk_rows: int = CHUNK_ROWS
              ) -> dict:
    """Stream ``source``'s rows (or a seeded sample of ``max_rows``) to CSV or Parquet.

    :return: ``{"rows": written, "source_rows": rows of the source (when sampled)}``.
    :raises SqlSourceError: the query fails, returns no rows or changes a column's type.
    :raises DataError: the file cannot be written.
    """
    path = as_path(location)
    kind = data_format(path, str(location))
    outcome: dict = {}
    sql = source.select()
    if max_rows is not None:
        outcome["source_rows"] = rows = source.count()
        sql = source.sample_select(max_rows, seed, rows, key_column)
    partial = path.parent / f".{path.name}.{uuid.uuid4().hex}.partial"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as handle:
            written = _write_chunks(source.chunks(sql, chunk_rows), handle, kind, source.name)
        if not written:
            raise SqlSourceError(f"{source.name}: data set has no rows")
        partial.rename(path)
    except OSError as exc:
        raise DataError(f"{location}: cannot be written: {short(exc)}") from None
    finally:
        if partial.exists():
            partial.unlink()
    return {"rows": written, **outcome}
