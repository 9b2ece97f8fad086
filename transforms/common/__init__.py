"""Shared by every package: strict JSON (jsonio), counter names and the local tally (counters),
output tags (tags), event times as instants (timestamps), input and output paths (paths), the
stop request (stopping), cutting sequences into batches (batches) and the files a local run's
workers share (worker_files). Imports
nothing else of the project."""
