"""The simulated world: users, follows, posting and viewing habits, and the traffic they make.

One world generator, several uses:
- `world`: users, the power-law follow graph, close friends, posting habits; its graph as events.
- `activity` (with `viewing`, `fates`, `churn`, `schedule`, `stories`, `content`): the world's
  activity as a discrete-event simulation; `config` holds what a run depends on, `simulate` the
  names `stories simulate` and the benchmark use.
- `traffic`: a small world's dense engagement for the reliability suite, with what the read
  models must show after it.
- `sample`: a hand-written world and a fixed script, for the demo and the integration tests.
- `emitter` sends events at a rate with a progress bar or writes them with `jsonl`.
"""
