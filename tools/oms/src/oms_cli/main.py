import typer

app = typer.Typer(help="Operate the OMS locally.")
