"""Packaging for segment-to-gainsight.

The same file installs the job locally (`./run.sh` does `pip install -e .[test]`) and ships it to
Dataflow workers (`--setup_file ./setup.py`).
"""
import re
from pathlib import Path

import setuptools

VERSION = re.search(r'^__version__ = "([^"]+)"$',
                    (Path(__file__).resolve().parent / "pipeline" / "__init__.py").read_text(),
                    re.M).group(1)

setuptools.setup(
    name="segment-to-gainsight",
    version=VERSION,
    description="Apache Beam job that delivers Segment Track/Identify/Group calls to Gainsight.",
    # Apache Beam 2.77 publishes wheels for 3.10 to 3.14; 3.10 to 3.13 are tested here (docs/development.md).
    # Dataflow workers must run the launching Python's minor version (deploy/Dockerfile pins 3.11).
    python_requires=">=3.10,<3.14",
    packages=setuptools.find_packages(include=["pipeline", "pipeline.*", "transforms", "transforms.*", "sandbox", "sandbox.*"]),
    install_requires=[
        "apache-beam[gcp]==2.77.0",
        "requests>=2.32,<3",
        "orjson>=3.10,<4",
        # --setup_file: Beam builds the job's sdist with setuptools, which venvs of Python 3.12
        # and later no longer contain.
        "setuptools",
    ],
    entry_points={"console_scripts": ["segment-to-gainsight = pipeline.__main__:main"]},
    extras_require={
        # The sandbox (a local Gainsight stand-in) is only needed for the demo, tests and benchmarks.
        "sandbox": ["aiohttp>=3.9,<4"],
        "test": ["aiohttp>=3.9,<4", "pytest>=8", "hypothesis>=6.100", "gcp-storage-emulator>=2024.8"],
    },
)
