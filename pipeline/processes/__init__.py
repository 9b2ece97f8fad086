"""The local runner's process machinery: how many worker processes a local backfill runs on
(local_workers), workers started before Beam is imported (warm_workers, worker_attach), the worker
entry point (worker) and memory readings (memory). May import transforms.common and
transforms.shuffle (the run directory's name) and transforms.delivery (the open outage, for the
workers' counts); never a stage."""
