"""Developer tools, outside the library's layers: envcheck (no torchvision, pinned torch), browsercheck (headless
Chromium checks the HTML leaderboard), benchreport (pytest-benchmark JSON -> BENCH.md), baselines (clean-fid and
other independent implementations the tests and benchmarks compare with)."""
