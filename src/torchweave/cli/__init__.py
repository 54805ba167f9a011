"""Command-line entry points (``python -m torchweave.cli.demo``)."""

__all__: list[str] = []
