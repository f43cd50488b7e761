"""The ML run kit shared by quality/, legan/ and legan/augment/: one of each of the things every
trainer needs, free of Django and of the models themselves.

    runkit.runs         numbered run folders, config.json, stats.jsonl
    runkit.checkpoints  checkpoint names, atomic saves, pruning, RNG capture and restore
    runkit.device       device selection ("auto", "cpu", "cuda:N")
    runkit.loop         IterationLoop, TrainingStopped, TrainResult, StatsMeter: the loop's scaffolding
    runkit.provenance   what a result records of where it came from: commit, machine
    runkit.contract     a model's input contract (size, colour, normalisation, mask), saved in
                        every checkpoint, and the one image -> tensor conversion that honours it
"""
