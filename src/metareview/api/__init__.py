"""The R-style entry points (metagen, metaprop, ... and metaanalysis), their result type and the batch engine.
"""

__all__: list[str] = []
