"""Presentation-attack detection: published anti-spoofing networks rebuilt in PyTorch, checked against the originals."""
