"""Searches that pick part of a pipeline by measuring candidates on the validation split.

`edgekd.search.recipe`: the distillation recipe of one student (temperature, loss weights,
the loss itself), a cached stage of its own. The name leaves room for a student search
(sizing the architecture for a latency budget) beside it.
"""
