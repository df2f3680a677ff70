"""The pipeline: what runs a generator under a protocol end to end, above generation and scoring.

  runner    protocol x generator -> sharded, resumable generation -> judge -> score -> results.json; used by
            `augen run`, `augen submit` and the studies
  runopts   the command-line arguments of `augen run` and of its --workers helper processes, and the shard spec
            (kept apart so building the `augen` parser imports nothing heavy)
"""
