"""Helpers for TestPipeline tests of one composite at a time, on the local FnApiRunner."""
import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.summary import counter_values


class Run:
    """Builds a pipeline, runs it, and exposes the job's counters afterwards."""

    def __init__(self):
        self.pipeline = beam.Pipeline(options=PipelineOptions(runner="FnApiRunner"))
        self.counters = {}

    def finish(self):
        result = self.pipeline.run()
        result.wait_until_finish()
        self.counters = counter_values(result)
        return self


@pytest.fixture
def run():
    return Run()
