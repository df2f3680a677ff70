"""Publishing: what turns scores into filed results, rankings and reports.

  submit       check, score and file a submission (a SampleSet folder or tar, or generator:NAME)
  leaderboard  rank the filed results of one protocol hash (headline metrics from the metric registry)
  report       the benchmark report of a protocol (markdown, HTML, figures)
  refreport    reports on the reference generators (VAE ceiling, controls-vs-reference tables)
  papers       the papers' tables with our values beside (paper_tables/*.yaml)
  ablation     SynFER's ablation, each row a registered generator scored by the harness
"""
