"""The delivery report (--report): one self-contained HTML page of how a backfill went.

    data.report_data(summary, run, tally, dead_letters) -> a plain dict (the page's every figure)
    page.render(data) -> the HTML text (inline CSS and SVG: no script, no request to any host)
    output.build_page(...), output.write_report(path, html)   gathered at the end; local or gs://

Rendering is plain string building from the standard library: the job's process does it once at
the end of a run, and Dataflow's workers never import it. May import transforms.common,
transforms.outputs, transforms.delivery and the version in pipeline; never a stage, nor the
process machinery.
"""
