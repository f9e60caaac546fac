"""facm_bridge: the FACM playground's DiT, objectives, optimizer and checkpoints in PyTorch.

A companion for leaving the tab: a run trained in the browser or the Node CLI continues here (one
process or `torchrun` on N GPUs) and comes back as the same safetensors file. The math is
facm-math.md's; every piece mirrors a TypeScript module of the project (named in each file).
"""

__version__ = "0.1.0"
