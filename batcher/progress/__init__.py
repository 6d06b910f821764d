"""Live progress: ``model`` (numbers and text, no I/O), ``views`` (rich / plain / quiet) and
``loop`` (feeding a view from a running pipeline)."""
