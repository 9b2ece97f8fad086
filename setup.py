"""Packaging for segment-to-gainsight.

The same file installs the job locally (`./run.sh` does `pip install -e .[test]`) and ships it to
Dataflow workers (`--setup_file ./setup.py`).
"""
import setuptools

setuptools.setup(
    name="segment-to-gainsight",
    version="0.1.0",
    description="Apache Beam job that delivers Segment Track/Identify/Group calls to Gainsight.",
    python_requires=">=3.11,<3.12",
    packages=setuptools.find_packages(include=["pipeline", "pipeline.*", "transforms", "transforms.*", "sandbox", "sandbox.*"]),
    install_requires=[
        "apache-beam[gcp]==2.77.0",
        "requests>=2.32,<3",
        "orjson>=3.10,<4",
    ],
    extras_require={
        # The sandbox (a local Gainsight stand-in) is only needed for the demo, tests and benchmarks.
        "sandbox": ["aiohttp>=3.9,<4"],
        "test": ["aiohttp>=3.9,<4", "pytest>=8", "hypothesis>=6.100", "gcp-storage-emulator>=2024.8"],
    },
)
