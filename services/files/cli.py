"""``qf data`` (what is on disk, ``--compact`` to bring the archive up to date) and ``qf export``.
Light imports only here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[
    Path | None, typer.Option(help="Data folder to look at (default: QF_DATA_DIR, else ./data).")
]


def _folder(data_dir: Path | None) -> Path:
    if data_dir is not None:
        return data_dir
    from quantumflux.bus.config import BusSettings, check_environment

    check_environment()
    return BusSettings().data_dir


def data(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    compact: Annotated[
        bool, typer.Option("--compact", help="First bring the fast archive up to date for every series.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Show what is on disk per asset and timeframe: files, rows, first and last time, gaps."""
    from quantumflux.files.inventory import main

    if compact:
        from quantumflux.files.export import compact_all

        folder = _folder(data_dir)
        series, files = compact_all(folder)
        typer.echo(f"archive up to date: {files} closed files of {series} series", err=True)
        data_dir = folder
    raise typer.Exit(main(as_json=as_json, data_dir=data_dir))


def export(
    dataset: Annotated[
        str, typer.Argument(help="A dataset id (qf data, GET /datasets).", show_default=False)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    data_dir: DataDir = None,
) -> None:
    """Write a dataset's candles to one Parquet or CSV file, for pandas, Excel or any other tool."""
    from quantumflux.files.cells import LoadError
    from quantumflux.files.datasets import DatasetError
    from quantumflux.files.export import export as write

    if fmt not in ("parquet", "csv"):
        raise typer.BadParameter("use parquet or csv", param_hint="--format")
    try:
        rows = write(_folder(data_dir), dataset, fmt, out)  # type: ignore[arg-type]
    except (DatasetError, LoadError) as exc:
        typer.echo(f"export: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"export: cannot write {out}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{rows} candles of {dataset} written to {out}", err=True)


# ``data`` replaces the older ``qf data`` of the persistence package (registered after it).
COMMANDS = {"data": data, "export": export}
