"""Imported at start-up by every Python process the tests launch (tests/conftest.py puts this
folder on PYTHONPATH): like the test processes themselves, MMEngine logs, dumps and checkpoints
configs without formatting them with yapf (seconds per call; the text is the same Python)."""
try:
    import mmengine.config.config as _mmengine_config
except ImportError:  # a process without MMEngine
    pass
else:
    _mmengine_config.FormatCode = lambda text, **kwargs: (text, False)
