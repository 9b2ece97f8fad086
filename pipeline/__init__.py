"""segment-to-gainsight: the job's options, graph, summary and entry point (`python -m pipeline`)."""
