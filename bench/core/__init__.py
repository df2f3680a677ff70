"""The bottom layer: what every other part of AUGen-Bench agrees on, with no imports from the rest of `bench`.

  errors    the project's error types (`DataError` names a file and row; `UsageError` a wrong command or option)
  registry  one generic `Registry` and the registries of generators, judges, metrics, recognizers, readers
  protocol  typed protocols (dataclasses per section), parsed and checked in one place, and the one hash
  results   the results JSON schema: metric entries, writing, reading, plain and markdown tables
  paths     where things live: package data (protocols, paper tables), the user's cache and workspace
"""
