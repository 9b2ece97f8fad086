"""Worker processes started before the CLI imports Beam, so that their own import of Beam (0.8 s
each) runs while the job's process imports it and builds the graph, not after.

    warm = WarmWorkers.start(2)        # pipeline.__main__, from local_workers.planned_workers()
    warm.attach_command()              # the local runner's worker command (pipeline.main.local_runner)
    warm.close()                       # the run has ended (or will not use them): the rest are stopped

Each warm worker (`python -m pipeline.processes.worker --warm DIR/worker-N`) imports Beam's harness and
waits on a Unix socket of its own, marked by the file DIR/worker-N in a directory of this run.
The runner starts each of its workers with `python -m pipeline.processes.worker_attach DIR`, a small
process that takes one waiting worker (renames its marker), hands it its environment (the
runner's addresses, the options), waits for it, then ends with its exit code; with none left
it becomes a plain worker itself. A warm worker whose job's process is gone ends too.
"""
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from transforms.shuffle.spill import run_dir_prefix


class WarmWorkers:
    def __init__(self, directory: str, processes: list):
        self.directory = directory
        self._processes = processes

    @classmethod
    def start(cls, count: int) -> "WarmWorkers":
        # named like the run's spill directory: if the job is killed, the next run removes it
        directory = tempfile.mkdtemp(prefix=f"{run_dir_prefix()}warm-")
        processes = [subprocess.Popen([sys.executable, "-m", "pipeline.processes.worker", "--warm",
                                       os.path.join(directory, f"worker-{n}")])
                     for n in range(count)]
        return cls(directory, processes)

    def attach_command(self) -> str:
        """The shell command that starts one of the runner's workers on a warm one."""
        return (f"exec {shlex.quote(sys.executable)} -m pipeline.processes.worker_attach "
                f"{shlex.quote(self.directory)}")

    def close(self) -> None:
        """Stops the warm workers no runner worker took (and any still running), removes the
        directory. Idempotent."""
        for process in self._processes:
            if process.poll() is None:
                process.kill()
        for process in self._processes:
            process.wait()
        self._processes = []
        shutil.rmtree(self.directory, ignore_errors=True)
