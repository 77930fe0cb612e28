"""The ``certify`` command line: argument handling, output and exit codes only.

- :mod:`certify.cli.main`: ``main(argv)``, the console entry point: dispatch, exit codes, closed
  pipes, output files removed when a command fails.
- :mod:`certify.cli.parser`: ``build_parser()``, assembled from the command modules.
- :mod:`certify.cli.options`: the option types (positive integers, ranges, output paths) and the
  options several commands share (budgets, ``--json``, ``--debug``).
- :mod:`certify.cli.output`: printing an answer (lines or one JSON object), progress, output files.
- one module per command, each with ``add_parser(sub)`` and ``run(args)``: :mod:`.construct`,
  :mod:`.construct_seq`, :mod:`.evaluate` (``certify eval``), :mod:`.estimate`, :mod:`.prove`,
  :mod:`.check`, :mod:`.claim`, :mod:`.bound`, :mod:`.demo`, :mod:`.audit`.

``main`` is not re-exported here: ``certify.cli.main`` names the module (``python -m
certify.cli.main``, ``from certify.cli.main import main``), and a package attribute of the same
name would shadow it.
"""
