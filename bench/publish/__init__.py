"""Publishing: what turns scores into filed results, rankings and reports.

  submit       check, score and file a submission (a SampleSet folder or tar, or generator:NAME)
  leaderboard  rank the filed results of one protocol hash (headline metrics from the metric registry)
  significance paired tests between adjacent ranks; Holm's correction
  taskboard    one ranking per task (world-v3 on)
  facesboard   the board of faces protocols (by training value on the headline's real dataset)
  report       the benchmark report of a protocol (markdown, HTML, figures); facesreport: that of a faces protocol
  refreport    reports on the reference generators (VAE ceiling, controls-vs-reference tables)
  papers       the papers' tables with our values beside (paper_tables/*.yaml)
  frame        results as pandas DataFrames (`bench.results_frame`, `bench.samples_frame`)
  throughput   benchmark rows for BENCH.md and the README

Boards and reports only: the studies of the board are bench.studies (`augen study NAME`), README's and the docs'
writers are bench.devtools (readme, glossary).
"""
