"""Batched PyTorch neuromusculoskeletal engine (planar)."""
