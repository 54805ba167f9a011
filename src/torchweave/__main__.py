"""``python -m torchweave``: the command line (see :mod:`torchweave.cli.main`)."""

from torchweave.cli.main import main

if __name__ == "__main__":
    main()
