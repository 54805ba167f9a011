"""Benchmarks of torchweave against the libraries it builds on.

Run them all with ``python -m bench`` (or ``make bench``) from the repository root;
``python -m bench resample_overhead`` runs only the named modules. Each module defines
``main()``, which prints its own table.
"""
