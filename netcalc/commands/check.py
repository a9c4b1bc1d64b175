"""`netcalc check`: a spec against its budget, for CI. Exit 0 within budget, 1 over it, 2 for bad input."""

from __future__ import annotations

import click

from netcalc.analysis.analyze import analyze_network
from netcalc.commands.options import analysis_options, format_option, load_spec, terminal_renderers
from netcalc.errors import Location, one_line
from netcalc.shapes import Shape

EXIT_OVER_BUDGET = 1  # also when a limit cannot be settled: its figure is only a lower bound


@click.command()
@click.argument("spec")
@click.option(
    "--budget",
    "budget_path",
    metavar="BUDGET.yaml",
    help="the budget file (it wins over a `budget:` in the spec); see docs/budgets.md",
)
@analysis_options(optimizer=True)
@format_option(("text", "json", "github", "junit"), "text")
@click.option("--strict", is_flag=True, help="treat input pixels left unread by a stride as an error")
@click.pass_context
def check(
    ctx: click.Context,
    spec: str,
    budget_path: str | None,
    input_shape: Shape | None,
    batch: int,
    dtype: str,
    optimizer: str,
    fmt: str,
    strict: bool,
) -> None:
    """Check SPEC against a budget of parameters, MACs, FLOPs and memory: in total, per layer and for layers
    matched by name. Prints every violation (or the headroom left); exits 1 when over budget.

    --format github prints workflow annotations at the offending layers' lines; --format junit a JUnit XML
    report.
    """
    from netcalc.analysis.budget import budget_of
    from netcalc.analysis.budget import check as check_report
    from netcalc.render.check import RENDERERS

    network = load_spec(spec, input_shape=input_shape)
    budget = budget_of(network, budget_path)
    report = analyze_network(network, batch=batch, dtype=dtype, strict=strict, optimizer=optimizer)
    result = check_report(report, budget)
    if report.totals.partial:
        unknown = ", ".join(row.name for row in report.layers if row.partial)
        click.echo(f"netcalc: warning: totals are partial (lower bounds): layers of unknown cost: {unknown}", err=True)
    for limit in result.unmatched:
        where = Location(limit.file, limit.line, f'layers["{limit.pattern}"]')
        click.echo(one_line(f"netcalc: warning: {where}: the glob matches no layer of {report.name}"), err=True)
    click.echo(terminal_renderers(RENDERERS, "text")[fmt](result), nl=False)
    if not result.passed:
        ctx.exit(EXIT_OVER_BUDGET)
