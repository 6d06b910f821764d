"""The command line: argv + environment -> Settings, the main run, and the subcommands.

* ``main``: dispatch, run, errors -> "Error: ..." + exit code
* ``options``: the main command's options and how they become ``Settings``
* ``dryrun``: ``--dry-run``, the plan with no network
* ``report_cmd``, ``manifest_cmd``, ``retry_cmd``: ``batcher report|manifest|retry``
"""
