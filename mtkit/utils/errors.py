"""Exception types of mtkit, and the checks that raise them.

Every configuration mistake (an unknown key, a value outside its choices or range, data that
does not match the config) raises :class:`ConfigKeyError`. It is both a ``ValueError`` and a
``KeyError``, so ``except ValueError`` and ``except KeyError`` both catch it.
"""
from typing import Any, Iterable


class ConfigKeyError(ValueError, KeyError):
    """A configuration mistake: a missing or unknown config key / data field, or a value that
    is not one of its choices. The message names the key, what was expected and what was
    found; unlike KeyError's, it prints as is (KeyError shows the repr, which escapes every
    quote in a long explanation)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def check_choice(what: str, value: Any, choices: Iterable) -> None:
    """Raise :class:`ConfigKeyError` ``"{what} must be one of {choices}, got {value!r}"`` when
    ``value`` is not among ``choices``: the one check of every enumerated setting."""
    choices = tuple(choices)
    if value not in choices:
        raise ConfigKeyError(f'{what} must be one of {choices}, got {value!r}')


def check_kwargs(what: str, fn, kwargs: dict) -> None:
    """Raise :class:`ConfigKeyError` naming the keys of ``kwargs`` that ``fn`` does not take
    (and the ones it does), before calling it: a config typo gets a message, not a TypeError
    from deep inside a constructor."""
    import inspect
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ConfigKeyError(f'{what}: unknown key(s) {unknown}; it accepts {accepted}')


def check_cfg(name: str, cfg, defaults: dict) -> dict:
    """Merge ``cfg`` into ``defaults``; an unknown key is an error that lists the valid ones."""
    cfg = dict(cfg or {})
    unknown = sorted(set(cfg) - set(defaults))
    if unknown:
        raise ConfigKeyError(f'{name}: unknown key(s) {unknown}; valid keys are {sorted(defaults)}')
    return dict(defaults, **cfg)


def check_shorthands(name: str, cfg, full_key: str, shorthands) -> None:
    """Raise :class:`ConfigKeyError` when ``cfg`` gives ``full_key`` together with any of the
    ``shorthands`` that only build its default (they would be silently ignored). None counts
    as not given, so a config inheriting a shorthand can switch it off."""
    cfg = dict(cfg or {})
    given = [k for k in shorthands if cfg.get(k) is not None]
    if cfg.get(full_key) is not None and given:
        raise ConfigKeyError(f'{name}: {given} only build the default {full_key} and are '
                             f'ignored when {full_key} is given; put the threshold into '
                             f'{full_key} (e.g. dict(type="ScoreThreshold", thr=...)) and set '
                             f'{given} to None')
