"""Developer tools, outside the library's layers (they may import anything; nothing in bench imports them):
envcheck (no torchvision, pinned torch), browsercheck (headless Chromium checks the HTML leaderboard), benchreport
(pytest-benchmark JSON -> BENCH.md), baselines (clean-fid and other independent implementations the tests and
benchmarks compare with), and the writers of generated text: readme (README.md's blocks; readme_sources,
readme_references and markers under it) and glossary (docs/metrics.md, docs/leaderboard.md)."""
