"""One module per section of bench/scenarios.toml (its name, with - as _): run(ctx) measures
and validates into ctx.figures; rows(view) renders the section's Markdown rows from a JSON
result."""
import importlib

# redis-cluster is the distributed-mode section on another Redis: the same code.
_SHARED = {"redis-cluster": "redis_mode"}


def module(name):
    return importlib.import_module("sections." + _SHARED.get(name, name.replace("-", "_")))
