"""Data contracts: the AU vocabulary (`aus`), the SampleSet format (`sampleset`; what an opened set keeps:
`setindex`), readers for real datasets and tool outputs (`datasets`), and hostile-input helpers (`safeio`).
Imports nothing else of `bench`.
"""
