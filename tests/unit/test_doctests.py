"""The examples in docstrings show the data; they run here, so they stay true."""
import doctest
import importlib
import pkgutil

import pytest

import pipeline
import sandbox
import transforms

MODULES = sorted({module.name
                  for package in (transforms, pipeline, sandbox)
                  for module in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
                  if not module.name.endswith(".__main__")} | {"bench.__main__", "bench.baseline", "bench.generate", "bench.streaming_latency"})


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0


def test_the_examples_are_found():
    examples = sum(doctest.testmod(importlib.import_module(name)).attempted for name in MODULES)
    assert examples >= 20
